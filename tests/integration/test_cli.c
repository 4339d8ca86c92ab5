/* test_cli.c - the `rapport` command line and the `rapportd` supervisor, run as
 * real binaries against a real rapport-leads (harness.h): tokens, leads in human
 * and JSON form, an error naming the field and the rule, CloudEvents lines, the
 * audit chain, a CSV import with good and bad rows run twice, and rapportd
 * starting, restarting and stopping a suite.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <regex.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>

#include "harness.h"
#include "rapport/util.h"

extern char **environ;

static rp_suite_t *s_suite;
static char *s_manager;     /* alice, manager in /b1/sales */
static char *s_director;    /* dora, director: events.replay, audit.read */
static pid_t s_rapportd;    /* running rapportd, stopped by the teardown if a test failed */

/* ---- helpers ---- */

static int64_t s_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void s_sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long) (ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {
    }
}

/* s_cli - run `rapport args...` through the harness; stdout into *out. */
static int s_cli(const char *token, char **out, const char *const *args)
{
    return rp_suite_run_cli(s_suite, token, out, args);
}

#define CLI(token, out, ...) s_cli((token), (out), (const char *const[]) { __VA_ARGS__, NULL })

static char *s_read(const char *path)
{
    char *data = NULL;
    size_t len = 0;
    if (rp_read_file(path, 16 << 20, &data, &len) != 0)
        return rp_strdup("");
    return data;
}

/* s_spawn_env - the environment for our own runs: no outer RAPPORT_*, HOME set,
 * plus extra ("K=V", NULL-terminated). malloc'd array of malloc'd strings. */
static char **s_spawn_env(const char *home, const char *const *extra)
{
    size_t n = 0, cap = 16;
    for (char **p = environ; *p; p++)
        cap++;
    for (size_t i = 0; extra && extra[i]; i++)
        cap++;
    char **env = rp_calloc(cap + 2, sizeof *env);
    for (char **p = environ; *p; p++)
        if (strncmp(*p, "RAPPORT_", 8) != 0 && strncmp(*p, "HOME=", 5) != 0)
            env[n++] = rp_strdup(*p);
    env[n++] = rp_sprintf("HOME=%s", home);
    for (size_t i = 0; extra && extra[i]; i++)
        env[n++] = rp_strdup(extra[i]);
    env[n] = NULL;
    return env;
}

static void s_env_free(char **env)
{
    for (size_t i = 0; env[i]; i++)
        free(env[i]);
    free(env);
}

/* s_spawn - start bin with args and env, stdout/stderr to files (NULL: /dev/null). */
static pid_t s_spawn(const char *bin, const char *const *args, char **env, const char *out_path,
                     const char *err_path)
{
    size_t n = 0;
    while (args && args[n])
        n++;
    char **argv = rp_calloc(n + 2, sizeof *argv);
    argv[0] = (char *) bin;
    for (size_t i = 0; i < n; i++)
        argv[i + 1] = (char *) args[i];
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, out_path ? out_path : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&fa, 2, err_path ? err_path : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0600);
    pid_t pid = 0;
    int rc = posix_spawn(&pid, bin, &fa, NULL, argv, env);
    posix_spawn_file_actions_destroy(&fa);
    free(argv);
    assert_int_equal(rc, 0);
    return pid;
}

/* s_wait - the exit code of pid within timeout_ms (SIGKILL and fail after). */
static int s_wait(pid_t pid, int timeout_ms)
{
    int64_t until = s_mono_ms() + timeout_ms;
    int status = 0;
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            break;
        if (s_mono_ms() > until) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            fail_msg("pid %d did not exit within %d ms", (int) pid, timeout_ms);
        }
        s_sleep_ms(20);
    }
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

/* s_suite_env - the environment rp_suite_run_cli gives the CLI, for our own runs. */
static char **s_suite_env(const char *token)
{
    const char *dir = rp_suite_dir(s_suite);
    char *keys = rp_sprintf("RAPPORT_KEYS=%s/keys", dir);
    char *data = rp_sprintf("RAPPORT_DATA=%s/data", dir);
    char *rpc = rp_sprintf("RAPPORT_LEADS_ENDPOINT=%s", rp_suite_rpc(s_suite, "leads"));
    char *pub = rp_sprintf("RAPPORT_LEADS_PUB_ENDPOINT=%s", rp_suite_pub(s_suite, "leads"));
    char *tok = rp_sprintf("RAPPORT_TOKEN=%s", token ? token : "");
    const char *extra[] = { keys, data, rpc, pub, token ? tok : NULL, NULL };
    char **env = s_spawn_env(dir, extra);
    free(keys), free(data), free(rpc), free(pub), free(tok);
    return env;
}

