/* harness.h - start real Rapport service processes for integration tests.
 *
 * rp_suite_new makes a temporary directory with data/ and keys/ (service certs,
 * a client cert in the allowlist, the token issuer key), so each test runs on its
 * own LMDB over real loopback sockets. rp_suite_start spawns bin/rapport-<name>
 * with RAPPORT_* pointing there, binding free ports on 127.0.0.1 (rp_suite_free_ports),
 * and waits for the service's ready file to learn its endpoints.
 */
#ifndef RAPPORT_HARNESS_H
#define RAPPORT_HARNESS_H
#include <stdint.h>
#include <stdbool.h>
#include <sys/types.h>
#include <jansson.h>
#include "rapport/client.h"
#include "rapport/consumer.h"
#include "rapport/jwt.h"

typedef struct rp_suite rp_suite_t;

/* rp_suite_new - temp dir, keys and issuer. Asserts on failure. */
rp_suite_t *rp_suite_new(void);
/* rp_suite_destroy - stop every process (SIGTERM, then SIGKILL after 5 s), remove the dir.
 * Fails the test (after cleaning up) when a service did not exit 0 on SIGTERM. */
void rp_suite_destroy(rp_suite_t **self_p);
const char *rp_suite_dir(rp_suite_t *self);

/* rp_suite_start - start service `name` (e.g. "leads") with extra environment
 * entries ("RAPPORT_TEST_CLOCK=1", NULL-terminated, may be NULL); waits until ready
 * (asserts within 10 s). Restarting after a stop/kill reuses the same data dir. */
pid_t rp_suite_start(rp_suite_t *self, const char *name, const char *const *env);
/* rp_suite_start_following - start service `name` following the events of the
 * running service `upstream` (RAPPORT_<UPSTREAM>_ENDPOINT / _PUB_ENDPOINT set to it)
 * with a fresh service token (sub "svc-<name>", role integration, 1 hour), plus the
 * extra environment env (may be NULL). E.g. leads following identity's revocations. */
pid_t rp_suite_start_following(rp_suite_t *self, const char *name, const char *upstream,
                               const char *const *env);
/* rp_it_violation - st names a field violation on exactly this field. */
bool rp_it_violation(const rp_call_status_t *st, const char *field);
/* rp_suite_free_ports - the first of n adjacent TCP ports free on 127.0.0.1, in
 * RP_SUITE_PORT_LO..HI: below the kernel's ephemeral range (32768..), so no client
 * connection takes one while a service is down. Services started by the suite bind
 * such ports, and a restart binds the same ones again. Asserts on failure. */
#define RP_SUITE_PORT_LO 20000
#define RP_SUITE_PORT_HI 32000
int rp_suite_free_ports(int n);
/* rp_suite_kill - send sig (SIGKILL, SIGTERM) and wait for exit; returns the wait status. */
int rp_suite_kill(rp_suite_t *self, const char *name, int sig);
/* Endpoints of a running service (borrowed). */
const char *rp_suite_rpc(rp_suite_t *self, const char *name);
const char *rp_suite_pub(rp_suite_t *self, const char *name);
const char *rp_suite_http(rp_suite_t *self, const char *name);   /* "127.0.0.1:PORT" */
/* rp_suite_server_key - the service's Z85 public key. Borrowed. */
const char *rp_suite_server_key(rp_suite_t *self, const char *name);

/* rp_suite_token - mint a token (malloc'd) for sub with one role, branch, unit, and
 * expiry ttl_s seconds from now (negative: already expired). scope NULL = the role's. */
char *rp_suite_token(rp_suite_t *self, const char *sub, const char *role, const char *branch,
                     const char *unit, const char *scope, int64_t ttl_s);
/* rp_suite_token_for - the same for a delegate: sub acting on_behalf_of another
 * user (the role's scope). */
char *rp_suite_token_for(rp_suite_t *self, const char *sub, const char *role, const char *branch,
                         const char *unit, const char *on_behalf_of, int64_t ttl_s);
/* rp_suite_token_limits - the same with the holder's authority limits (jwt.h): the
 * largest contract value they may sign (minor units) and the largest discount (bp). */
char *rp_suite_token_limits(rp_suite_t *self, const char *sub, const char *role, const char *branch,
                            const char *unit, const char *scope, int64_t ttl_s,
                            int64_t limit_contract_value, int32_t limit_discount_bp);
/* rp_suite_token_claims - mint exactly these claims (several roles, on_behalf_of,
 * ...), with iat/nbf/exp set from ttl_s as above and jti generated when empty. */
