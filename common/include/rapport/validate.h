/* validate.h - generic checks of a decoded protobuf-c message against its descriptor,
 * applied by the skeleton to every request body before a handler sees it:
 *   - every string is valid UTF-8 and at most max_string bytes;
 *   - every repeated field has at most max_repeated elements;
 *   - every enum value is one the descriptor declares;
 *   - nesting is at most 8 deep;
 *   - no field the descriptor does not declare (unknown fields), at any depth.
 * The first violation is reported with its field path ("contacts[2].email").
 */
#ifndef RAPPORT_VALIDATE_H
#define RAPPORT_VALIDATE_H
#include <stddef.h>
#include <protobuf-c/protobuf-c.h>

typedef struct {
    size_t max_string;      /* default 4096 */
    size_t max_repeated;    /* default 1000 */
} rp_validate_limits_t;

/* rp_validate - 0 when m passes; else -1 with path (cap bytes) and why filled. */
int rp_validate(const ProtobufCMessage *m, const rp_validate_limits_t *limits,
                char *path, size_t path_cap, char *why, size_t why_cap);

#endif