/* s_cli_full - run the CLI with the suite's environment, capturing stdout and stderr. */
static int s_cli_full(const char *token, char **out, char **err, const char *const *args)
{
    const char *dir = rp_suite_dir(s_suite);
    char **env = s_suite_env(token);
    char *op = rp_sprintf("%s/cli.out", dir), *ep = rp_sprintf("%s/cli.err", dir);
    pid_t pid = s_spawn(rp_suite_bin("rapport"), args, env, op, ep);
    int rc = s_wait(pid, 60000);
    *out = s_read(op);
    *err = s_read(ep);
    s_env_free(env);
    free(op), free(ep);
    return rc;
}

static json_t *s_json(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);
    if (!j)
        fail_msg("not JSON (%s): %s", e.text, text);
    return j;
}

/* s_create - create a lead with the manager token; its id (malloc'd). */
static char *s_create(const char *company, const char *tax_id)
{
    char *out = NULL;
    int rc = CLI(s_manager, &out, "--json", "leads", "create", "--company", company, "--tax-id", tax_id,
                 "--source", "Web", "--contact", "Ann Lee,decision_maker,ann@acme.example,+1 555 0100,CFO",
                 "--value", "12000.50", "--currency", "EUR", "--close", "2027-03-31", "--campaign", "spring");
    assert_int_equal(rc, 0);
    json_t *j = s_json(out);
    char *id = rp_strdup(json_string_value(json_object_get(j, "id")));
    assert_non_null(id);
    assert_int_equal(strlen(id), 26);
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "company"), "name")), company);
    json_decref(j);
    free(out);
    return id;
}

/* ---- setup ---- */

static int s_setup(void **state)
{
    (void) state;
    s_suite = rp_suite_new();
    rp_suite_start(s_suite, "leads", NULL);
    s_director = rp_suite_token(s_suite, "dora", "director", "b1", "/b1", NULL, 3600);
    return 0;
}

static int s_teardown(void **state)
{
    (void) state;
    if (s_rapportd > 0) {
        /* A failed rapportd test: stop it (its children follow, PR_SET_PDEATHSIG). */
        kill(s_rapportd, SIGTERM);
        int64_t until = s_mono_ms() + 15000;
        while (waitpid(s_rapportd, NULL, WNOHANG) == 0) {
            if (s_mono_ms() > until) {
                kill(s_rapportd, SIGKILL);
                waitpid(s_rapportd, NULL, 0);
                break;
            }
            s_sleep_ms(20);
        }
        s_rapportd = 0;
    }
    free(s_manager);
    free(s_director);
    rp_suite_destroy(&s_suite);
    return 0;
}

/* ---- tests ---- */

static void test_help_and_usage(void **state)
{
    (void) state;
    char *out = NULL;
    assert_int_equal(CLI(NULL, &out, "--help"), 0);
    assert_non_null(strstr(out, "leads create"));
    assert_non_null(strstr(out, "import leads FILE.csv"));
    assert_non_null(strstr(out, "Exit codes"));
    free(out);
    assert_int_equal(CLI(NULL, &out, "leads", "--help"), 0);
    assert_non_null(strstr(out, "--close-from DATE"));
    assert_non_null(strstr(out, "offer accept"));
    free(out);
    assert_int_equal(CLI(NULL, &out, "--version"), 0);
    assert_non_null(strstr(out, "rapport "));
    free(out);
    assert_int_equal(CLI(NULL, NULL, "leads", "frobnicate"), 2);
    assert_int_equal(CLI(NULL, NULL, "leads", "list", "--stage", "sideways"), 2);
    assert_int_equal(CLI(NULL, NULL, "token", "mint", "--sub", "x", "--role", "emperor", "--branch", "b1"), 2);
    /* No token anywhere: a local failure. */
    assert_int_equal(CLI(NULL, NULL, "leads", "list"), 4);

    assert_int_equal(CLI(NULL, &out, "roles"), 0);
    assert_non_null(strstr(out, "manager"));
    assert_non_null(strstr(out, "leads.write"));
    free(out);
}

