/* status.h - gRPC status codes and their names (the numbering of rapport.v1.Code). */
#ifndef RAPPORT_STATUS_H
#define RAPPORT_STATUS_H

typedef enum {
    RP_OK = 0, RP_CANCELLED = 1, RP_UNKNOWN = 2, RP_INVALID_ARGUMENT = 3,
    RP_DEADLINE_EXCEEDED = 4, RP_NOT_FOUND = 5, RP_ALREADY_EXISTS = 6,
    RP_PERMISSION_DENIED = 7, RP_RESOURCE_EXHAUSTED = 8, RP_FAILED_PRECONDITION = 9,
    RP_ABORTED = 10, RP_OUT_OF_RANGE = 11, RP_UNIMPLEMENTED = 12, RP_INTERNAL = 13,
    RP_UNAVAILABLE = 14, RP_DATA_LOSS = 15, RP_UNAUTHENTICATED = 16
} rp_code_t;

/* rp_code_name - "NOT_FOUND"; "UNKNOWN" for out-of-range values. */
const char *rp_code_name(int code);
/* rp_code_parse - the code for a name, or -1. */
int rp_code_parse(const char *name);

#endif
