/* services.h - the suite's services and their default endpoints, as data.
 * Service <name> binds RPC on tcp://127.0.0.1:<rpc_port>, PUB on <rpc_port+1> and
 * ops HTTP on <rpc_port+2> unless RAPPORT_BIND / RAPPORT_PUB_BIND / RAPPORT_HTTP say
 * otherwise. Clients find a service through RAPPORT_<NAME>_ENDPOINT and
 * RAPPORT_<NAME>_PUB_ENDPOINT (upper-case name), else the defaults.
 */
#ifndef RAPPORT_SERVICES_H
#define RAPPORT_SERVICES_H
#include <stddef.h>

typedef struct {
    const char *name;       /* "leads" */
    const char *binary;     /* "rapport-leads" */
    int rpc_port;           /* 7110 */
} rp_service_info_t;

/* rp_services - the table, NULL-name terminated. */
const rp_service_info_t *rp_services(void);
const rp_service_info_t *rp_service_find(const char *name);
/* rp_service_endpoint - the RPC (pub=0) or PUB (pub=1) endpoint clients should use,
 * into out. 0, or -1 for an unknown service. */
int rp_service_endpoint(const char *name, int pub, char *out, size_t cap);

#endif