static void test_token_mint_and_leads(void **state)
{
    (void) state;
    char *out = NULL;
    assert_int_equal(CLI(NULL, &out, "token", "mint", "--sub", "alice", "--role", "manager", "--branch", "b1",
                         "--unit", "/b1/sales", "--ttl", "2h"), 0);
    size_t n = strlen(out);
    while (n && (out[n - 1] == '\n' || out[n - 1] == '\r'))
        out[--n] = 0;
    assert_int_equal(strchr(out, '.') != NULL, 1);
    s_manager = out;

    char *id = s_create("Acme Ltd", "GB-123");

    /* One record, human form: key: value lines. */
    assert_int_equal(CLI(s_manager, &out, "leads", "get", id), 0);
    assert_non_null(strstr(out, "company.name:"));
    assert_non_null(strstr(out, "Acme Ltd"));
    assert_non_null(strstr(out, "12000.50 EUR"));
    assert_non_null(strstr(out, "2027-03-31"));
    assert_non_null(strstr(out, "decision_maker"));
    free(out);

    /* JSON form. */
    assert_int_equal(CLI(s_manager, &out, "--json", "leads", "get", id), 0);
    json_t *j = s_json(out);
    assert_string_equal(json_string_value(json_object_get(j, "id")), id);
    assert_string_equal(json_string_value(json_object_get(j, "owner")), "alice");
    json_decref(j);
    free(out);

    /* Lists: a table, and JSON. */
    free(s_create("Globex Corporation", "US-777"));
    assert_int_equal(CLI(s_manager, &out, "leads", "list"), 0);
    assert_non_null(strstr(out, "COMPANY"));
    assert_non_null(strstr(out, "Acme Ltd"));
    assert_non_null(strstr(out, "Globex Corporation"));
    free(out);
    assert_int_equal(CLI(s_manager, &out, "--json", "leads", "list", "--page-size", "1", "--all"), 0);
    j = s_json(out);
    assert_int_equal(json_array_size(json_object_get(j, "leads")), 2);
    json_decref(j);
    free(out);
    assert_int_equal(CLI(s_manager, &out, "--json", "leads", "list", "--name-prefix", "glo"), 0);
    j = s_json(out);
    assert_int_equal(json_array_size(json_object_get(j, "leads")), 1);
    json_decref(j);
    free(out);

    /* A write or two through other commands. */
    assert_int_equal(CLI(s_manager, &out, "leads", "activity", "log", id, "--kind", "call", "--outcome",
                         "positive", "--subject", "intro call"), 0);
    free(out);
    assert_int_equal(CLI(s_manager, &out, "leads", "activity", "list", id), 0);
    assert_non_null(strstr(out, "intro call"));
    free(out);
    assert_int_equal(CLI(s_manager, &out, "leads", "stage", id, "contacted"), 0);
    assert_non_null(strstr(out, "contacted"));
    free(out);
    free(id);
}

/* token mint --save writes the token file (0600) and keeps the token itself off
 * the terminal; later commands read the file. */
static void test_token_save(void **state)
{
    (void) state;
    char *out = NULL;
    char path[1024];
    /* The harness runs the CLI with HOME in the suite's directory. */
    snprintf(path, sizeof path, "%s/.config/rapport/token", rp_suite_dir(s_suite));
    assert_int_equal(CLI(NULL, &out, "token", "mint", "--sub", "sam", "--role", "manager",
                         "--branch", "b1", "--save"), 0);
    assert_null(strstr(out, "eyJ"));            /* no JWT on stdout */
    assert_non_null(strstr(out, "saved to"));
    free(out);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    /* No token given: the saved one is used. */
    assert_int_equal(CLI(NULL, &out, "leads", "list"), 0);
    free(out);
    unlink(path);
}

static void test_error_names_field_and_rule(void **state)
{
    (void) state;
    char *id = s_create("Initech", "DE-42");
    char *out = NULL, *err = NULL;

    /* JSON: the error object on stdout. */
    assert_int_equal(CLI(s_manager, &out, "--json", "leads", "qualify", id, "--interest", "9"), 1);
    json_t *j = s_json(out);
    json_t *e = json_object_get(j, "error");
    assert_string_equal(json_string_value(json_object_get(e, "code")), "INVALID_ARGUMENT");
    json_t *v = json_array_get(json_object_get(e, "field_violations"), 0);
    assert_non_null(v);
    assert_string_equal(json_string_value(json_object_get(v, "field")), "interest");
    assert_true(strlen(json_string_value(json_object_get(v, "description"))) > 0);
    json_decref(j);
    free(out);

    /* Human: code name, message and "field: rule" on stderr. */
    const char *args[] = { "leads", "qualify", id, "--interest", "9", NULL };
    assert_int_equal(s_cli_full(s_manager, &out, &err, args), 1);
    assert_non_null(strstr(err, "INVALID_ARGUMENT"));
    assert_non_null(strstr(err, "  interest: "));
    assert_string_equal(out, "");
    free(out);
    free(err);

    /* Not found: exit 1 too. */
    assert_int_equal(CLI(s_manager, NULL, "leads", "get", "01ARZ3NDEKTSV4RRFFQ69G5FAV"), 1);
    free(id);
}

