/* status.c - names of the gRPC status codes that every reply carries
 * (DESIGN.md §3), for logs, the CLI and JSON output, and back again.
 */
#include "rapport/status.h"

#include <stddef.h>
#include <strings.h>

/* Indexed by code; the numbering is gRPC's and rapport.v1.Code's. */
static const char *const s_names[] = {
    [RP_OK] = "OK",
    [RP_CANCELLED] = "CANCELLED",
    [RP_UNKNOWN] = "UNKNOWN",
    [RP_INVALID_ARGUMENT] = "INVALID_ARGUMENT",
    [RP_DEADLINE_EXCEEDED] = "DEADLINE_EXCEEDED",
    [RP_NOT_FOUND] = "NOT_FOUND",
    [RP_ALREADY_EXISTS] = "ALREADY_EXISTS",
    [RP_PERMISSION_DENIED] = "PERMISSION_DENIED",
    [RP_RESOURCE_EXHAUSTED] = "RESOURCE_EXHAUSTED",
    [RP_FAILED_PRECONDITION] = "FAILED_PRECONDITION",
    [RP_ABORTED] = "ABORTED",
    [RP_OUT_OF_RANGE] = "OUT_OF_RANGE",
    [RP_UNIMPLEMENTED] = "UNIMPLEMENTED",
    [RP_INTERNAL] = "INTERNAL",
    [RP_UNAVAILABLE] = "UNAVAILABLE",
    [RP_DATA_LOSS] = "DATA_LOSS",
    [RP_UNAUTHENTICATED] = "UNAUTHENTICATED",
};

#define S_NCODES ((int)(sizeof s_names / sizeof s_names[0]))

const char *rp_code_name(int code)
{
    if (code < 0 || code >= S_NCODES)
        return s_names[RP_UNKNOWN];
    return s_names[code];
}

/* rp_code_parse - case-insensitive, so "not_found" from a person works too. */
int rp_code_parse(const char *name)
{
    if (!name)
        return -1;
    for (int i = 0; i < S_NCODES; i++) {
        if (strcasecmp(name, s_names[i]) == 0)
            return i;
    }
    return -1;
}