char *rp_suite_token_claims(rp_suite_t *self, const rp_claims_t *claims, int64_t ttl_s);
/* rp_suite_client - a client of service `name` with the allowlisted client key and token. */
rp_client_t *rp_suite_client(rp_suite_t *self, const char *name, const char *token);
/* rp_suite_client_cert - the allowlisted client key pair. Borrowed. */
const rp_curve_t *rp_suite_client_cert(rp_suite_t *self);
/* rp_suite_bin - path of a built binary ("rapport", "rapport-leads") into a static buffer. */
const char *rp_suite_bin(const char *binary);
/* rp_suite_run_cli - run `rapport args...` with the suite's environment; capture stdout
 * (malloc'd, may be NULL) and return the exit status.
 * The CLI gets RAPPORT_DATA, RAPPORT_KEYS (its cert is "cli"), HOME=<suite dir> (no
 * token file from the real home), RAPPORT_TOKEN when token is non-NULL, and
 * RAPPORT_<NAME>_ENDPOINT / _PUB_ENDPOINT of every service started in the suite.
 * Its stderr goes to the test's stderr. Killed after 60 s (status 128+9). */
int rp_suite_run_cli(rp_suite_t *self, const char *token, char **out, const char *const *args);

/* The outcome of one CLI run: exit status (128 + signal when killed), and what it
 * wrote to stdout and stderr (malloc'd; free with rp_cli_run_free). */
typedef struct {
    int status;
    char *out, *err;
} rp_cli_run_t;
/* rp_suite_cli - run `rapport args...` like rp_suite_run_cli, with input (may be
 * NULL) on its stdin, capturing stdout and stderr (stderr also echoed to the
 * test's stderr for the report of a failure). At most 60 s. */
rp_cli_run_t rp_suite_cli(rp_suite_t *self, const char *token, const char *input,
                          const char *const *args);
void rp_cli_run_free(rp_cli_run_t *r);
/* rp_suite_cli_spawn / rp_suite_cli_wait - start `rapport args...` without waiting
 * (stdin empty, stdout and stderr the test's); then its exit status. */
pid_t rp_suite_cli_spawn(rp_suite_t *self, const char *token, const char *const *args);
int rp_suite_cli_wait(pid_t pid);

/* rp_test_json - text parsed as JSON (json_decref); fails the test when it is not. */
json_t *rp_test_json(const char *text);
/* rp_suite_cli_json - run `rapport --json args...` (harness_cli.c); fails the test
 * unless it exits 0 with JSON on stdout; that JSON (json_decref). */
json_t *rp_suite_cli_json(rp_suite_t *self, const char *token, const char *const *args);

/* rp_test_file - the whole file at path (up to 16 MiB; free), or NULL when it cannot
 * be read (harness_cli.c). */
char *rp_test_file(const char *path);
/* rp_test_exists - whether path exists. */
bool rp_test_exists(const char *path);
/* rp_test_assert_private - fails the test unless path is a regular file of mode 0600
 * (a token or key file). */
void rp_test_assert_private(const char *path);

/* ---- additions (service-agnostic helpers over the System methods) ---- */

/* rp_suite_pid - the pid of a running service, 0 when it is not running. */
pid_t rp_suite_pid(rp_suite_t *self, const char *name);
/* rp_suite_print_log - the tail of the service's log (<dir>/<name>.log) on stderr. */
void rp_suite_print_log(rp_suite_t *self, const char *name);
/* rp_suite_admin_token - a token of role admin (system.*, events.replay, audit.read),
 * minted once per suite. Borrowed; valid until rp_suite_destroy. */
const char *rp_suite_admin_token(rp_suite_t *self);
/* rp_suite_last_seq - System/Health's last_seq of a running service (asserts OK). */
uint64_t rp_suite_last_seq(rp_suite_t *self, const char *name);
/* rp_suite_replay - every event with seq >= from_seq (whose type starts with
 * type_prefix; NULL = all) up to the end of the log, through System/Replay with the
 * admin token, paging as needed. Returns a malloc'd array of *n events (NULL when
 * none); free with rp_suite_events_free. Asserts the calls succeed. */
Rapport__V1__Event **rp_suite_replay(rp_suite_t *self, const char *name, uint64_t from_seq,
                                     const char *type_prefix, size_t *n);
void rp_suite_events_free(Rapport__V1__Event ***events_p, size_t n);
/* rp_suite_now - System/Health's clock of a running service (asserts OK). */
int64_t rp_suite_now(rp_suite_t *self, const char *name);
/* rp_suite_clock_advance - System/ClockAdvance by ms (the service must run with
 * RAPPORT_TEST_CLOCK=1); returns the new time. Asserts OK. */
int64_t rp_suite_clock_advance(rp_suite_t *self, const char *name, int64_t ms);
/* rp_suite_count_events - how many events of exactly this full type (e.g.
 * "rapport.contracts.v1.contract.signed") about subject (NULL: any) the service
 * appended after seq after_seq. */
size_t rp_suite_count_events(rp_suite_t *self, const char *name, uint64_t after_seq,
                             const char *type, const char *subject);
/* rp_suite_wipe_offsets - with service `name` stopped, empty its LMDB table
 * `offsets` (its position in every upstream's stream): its next start applies every
 * upstream event again. Asserts it worked. */
void rp_suite_wipe_offsets(rp_suite_t *self, const char *name);


#endif
