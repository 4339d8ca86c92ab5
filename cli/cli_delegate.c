/* cli_delegate.c - `rapport delegate add|list|revoke`: the delegation methods of
 * rapport.identity.v1.Identity (Delegate, ListDelegations, RevokeDelegation) as
 * commands, one table on the command engine (cli_engine.c), in the manner of
 * cli_leads.c.
 *
 * --from and --until take a date or a UTC time (CLI_F_TIME: a bare date is the start
 * of that day; CLI_F_UNTIL: the end of it). A list prints one page as a table of
 * s_cols; STATE is computed from the delegation's times (s_cell).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "cli.h"
#include "rapport/util.h"
#include "rapport/identity/v1/identity.pb-c.h"

#define D_WHO (CLI_F_TEXT | CLI_F_NONEMPTY)

static const cli_eflag_t s_add_flags[] = {
    { "for",   "USER",      "absent",     D_WHO | CLI_F_REQUIRED, "the absent user whose work is delegated; required" },
    { "to",    "USER",      "substitute", D_WHO | CLI_F_REQUIRED, "the substitute who may act for them; required" },
    { "from",  "DATE|TIME", "from_ms",    CLI_F_TIME,             "start: YYYY-MM-DD (00:00 UTC) or YYYY-MM-DDTHH:MM[:SS]Z (default now)" },
    { "until", "DATE|TIME", "until_ms",   CLI_F_UNTIL | CLI_F_REQUIRED, "end: YYYY-MM-DD (the whole day, to 24:00 UTC) or a time; required" },
    { "note",  "TEXT",      "note",       D_WHO,                  "why (goes to the audit trail and event)" },
    CLI_EFLAG_REQUEST_ID, CLI_EFLAG_END
};

static const cli_eflag_t s_list_flags[] = {
    { "for", "USER", "absent",     D_WHO, "only delegations of this absent user" },
    { "to",  "USER", "substitute", D_WHO, "only delegations to this substitute" },
    { "include-ended", NULL, "include_ended", CLI_F_BOOL, "also the revoked and expired ones" },
    { "page-size",  "N",     NULL,         CLI_F_PAGING, "rows per page, 1..500 (default 50)" },
    { "page-token", "TOKEN", "page_token", D_WHO,        "continue where a previous page ended" },
    CLI_EFLAG_END
};

static const cli_eflag_t s_revoke_flags[] = { CLI_EFLAG_REQUEST_ID, CLI_EFLAG_END };

/* s_cell - STATE: "revoked", "ended", "active" or "planned". */
static char *s_cell(const ProtobufCMessage *row, const char *key)
{
    const Rapport__Identity__V1__Delegation *d = (const Rapport__Identity__V1__Delegation *) row;
    int64_t now = (int64_t) time(NULL) * 1000;
    (void) key;     /* "state" */
    if (d->revoked_at)
        return rp_strdup("revoked");
    return rp_strdup(d->until && d->until <= now ? "ended" : d->from > now ? "planned" : "active");
}

static const cli_ecol_t s_cols[] = {
    { "ID", "id", CLI_COL_TEXT }, { "FOR", "absent", CLI_COL_TEXT }, { "TO", "substitute", CLI_COL_TEXT },
    { "FROM", "from", CLI_COL_TEXT }, { "UNTIL", "until", CLI_COL_TEXT }, { "STATE", "state", CLI_COL_CELL },
    { "NOTE", "note", CLI_COL_TEXT }, { NULL, NULL, 0 }
};

static const cli_eview_t s_list_view = { .items = "delegations", .none = "delegations", .cols = s_cols,
                                         .cell = s_cell, .page_max = 500 };

static const cli_erow_t s_cmds[] = {
    { "add", "", { NULL }, "Delegate", NULL, s_add_flags, NULL,
      "let a substitute act for an absent user for a while (Delegate)",
      "Example: rapport delegate add --for ann --to bob --from 2026-12-01 --until 2026-12-14 --note 'holiday'\n"
      "  Dates are UTC; --until DATE includes that whole day. The substitute then runs\n"
      "  'rapport login --as ann' to act for ann." },
    { "list", "", { NULL }, "ListDelegations", NULL, s_list_flags, &s_list_view,
      "list the delegations you may see (ListDelegations)", NULL },
    { "revoke", "ID", { "id" }, "RevokeDelegation", NULL, s_revoke_flags, NULL,
      "end a delegation now; tokens acting under it stop working (RevokeDelegation)", NULL },
};

/* ---- main.c's view of the table ---- */

CLI_ENGINE_GROUP(cli_delegate_cmds, s_cmds, "delegate", "identity", &rapport__identity__v1__identity__descriptor,
                 NULL, 0);

void cli_delegate_init(void)
{
    cli_engine_init(&cli_delegate_cmds_engine);
}