static bool s_rfc3339(const char *s)
{
    regex_t re;
    assert_int_equal(regcomp(&re, "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$",
                             REG_EXTENDED | REG_NOSUB), 0);
    bool ok = regexec(&re, s, 0, NULL, 0) == 0;
    regfree(&re);
    return ok;
}

static void test_events_tail_cloudevents(void **state)
{
    (void) state;
    char *out = NULL;
    assert_int_equal(CLI(s_director, &out, "events", "tail", "--service", "leads"), 0);
    size_t lines = 0, created = 0;
    json_int_t last_seq = 0;
    for (char *save = NULL, *line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        json_t *ev = s_json(line);
        lines++;
        /* The CloudEvents 1.0 required attributes, and ours. */
        assert_string_equal(json_string_value(json_object_get(ev, "specversion")), "1.0");
        const char *id = json_string_value(json_object_get(ev, "id"));
        const char *source = json_string_value(json_object_get(ev, "source"));
        const char *type = json_string_value(json_object_get(ev, "type"));
        assert_true(id && *id && source && *source && type && *type);
        assert_true(strncmp(type, "rapport.leads.v1.", 17) == 0);
        const char *time = json_string_value(json_object_get(ev, "time"));
        assert_non_null(time);
        assert_true(s_rfc3339(time));
        json_t *subject = json_object_get(ev, "subject");
        if (subject)
            assert_true(json_is_string(subject) && json_string_length(subject) > 0);
        json_t *seq = json_object_get(ev, "rapportseq");
        assert_true(json_is_integer(seq));
        assert_int_equal(json_integer_value(seq), last_seq + 1);
        last_seq = json_integer_value(seq);
        assert_string_equal(json_string_value(json_object_get(ev, "rapportbranch")), "b1");
        assert_non_null(json_string_value(json_object_get(ev, "rapportactor")));
        const char *schema = json_string_value(json_object_get(ev, "dataschema"));
        assert_non_null(schema);
        assert_true(strncmp(schema, "proto:", 6) == 0);
        /* Every schema of the leads service is known: data is JSON, not base64. */
        assert_string_equal(json_string_value(json_object_get(ev, "datacontenttype")), "application/json");
        assert_true(json_is_object(json_object_get(ev, "data")));
        assert_null(json_object_get(ev, "data_base64"));
        if (strcmp(schema, "proto:rapport.leads.v1.Lead") == 0 && strstr(type, "created"))
            created++;
        json_decref(ev);
    }
    assert_true(lines >= 4);
    assert_true(created >= 3);
    free(out);

    /* --from and --type narrow it. */
    assert_int_equal(CLI(s_director, &out, "events", "tail", "--from", "2", "--type", "lead.created"), 0);
    size_t n = 0;
    for (char *save = NULL, *line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        json_t *ev = s_json(line);
        assert_true(json_integer_value(json_object_get(ev, "rapportseq")) >= 2);
        assert_non_null(strstr(json_string_value(json_object_get(ev, "type")), "lead.created"));
        n++;
        json_decref(ev);
    }
    assert_true(n >= 2 && n < lines);
    free(out);

    /* A manager may not replay events. */
    assert_int_equal(CLI(s_manager, NULL, "events", "tail"), 1);

    /* --follow: the replay, then live events, until SIGTERM (exit 0). */
    char **env = s_suite_env(s_director);
    char *fpath = rp_sprintf("%s/follow.out", rp_suite_dir(s_suite));
    const char *fargs[] = { "events", "tail", "--follow", "--type", "lead.created", NULL };
    pid_t pid = s_spawn(rp_suite_bin("rapport"), fargs, env, fpath, NULL);
    char *id = s_create("Live Feed Inc", "LF-1");
    bool seen = false;
    for (int64_t until = s_mono_ms() + 15000; !seen && s_mono_ms() < until; s_sleep_ms(50)) {
        char *text = s_read(fpath);
        seen = strstr(text, id) != NULL && text[strlen(text) - 1] == '\n';
        free(text);
    }
    assert_true(seen);
    kill(pid, SIGTERM);
    assert_int_equal(s_wait(pid, 10000), 0);
    char *text = s_read(fpath);
    size_t n_created = 0;
    for (char *save = NULL, *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        json_t *ev = s_json(line);
        assert_non_null(strstr(json_string_value(json_object_get(ev, "type")), "lead.created"));
        n_created++;
        json_decref(ev);
    }
    assert_int_equal(n_created, created + 1);
    free(text);
    free(fpath);
    free(id);
    s_env_free(env);
}

