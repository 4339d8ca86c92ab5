/* test_config_errors.c - a bad setting stops a service at start-up (DESIGN.md §9).
 *
 * The real rapport-leads is started with one bad RAPPORT_* value at a time: it must
 * exit with status 2 before serving, with a message on stderr that names the
 * variable, and create nothing in the data directory. Each service's --help names
 * every setting of its own (test_help_names_settings).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>
#include "harness.h"
#include "rapport/util.h"

static void
test_bad_settings_fail_fast(void **state)
{
    (void) state;
    static const struct {
        const char *setting;
        const char *want_in_stderr;
    } rows[] = {
        { "RAPPORT_BATCH_MAX=abc", "RAPPORT_BATCH_MAX" },
        { "RAPPORT_BATCH_MAX=0", "RAPPORT_BATCH_MAX" },
        { "RAPPORT_MAX_MSG=10", "RAPPORT_MAX_MSG" },
        { "RAPPORT_IDEM_TTL=60", "RAPPORT_IDEM_TTL" },
        { "RAPPORT_GATHER_US=-1", "RAPPORT_GATHER_US" },
        { "RAPPORT_LOG_LEVEL=loud", "RAPPORT_LOG_LEVEL" },
        { "RAPPORT_TEST_CLOCK=maybe", "RAPPORT_TEST_CLOCK" },
        { "RAPPORT_HOST=a:b", "RAPPORT_HOST" },
        { "RAPPORT_HOST=host name", "RAPPORT_HOST" },
    };
    char dir[] = "/tmp/rapport-cfg-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *data = rp_sprintf("%s/data", dir), *keys = rp_sprintf("%s/keys", dir);
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        int err[2];
        assert_int_equal(pipe(err), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            dup2(err[1], 2);
            close(err[0]);
            setenv("RAPPORT_DATA", data, 1);
            setenv("RAPPORT_KEYS", keys, 1);
            setenv("RAPPORT_BIND", "tcp://127.0.0.1:*", 1);
            setenv("RAPPORT_PUB_BIND", "tcp://127.0.0.1:*", 1);
            setenv("RAPPORT_HTTP", "off", 1);
            putenv((char *) rows[i].setting);
            const char *bin = rp_suite_bin("rapport-leads");
            execl(bin, bin, (char *) NULL);
            _exit(127);
        }
        close(err[1]);
        char out[4096];
        size_t len = 0;
        ssize_t got;
        while (len + 1 < sizeof out && (got = read(err[0], out + len, sizeof out - 1 - len)) > 0)
            len += (size_t) got;
        out[len] = '\0';
        close(err[0]);
        int st;
        assert_int_equal(waitpid(pid, &st, 0), pid);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 2 || !strstr(out, rows[i].want_in_stderr))
            fail_msg("%s: status %d, stderr \"%s\"; want exit 2 naming %s", rows[i].setting,
                     WIFEXITED(st) ? WEXITSTATUS(st) : -1, out, rows[i].want_in_stderr);
        struct stat sb;
        assert_int_not_equal(stat(data, &sb), 0);       /* no store was made */
    }
    free(data);
    free(keys);
    rmdir(dir);
}

/* test_help_names_settings - `rapport-<name> --help` lists the service's own settings,
 * so an operator learns them from the binary. */
static void
test_help_names_settings(void **state)
{
    (void) state;
    static const struct {
        const char *binary;
        const char *settings;           /* space-separated */
    } rows[] = {
        { "rapport-leads", "RAPPORT_LEADS_EXPIRE_MS" },
        { "rapport-identity", "RAPPORT_IDENTITY_ACCESS_TTL RAPPORT_IDENTITY_REFRESH_TTL RAPPORT_IDENTITY_SLOW_AFTER "
                              "RAPPORT_IDENTITY_LOCK_FAILURES RAPPORT_IDENTITY_LOCK_WINDOW_S RAPPORT_IDENTITY_LOCK_S" },
        { "rapport-accounts", "RAPPORT_ACCOUNTS_SILENCE_KEY_DAYS _CORPORATE_DAYS _REGULAR_DAYS _RETAIL_DAYS "
                              "RAPPORT_ACCOUNTS_JOB_MS RAPPORT_ACCOUNTS_EXPORT_LIMIT "
                              "RAPPORT_ACCOUNTS_EXPORT_WINDOW_HOURS RAPPORT_ACCOUNTS_PENDING_DAYS "
                              "RAPPORT_ACCOUNTS_FROM_LEADS RAPPORT_ACCOUNTS_FROM_CONTRACTS" },
        { "rapport-contracts", "RAPPORT_CONTRACTS_DIRECTOR_THRESHOLD RAPPORT_CONTRACTS_EXPIRING_DAYS "
                               "RAPPORT_CONTRACTS_JOB_MS RAPPORT_CONTRACTS_SELLER RAPPORT_CONTRACTS_SIGNING_KEY "
                               "RAPPORT_CONTRACTS_FROM_LEADS" },
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char *cmd = rp_sprintf("'%s' --help", rp_suite_bin(rows[i].binary));
        FILE *f = popen(cmd, "r");
        assert_non_null(f);
        char help[16384];
        size_t n = fread(help, 1, sizeof help - 1, f);
        help[n] = '\0';
        assert_int_equal(pclose(f), 0);
        char list[1024];
        rp_strlcpy(list, rows[i].settings, sizeof list);
        for (char *save = NULL, *w = strtok_r(list, " ", &save); w; w = strtok_r(NULL, " ", &save))
            if (!strstr(help, w))
                fail_msg("%s --help does not name %s", rows[i].binary, w);
        free(cmd);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_settings_fail_fast),
        cmocka_unit_test(test_help_names_settings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
