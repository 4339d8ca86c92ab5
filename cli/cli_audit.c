/* cli_audit.c - `rapport audit verify` and `rapport audit show`: page through a
 * service's audit records (System/Audit); verify checks the BLAKE2b hash chain with
 * rp_audit_check (audit.h), where a record changed, removed or inserted anywhere
 * breaks the chain at it; show lists who did what, when, and as whose delegate.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include "cli.h"
#include "rapport/audit.h"
#include "rapport/pbjson.h"
#include "rapport/services.h"
#include "rapport/status.h"
#include "rapport/sys/v1/system.pb-c.h"

static const cli_flag_t s_verify_flags[] = {
    { "service", "NAME", "the service whose chain to verify (default leads)", false },
    { NULL, NULL, NULL, false }
};

static const cli_flag_t s_show_flags[] = {
    { "service", "NAME", "the service whose records to show (default leads)", false },
    { "from", "SEQ", "the first record (default 1)", false },
    { "limit", "N", "at most N records (default 100)", false },
    { "actor", "USER", "only what USER did (also as a delegate)", false },
    { NULL, NULL, NULL, false }
};

/* A page of records handed to s_pages' callback: 0 to go on, 1 to stop. */
typedef int (*s_page_fn)(void *arg, Rapport__Sys__V1__AuditReply *rep);

/* s_pages - System/Audit from seq `from` on, page by page, until the last record
 * or until fn stops. Returns a CLI exit code. */
static int s_pages(cli_t *cli, rp_client_t *c, uint64_t from, s_page_fn fn, void *arg)
{
    for (;;) {
        Rapport__Sys__V1__AuditRequest req = RAPPORT__SYS__V1__AUDIT_REQUEST__INIT;
        req.from_seq = from;
        Rapport__Sys__V1__AuditReply *rep = NULL;
        int rc = cli_call(cli, c, NULL, "rapport.sys.v1.System/Audit", &req.base,
                          &rapport__sys__v1__audit_reply__descriptor, (ProtobufCMessage **) &rep);
        if (rc)
            return rc;
        int stop = fn(arg, rep) || rep->n_records == 0 || rep->next_seq > rep->last_seq;
        from = rep->next_seq;
        rapport__sys__v1__audit_reply__free_unpacked(rep, NULL);
        if (stop)
            return CLI_EXIT_OK;
    }
}

/* s_open - the service named by --service (default leads), connected with a token. */
static int s_open(cli_t *cli, const cli_args_t *a, const char **service, rp_client_t **c)
{
    *service = cli_flag(a, "service") ? cli_flag(a, "service") : "leads";
    if (!rp_service_find(*service))
        return cli_usage_error(a, "--service: unknown service '%s'", *service);
    int rc = cli_get_token(cli, true);
    return rc ? rc : cli_connect(cli, *service, c);
}

typedef struct {
    uint8_t prev[RP_AUDIT_HASH];
    uint64_t expect, checked, broken, last_seq;
} s_verify_t;

static int s_verify_page(void *arg, Rapport__Sys__V1__AuditReply *rep)
{
    s_verify_t *v = arg;
    if (rep->last_seq > v->last_seq)
        v->last_seq = rep->last_seq;
    size_t n = rep->n_records;
    if (n) {
        /* A hole (the page not starting at expect) fails rp_audit_check too. */
        v->broken = rp_audit_check(rep->records, n, v->expect, v->prev);
        if (v->broken == 0) {
            v->checked += n;
            v->expect = rep->records[n - 1]->seq + 1;
        }
    }
    return v->broken != 0;
}