static void test_audit_verify(void **state)
{
    (void) state;
    char *out = NULL;
    assert_int_equal(CLI(s_director, &out, "audit", "verify", "--service", "leads"), 0);
    assert_non_null(strstr(out, "audit chain intact: "));
    assert_true(atoi(strstr(out, ": ") + 2) >= 4);
    free(out);
    assert_int_equal(CLI(s_director, &out, "--json", "audit", "verify"), 0);
    json_t *j = s_json(out);
    assert_true(json_is_true(json_object_get(j, "intact")));
    json_decref(j);
    free(out);
}

static size_t s_count_prefix(const char *prefix)
{
    char *out = NULL;
    assert_int_equal(CLI(s_manager, &out, "--json", "leads", "list", "--name-prefix", prefix, "--all"), 0);
    json_t *j = s_json(out);
    size_t n = json_array_size(json_object_get(j, "leads"));
    json_decref(j);
    free(out);
    return n;
}

static void test_import_csv(void **state)
{
    (void) state;
    char *csv = rp_sprintf("%s/leads.csv", rp_suite_dir(s_suite));
    char *report = rp_sprintf("%s/report.csv", rp_suite_dir(s_suite));
    FILE *f = fopen(csv, "w");
    assert_non_null(f);
    fputs("Company,Tax ID,contact_name,contact_role,contact_email,source,value,currency,close\n"
          "Imported One Ltd,IMP-001,Al One,decision_maker,al@one.example,web,1000.00,EUR,2027-01-31\n"
          "Imported Two Ltd,IMP-002,Bo Two,Influencer,bo@two.example,,250,,\n"
          ",IMP-003,Cy Three,other,,web,,,\n"
          "Imported Four Ltd,IMP-004,Di Four,decision_maker,,nowhere,,,\n"
          "Imported Five Ltd,IMP-005,Ed Five,decision_maker,,fair,12.345,EUR,\n"
          "Imported Six Ltd,IMP-006,Fi Six,negotiator,not-an-email,web,,,\n"
          "\"Imported, Eight Ltd\",IMP-008,\"Gus \"\"G\"\" Eight\",decision_maker,gus@eight.example,referral_partner_typo,,,2027-02-30\n"
          "\"Imported, Nine Ltd\",IMP-009,Hal Nine,decision_maker,hal@nine.example,partner,99.99,USD,2027-06-30\n", f);
    fclose(f);

    char *out = NULL;
    const char *args1[] = { "--json", "import", "leads", csv, "--report", report, NULL };
    assert_int_equal(s_cli(s_manager, &out, args1), 1);
    json_t *j = s_json(out);
    assert_int_equal(json_integer_value(json_object_get(j, "rows")), 8);
    assert_int_equal(json_integer_value(json_object_get(j, "created")), 3);
    assert_int_equal(json_integer_value(json_object_get(j, "already_imported")), 0);
    assert_int_equal(json_integer_value(json_object_get(j, "invalid")), 4);
    assert_int_equal(json_integer_value(json_object_get(j, "failed")), 1);
    /* Each bad row is reported with its field and rule. */
    bool seen[10] = { false };
    json_t *errs = json_object_get(j, "errors");
    for (size_t i = 0; i < json_array_size(errs); i++) {
        json_t *e = json_array_get(errs, i);
        json_int_t row = json_integer_value(json_object_get(e, "row"));
        assert_true(row >= 2 && row <= 9);
        seen[row] = true;
        assert_true(strlen(json_string_value(json_object_get(e, "rule"))) > 0);
        const char *field = json_string_value(json_object_get(e, "field"));
        if (row == 4)
            assert_string_equal(field, "company");
        if (row == 5)
            assert_string_equal(field, "source");
        if (row == 6)
            assert_string_equal(field, "value");
        if (row == 7)
            assert_non_null(strstr(field, "email"));
    }
    assert_true(seen[4] && seen[5] && seen[6] && seen[7] && seen[8]);
    assert_false(seen[2] || seen[3] || seen[9]);
    json_decref(j);
    free(out);

    char *rep = s_read(report);
    assert_true(strncmp(rep, "row,code,field,rule\n", 20) == 0);
    assert_non_null(strstr(rep, "\n4,"));
    assert_non_null(strstr(rep, "\n5,"));
    assert_non_null(strstr(rep, "\n6,"));
    assert_non_null(strstr(rep, "\n7,"));
    assert_non_null(strstr(rep, "\n8,"));
    assert_null(strstr(rep, "\n3,"));
    free(rep);
    assert_int_equal(s_count_prefix("Imported"), 3);

    /* Again: nothing is created twice. */
    const char *args2[] = { "import", "leads", csv, NULL };
    assert_int_equal(s_cli(s_manager, &out, args2), 1);
    assert_non_null(strstr(out, "0 created, 3 already imported"));
    assert_non_null(strstr(out, "row 4: company: required"));
    free(out);
    assert_int_equal(s_count_prefix("Imported"), 3);

    /* A clean file exits 0. */
    f = fopen(csv, "w");
    assert_non_null(f);
    fputs("company;source\nImported Ten GmbH;fair\n", f);
    fclose(f);
    const char *args3[] = { "import", "leads", csv, "--delimiter", ";", NULL };
    assert_int_equal(s_cli(s_manager, &out, args3), 0);
    assert_non_null(strstr(out, "1 created"));
    free(out);
    assert_int_equal(s_count_prefix("Imported"), 4);

    /* An unknown column is a usage error that names it. */
    f = fopen(csv, "w");
    assert_non_null(f);
    fputs("company,colour\nX,blue\n", f);
    fclose(f);
    assert_int_equal(s_cli(s_manager, NULL, args2), 2);
    free(csv);
    free(report);
}

