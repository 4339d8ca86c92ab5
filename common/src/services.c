/* services.c - the suite's services and where to find them, as data
 * (DESIGN.md §1). Each service takes three ports from its base: RPC on
 * rpc_port, PUB on rpc_port+1 and ops HTTP on rpc_port+2. Clients ask
 * rp_service_endpoint, which honours RAPPORT_<NAME>_ENDPOINT and
 * RAPPORT_<NAME>_PUB_ENDPOINT so a deployment can point them elsewhere.
 */
#include "rapport/services.h"
#include "rapport/config.h"

#include <assert.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>

static const rp_service_info_t s_services[] = {
    { "identity",  "rapport-identity",  7100 },
    { "leads",     "rapport-leads",     7110 },
    { "accounts",  "rapport-accounts",  7120 },
    { "contracts", "rapport-contracts", 7130 },
    { "payments",  "rapport-payments",  7140 },
    { "loyalty",   "rapport-loyalty",   7150 },
    { "intel",     "rapport-intel",     7160 },
    { "reports",   "rapport-reports",   7170 },
    { NULL, NULL, 0 },
};

const rp_service_info_t *rp_services(void)
{
    return s_services;
}

const rp_service_info_t *rp_service_find(const char *name)
{
    if (!name)
        return NULL;
    for (const rp_service_info_t *s = s_services; s->name; s++) {
        if (strcmp(s->name, name) == 0)
            return s;
    }
    return NULL;
}

int rp_service_endpoint(const char *name, int pub, char *out, size_t cap)
{
    assert(out || cap == 0);
    const rp_service_info_t *s = rp_service_find(name);
    if (!s)
        return -1;
    char var[64];
    size_t n = 0;
    n += (size_t)snprintf(var, sizeof var, "RAPPORT_");
    for (const char *p = s->name; *p && n + 1 < sizeof var; p++)
        var[n++] = (char)toupper((unsigned char)*p);
    var[n] = '\0';
    snprintf(var + n, sizeof var - n, "%s", pub ? "_PUB_ENDPOINT" : "_ENDPOINT");

    const char *env = rp_config_str(var, NULL);
    int len = env ? snprintf(out, cap, "%s", env)
                  : snprintf(out, cap, "tcp://127.0.0.1:%d", s->rpc_port + (pub ? 1 : 0));
    if (len < 0 || (size_t)len >= cap)
        return -1;
    return 0;
}
