/* harness_cli.c - JSON helpers of the command-line tests (harness.h): the `rapport`
 * binary run with --json, its stdout parsed, and a failed test when either is not
 * what a successful command gives; and the file checks they share.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <sys/stat.h>
#include "harness.h"
#include "rapport/util.h"

json_t *rp_test_json(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text ? text : "", 0, &e);
    if (!j)
        fail_msg("not JSON (%s): %s", e.text, text ? text : "(null)");
    return j;
}

json_t *rp_suite_cli_json(rp_suite_t *self, const char *token, const char *const *args)
{
    const char *argv[64] = { "--json" };
    size_t n = 1;
    for (; args[n - 1]; n++) {
        assert_true(n + 1 < sizeof argv / sizeof argv[0]);
        argv[n] = args[n - 1];
    }
    argv[n] = NULL;
    rp_cli_run_t r = rp_suite_cli(self, token, NULL, argv);
    if (r.status != 0)
        fail_msg("rapport %s %s: exit %d: %s", args[0], args[1] ? args[1] : "", r.status, r.err);
    json_t *j = rp_test_json(r.out);
    rp_cli_run_free(&r);
    return j;
}

char *rp_test_file(const char *path)
{
    char *data = NULL;
    size_t len = 0;
    if (rp_read_file(path, 16 << 20, &data, &len) != 0)
        return NULL;
    return data;
}

bool rp_test_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

void rp_test_assert_private(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0600);
}