/* ---- rapportd ---- */

/* s_endpoints_pid - the pid= of a ready file, or 0; rpc= into rpc. */
static long s_endpoints_pid(const char *path, char *rpc, size_t cap)
{
    char *data = s_read(path);
    long pid = 0;
    for (char *save = NULL, *l = strtok_r(data, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        if (strncmp(l, "pid=", 4) == 0)
            pid = atol(l + 4);
        else if (strncmp(l, "rpc=", 4) == 0 && rpc)
            rp_strlcpy(rpc, l + 4, cap);
    }
    free(data);
    return pid;
}

static long s_wait_ready(const char *path, long not_pid, char *rpc, size_t cap, int timeout_ms)
{
    int64_t until = s_mono_ms() + timeout_ms;
    while (s_mono_ms() < until) {
        long pid = s_endpoints_pid(path, rpc, cap);
        if (pid > 0 && pid != not_pid && kill((pid_t) pid, 0) == 0)
            return pid;
        s_sleep_ms(50);
    }
    return 0;
}

static void test_rapportd(void **state)
{
    (void) state;
    char dir[] = "/tmp/rapportd-it-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *keys = rp_sprintf("RAPPORT_KEYS=%s/keys", dir);
    char *data = rp_sprintf("RAPPORT_DATA=%s/data", dir);
    const char *extra[] = { keys, data, "RAPPORT_BIND=tcp://127.0.0.1:*", "RAPPORT_PUB_BIND=tcp://127.0.0.1:*",
                            "RAPPORT_HTTP=off", "RAPPORT_LOG_LEVEL=info", NULL };
    char **env = s_spawn_env(dir, extra);
    char *log = rp_sprintf("%s/rapportd.log", dir);
    const char *args[] = { "--services", "leads", NULL };
    char bin[PATH_MAX];
    rp_strlcpy(bin, rp_suite_bin("rapportd"), sizeof bin);
    pid_t d = s_spawn(bin, args, env, NULL, log);
    s_rapportd = d;

    char *ready = rp_sprintf("%s/data/leads/endpoints", dir);
    char rpc[256] = "";
    long child = s_wait_ready(ready, 0, rpc, sizeof rpc, 20000);
    if (!child) {
        char *l = s_read(log);
        fail_msg("rapportd: leads never became ready; log:\n%s", l);
    }
    /* Keys were made on first run, as `rapport keys init` does. */
    char *path = rp_sprintf("%s/keys/issuer.key", dir);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 077, 0);
    free(path);
    path = rp_sprintf("%s/keys/allow/cli.cert", dir);
    assert_int_equal(stat(path, &st), 0);
    free(path);

    /* `rapport health` sees it, with a token minted by `rapport token mint`. */
    char *tok_out = rp_sprintf("%s/token.out", dir);
    const char *mint[] = { "token", "mint", "--sub", "ops", "--role", "admin", "--branch", "b1", NULL };
    assert_int_equal(s_wait(s_spawn(rp_suite_bin("rapport"), mint, env, tok_out, NULL), 30000), 0);
    char *token = s_read(tok_out);
    token[strcspn(token, "\n")] = 0;
    char *ep = rp_sprintf("RAPPORT_LEADS_ENDPOINT=%s", rpc);
    char *te = rp_sprintf("RAPPORT_TOKEN=%s", token);
    const char *extra2[] = { keys, data, ep, te, NULL };
    char **env2 = s_spawn_env(dir, extra2);
    char *hout = rp_sprintf("%s/health.out", dir);
    const char *health[] = { "health", "leads", NULL };
    assert_int_equal(s_wait(s_spawn(rp_suite_bin("rapport"), health, env2, hout, NULL), 30000), 0);
    char *h = s_read(hout);
    assert_non_null(strstr(h, "leads"));
    assert_non_null(strstr(h, "ready"));
    free(h);
    /* Every service: the others are not running, leads answers. */
    const char *health_all[] = { "health", "--timeout", "1s", NULL };
    assert_int_equal(s_wait(s_spawn(rp_suite_bin("rapport"), health_all, env2, hout, NULL), 30000), 0);
    h = s_read(hout);
    assert_non_null(strstr(h, "leads"));
    free(h);
    /* A service nobody runs (payments does not exist yet) refuses the connection
     * and is named as not running, rather than waited for. */
    const char *health_json[] = { "--json", "health", "--timeout", "20s", NULL };
    assert_int_equal(s_wait(s_spawn(rp_suite_bin("rapport"), health_json, env2, hout, NULL), 30000), 0);
    h = s_read(hout);
    json_t *hj = json_loads(h, 0, NULL);
    assert_non_null(hj);
    json_t *down = json_object_get(hj, "not_running");
    bool payments_down = false;
    for (size_t i = 0; i < json_array_size(down); i++)
        payments_down |= strcmp(json_string_value(json_array_get(down, i)), "payments") == 0;
    assert_true(payments_down);
    assert_int_equal(json_array_size(json_object_get(hj, "services")), 1);
    json_decref(hj);
    free(h);

    /* A child that dies is restarted. */
    assert_int_equal(kill((pid_t) child, SIGKILL), 0);
    long child2 = s_wait_ready(ready, child, rpc, sizeof rpc, 15000);
    assert_true(child2 > 0 && child2 != child);

    char *l = s_read(log);
    assert_non_null(strstr(l, "Rapport is up"));
    assert_non_null(strstr(l, "restarting"));
    free(l);

    /* SIGTERM: every child stops, rapportd exits 0. */
    assert_int_equal(kill(d, SIGTERM), 0);
    assert_int_equal(s_wait(d, 20000), 0);
    s_rapportd = 0;
    assert_int_equal(kill((pid_t) child2, 0), -1);
    assert_int_equal(errno, ESRCH);

    s_env_free(env);
    s_env_free(env2);
    free(keys), free(data), free(log), free(ready), free(tok_out), free(token), free(ep), free(te), free(hout);
    char *rm = rp_sprintf("rm -rf '%s'", dir);
    if (system(rm) != 0)
        fprintf(stderr, "cannot remove %s\n", dir);
    free(rm);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_help_and_usage),
        cmocka_unit_test(test_token_mint_and_leads),
        cmocka_unit_test(test_token_save),
        cmocka_unit_test(test_error_names_field_and_rule),
        cmocka_unit_test(test_events_tail_cloudevents),
        cmocka_unit_test(test_audit_verify),
        cmocka_unit_test(test_import_csv),
        cmocka_unit_test(test_rapportd),
    };
    return cmocka_run_group_tests_name("cli", tests, s_setup, s_teardown);
}