static int s_verify(cli_t *cli, const cli_args_t *a)
{
    const char *service;
    rp_client_t *c = NULL;
    int rc = s_open(cli, a, &service, &c);
    if (rc)
        return rc;
    s_verify_t v = { .expect = 1 };
    rc = s_pages(cli, c, 1, s_verify_page, &v);
    rp_client_destroy(&c);
    if (rc)
        return rc;
    uint64_t broken = v.broken, checked = v.checked;
    if (!broken && checked < v.last_seq)
        broken = v.expect;      /* records are missing before the last seq */

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


typedef struct {
    cli_t *cli;
    const char *actor;
    uint64_t left;
    cli_table_t *table;
    json_t *json;
} s_show_t;

static int s_show_page(void *arg, Rapport__Sys__V1__AuditReply *rep)
{
    s_show_t *sh = arg;
    for (size_t i = 0; i < rep->n_records && sh->left; i++) {
        const Rapport__Sys__V1__AuditRecord *r = rep->records[i];
        if (sh->actor && strcmp(r->actor, sh->actor) != 0 && strcmp(r->on_behalf_of, sh->actor) != 0)
            continue;
        sh->left--;
        if (sh->json) {
            json_t *j = rp_pb_to_json(&r->base);
            json_object_del(j, "prev");         /* chain internals: see audit verify */
            json_object_del(j, "hash");
            json_object_del(j, "digest");
            json_array_append_new(sh->json, j);
            continue;
        }
        char seq[24], when[40];
        snprintf(seq, sizeof seq, "%" PRIu64, r->seq);
        cli_format_time(r->time, when, sizeof when);
        /* OUTCOME: "ok", or a failed request's kept outcome ("login failed: ..."), or
         * its status when it kept none. The code is in --json. */
        const char *outcome = r->code == 0 ? "ok" : r->outcome[0] ? r->outcome : rp_code_name((int) r->code);
        const char *cells[] = { seq, when, r->actor, r->on_behalf_of, r->method, r->subject, outcome,
                                r->request_id };
        cli_table_add(sh->table, cells);
    }
    return sh->left == 0;
}

static int s_show(cli_t *cli, const cli_args_t *a)
{
    const char *service;
    rp_client_t *c = NULL;
    uint64_t from = 1, limit = 100;
    if (cli_flag(a, "from") && cli_parse_u64(cli_flag(a, "from"), &from) != 0)
        return cli_usage_error(a, "--from: must be a record number");
    if (cli_flag(a, "limit") && (cli_parse_u64(cli_flag(a, "limit"), &limit) != 0 || limit == 0))
        return cli_usage_error(a, "--limit: must be a positive number");
    int rc = s_open(cli, a, &service, &c);
    if (rc)
        return rc;
    static const char *const heads[] = { "SEQ", "TIME", "ACTOR", "AS DELEGATE OF", "METHOD",
                                         "SUBJECT", "OUTCOME", "REQUEST" };
    s_show_t sh = { cli, cli_flag(a, "actor"), limit, NULL, NULL };
    if (cli->json)
        sh.json = json_array();
    else
        sh.table = cli_table_new(8, heads);
    rc = s_pages(cli, c, from, s_show_page, &sh);
    rp_client_destroy(&c);
    if (rc == CLI_EXIT_OK) {
        if (sh.json)
            cli_print_json(sh.json);
        else
            cli_table_print(sh.table, stdout);
    }
    if (sh.json)
        json_decref(sh.json);
    cli_table_destroy(&sh.table);
    return rc;
}

const cli_cmd_t cli_audit_cmds[] = {
    { "verify", "", "check a service's audit hash chain from its first record to its last",
      s_verify_flags, 0, 0, s_verify,
      "Prints 'audit chain intact: N records' (exit 0) or 'audit chain broken at seq N' (exit 1).\n"
      "  Needs a token with audit.read." },
    { "show", "", "list who did what, when, and as whose delegate (the audit records)",
      s_show_flags, 0, 0, s_show,
      "Example: rapport audit show --service leads --actor ann --limit 20\n"
      "  Needs a token with audit.read. --json prints the records as JSON." },
    { NULL, NULL, NULL, NULL, 0, 0, NULL, NULL }
};
