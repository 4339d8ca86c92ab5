/* cli_audit.c - `rapport audit verify`: page through a service's audit records
 * (System/Audit) and check the BLAKE2b hash chain with rp_audit_check (audit.h).
 * A record changed, removed or inserted anywhere breaks the chain at it.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include "cli.h"
#include "rapport/audit.h"
#include "rapport/services.h"
#include "rapport/sys/v1/system.pb-c.h"

static const cli_flag_t s_verify_flags[] = {
    { "service", "NAME", "the service whose chain to verify (default leads)", false },
    { NULL, NULL, NULL, false }
};

static int s_verify(cli_t *cli, const cli_args_t *a)
{
    const char *service = cli_flag(a, "service") ? cli_flag(a, "service") : "leads";
    if (!rp_service_find(service))
        return cli_usage_error(a, "--service: unknown service '%s'", service);
    int rc = cli_get_token(cli, true);
    if (rc)
        return rc;
    rp_client_t *c = NULL;
    if ((rc = cli_connect(cli, service, &c)) != 0)
        return rc;

    uint8_t prev[RP_AUDIT_HASH];
    memset(prev, 0, sizeof prev);
    uint64_t expect = 1, checked = 0, broken = 0, last_seq = 0;
    for (;;) {
        Rapport__Sys__V1__AuditRequest req = RAPPORT__SYS__V1__AUDIT_REQUEST__INIT;
        req.from_seq = expect;
        Rapport__Sys__V1__AuditReply *rep = NULL;
        rc = cli_call(cli, c, NULL, "rapport.sys.v1.System/Audit", &req.base,
                      &rapport__sys__v1__audit_reply__descriptor, (ProtobufCMessage **) &rep);
        if (rc)
            break;
        if (rep->last_seq > last_seq)
            last_seq = rep->last_seq;
        size_t n = rep->n_records;
        if (n) {
            broken = rp_audit_check(rep->records, n, expect, prev);
            if (broken == 0) {
                checked += n;
                expect = rep->records[n - 1]->seq + 1;
            }
        }
        rapport__sys__v1__audit_reply__free_unpacked(rep, NULL);
        /* A hole (the next page not starting at expect) fails rp_audit_check. */
        if (broken || n == 0 || expect > last_seq)
            break;
    }
    rp_client_destroy(&c);
    if (rc)
        return rc;
    if (!broken && checked < last_seq)
        broken = expect;        /* records are missing before the last seq */

    if (cli->json) {
        json_t *j = json_pack("{s:s,s:b,s:I}", "service", service, "intact", !broken, "records", (json_int_t) checked);
        if (broken)
            json_object_set_new(j, "broken_at", json_integer((json_int_t) broken));
        cli_print_json(j);
        json_decref(j);
    } else if (broken) {
        printf("audit chain broken at seq %" PRIu64 "\n", broken);
    } else {
        printf("audit chain intact: %" PRIu64 " records\n", checked);
    }
    return broken ? CLI_EXIT_SERVICE : CLI_EXIT_OK;
}

const cli_cmd_t cli_audit_cmds[] = {
    { "verify", "", "check a service's audit hash chain from its first record to its last",
      s_verify_flags, 0, 0, s_verify,
      "Prints 'audit chain intact: N records' (exit 0) or 'audit chain broken at seq N' (exit 1).\n"
      "  Needs a token with audit.read." },
    { NULL, NULL, NULL, NULL, 0, 0, NULL, NULL }
};
