/* harness.c - start real Rapport service processes for integration tests.
 *
 * A suite is a temporary directory (data/, keys/ with every service's CURVE cert,
 * an allowlisted client cert "cli" and the token issuer key) plus the service
 * processes started in it. Children are forked and exec'd with a prepared
 * environment (nothing but async-signal-safe calls between fork and exec), die with
 * the test process (PR_SET_PDEATHSIG), and are always reaped: by rp_suite_kill,
 * rp_suite_destroy, or an atexit hook for suites a crashed test never destroyed.
 *
 * Extra knobs for debugging a failing test (environment of the test process):
 *   RAPPORT_IT_KEEP=1          keep the temporary directory (its path is printed)
 *   RAPPORT_IT_LOG_LEVEL=debug log level of the started services (default warn)
 *   RAPPORT_IT_START_MS=20000  how long to wait for a service to be ready (10000)
 *   RAPPORT_IT_ALLOW_UNCLEAN=1 do not fail rp_suite_destroy when a service does not
 *                              exit 0 on SIGTERM (a drain bug, or a sanitizer report)
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <sodium.h>
#include <lmdb.h>

#include "harness.h"
#include "rapport/keys.h"
#include "rapport/log.h"
#include "rapport/perm.h"
#include "rapport/services.h"
#include "rapport/util.h"
#include "rapport/sys/v1/system.pb-c.h"

#ifndef RAPPORT_BIN_DIR
#define RAPPORT_BIN_DIR "./bin"
#endif

extern char **environ;

#define MAX_PROCS 16
#define MAX_ENV 512

typedef struct {
    char name[32];
    pid_t pid;              /* 0 when not running */
    bool started;           /* ever started: endpoints below are known */
    char rpc[256];
    char pub[256];
    char http[128];
    char server_key[41];
} s_proc_t;

struct rp_suite {
    char dir[PATH_MAX / 2];
    char data[PATH_MAX];
    char keys[PATH_MAX];
    rp_curve_t *cli;
    unsigned char *issuer_sk;       /* sodium_malloc'd, 64 bytes */
    s_proc_t procs[MAX_PROCS];
    size_t n_procs;
    char *admin_token;              /* minted on first use */
    rp_suite_t *next;               /* registry for the atexit hook */
};

static rp_suite_t *s_suites;
static bool s_atexit_set;

/* ---- small helpers ---- */

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

/* s_log_path - <dir>/<name>.log into out. */
static void s_log_path(const rp_suite_t *self, const char *name, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s.log", self->dir, name);
}

/* s_print_tail - the last `bytes` of a service's log on stderr. */
static void s_print_tail(const rp_suite_t *self, const char *name, long bytes)
{
    char path[PATH_MAX + 64];
    s_log_path(self, name, path, sizeof path);
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "harness: no log %s\n", path);
        return;
    }
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    long from = size > bytes ? size - bytes : 0;
    fseek(f, from, SEEK_SET);
    fprintf(stderr, "---- harness: tail of %s ----\n", path);
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        fwrite(buf, 1, n, stderr);
    fprintf(stderr, "---- end of %s ----\n", path);
    fclose(f);
}

static s_proc_t *s_proc_find(rp_suite_t *self, const char *name)
{
    for (size_t i = 0; i < self->n_procs; i++)
        if (strcmp(self->procs[i].name, name) == 0)
            return &self->procs[i];
    return NULL;
}

static s_proc_t *s_proc_get(rp_suite_t *self, const char *name)
{
    s_proc_t *p = s_proc_find(self, name);
    if (p)
        return p;
    assert_true(self->n_procs < MAX_PROCS);
    assert_true(strlen(name) < sizeof p->name);
    p = &self->procs[self->n_procs++];
    memset(p, 0, sizeof *p);
    rp_strlcpy(p->name, name, sizeof p->name);
    return p;
}

/* s_wait_timeout - waitpid with a deadline; SIGKILL when it passes. The wait status. */
static int s_wait_timeout(pid_t pid, int timeout_ms)
{
    int status = 0;
    int64_t until = s_mono_ms() + timeout_ms;
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            return status;
        if (r == -1 && errno != EINTR)
            return -1;
        if (s_mono_ms() >= until) {
            kill(pid, SIGKILL);
            while ((r = waitpid(pid, &status, 0)) == -1 && errno == EINTR) {
            }
            return r == pid ? status : -1;
        }
        s_sleep_ms(10);
    }
}

/* ---- environment building (in the parent, before fork) ---- */

typedef struct {
    char *v[MAX_ENV];
    size_t n;
} s_env_t;

/* s_env_put - add or replace "KEY=value" (entry copied). */
static void s_env_put(s_env_t *e, const char *entry)
{
    const char *eq = strchr(entry, '=');
    assert_non_null(eq);
    size_t klen = (size_t) (eq - entry) + 1;
    for (size_t i = 0; i < e->n; i++)
        if (strncmp(e->v[i], entry, klen) == 0) {
            free(e->v[i]);
            e->v[i] = rp_strdup(entry);
            return;
        }
    assert_true(e->n + 1 < MAX_ENV);
    e->v[e->n++] = rp_strdup(entry);
    e->v[e->n] = NULL;
}

static void s_env_setf(s_env_t *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void s_env_setf(s_env_t *e, const char *fmt, ...)
{
    char buf[4096 + 256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    assert_true(n > 0 && (size_t) n < sizeof buf);
    s_env_put(e, buf);
}

/* s_env_base - the test process's environment without any RAPPORT_* (hermetic),
 * plus the suite's data and keys and the log level. */
static void s_env_base(rp_suite_t *self, s_env_t *e)
{
    e->n = 0;
    e->v[0] = NULL;
    for (char **p = environ; p && *p; p++)
        if (strncmp(*p, "RAPPORT_", 8) != 0 && strchr(*p, '='))
            s_env_put(e, *p);
    s_env_setf(e, "RAPPORT_DATA=%s", self->data);
    s_env_setf(e, "RAPPORT_KEYS=%s", self->keys);
    const char *lvl = getenv("RAPPORT_IT_LOG_LEVEL");
    s_env_setf(e, "RAPPORT_LOG_LEVEL=%s", lvl && *lvl ? lvl : "warn");
}

static void s_env_free(s_env_t *e)
{
    for (size_t i = 0; i < e->n; i++)
        free(e->v[i]);
    e->n = 0;
}

/* s_is_secret - true for a NAME=value whose name says it holds a token or key:
 * never printed, even in a failing test's report. */
static bool
s_is_secret(const char *entry)
{
    const char *eq = strchr(entry, '=');
    size_t n = eq ? (size_t) (eq - entry) : strlen(entry);
    char name[128];
    if (n >= sizeof name)
        return true;
    memcpy(name, entry, n);
    name[n] = '\0';
    return strstr(name, "TOKEN") || strstr(name, "SECRET") || strstr(name, "KEY");
}

/* s_extra_has - true when the extra environment sets KEY. */
static bool s_extra_has(const char *const *env, const char *key)
{
    size_t klen = strlen(key);
    for (size_t i = 0; env && env[i]; i++)
        if (strncmp(env[i], key, klen) == 0 && env[i][klen] == '=')
            return true;
    return false;
}

/* s_spawn - fork and exec path with argv/envp; stdin from /dev/null, stdout to
 * out_fd, stderr to err_fd (-1: inherit). The child dies with us. */
static pid_t s_spawn(const char *path, char *const argv[], char *const envp[], int in_fd,
                     int out_fd, int err_fd)
{
    pid_t parent = getpid();
    int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    assert_true(null_fd >= 0);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* Child: async-signal-safe calls only. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGPIPE, SIG_DFL);
        if (dup2(in_fd >= 0 ? in_fd : null_fd, 0) < 0)
            _exit(127);
        if (out_fd >= 0 && dup2(out_fd, 1) < 0)
            _exit(127);
        if (err_fd >= 0 && dup2(err_fd, 2) < 0)
            _exit(127);
        close_range(3, ~0U, 0);
        execve(path, argv, envp);
        static const char msg[] = "harness: cannot execute ";
        ssize_t w = write(2, msg, sizeof msg - 1);
        w = write(2, path, strlen(path));
        w = write(2, "\n", 1);
        (void) w;
        _exit(127);
    }
    close(null_fd);
    return pid;
}

/* ---- the atexit hook: no child outlives a test process that forgot to clean up ---- */

static void s_kill_all(rp_suite_t *self, int sig)
{
    for (size_t i = 0; i < self->n_procs; i++)
        if (self->procs[i].pid > 0)
            kill(self->procs[i].pid, sig);
}

static int s_rm(const char *path, const struct stat *sb, int flag, struct FTW *ftw);
static bool s_keep(void);

/* s_atexit - suites a test never destroyed (its setup failed, or it forgot): kill
 * their processes, remove their directories, free them. */
static void s_atexit(void)
{
    while (s_suites) {
        rp_suite_t *s = s_suites;
        s_suites = s->next;
        for (size_t i = 0; i < s->n_procs; i++) {
            if (s->procs[i].pid > 0) {
                kill(s->procs[i].pid, SIGKILL);
                waitpid(s->procs[i].pid, NULL, 0);
                s->procs[i].pid = 0;
            }
        }
        if (s_keep())
            fprintf(stderr, "harness: kept %s\n", s->dir);
        else
            nftw(s->dir, s_rm, 16, FTW_DEPTH | FTW_PHYS);
        rp_curve_destroy(&s->cli);
        free(s->admin_token);
        if (s->issuer_sk)
            sodium_free(s->issuer_sk);
        free(s);
    }
}

static void s_register(rp_suite_t *self)
{
    if (!s_atexit_set) {
        atexit(s_atexit);
        s_atexit_set = true;
    }
    self->next = s_suites;
    s_suites = self;
}

static void s_unregister(rp_suite_t *self)
{
    for (rp_suite_t **p = &s_suites; *p; p = &(*p)->next)
        if (*p == self) {
            *p = self->next;
            return;
        }
}

/* ---- suite ---- */

rp_suite_t *rp_suite_new(void)
{
    assert_true(sodium_init() >= 0);
    /* librapport's own log lines in the test process (keys created, ...) at the
     * services' level: quiet unless asked. */
    const char *lvl = getenv("RAPPORT_IT_LOG_LEVEL");
    rp_log_init("harness", lvl && *lvl ? lvl : "warn");
    /* A child that dies must not kill us with SIGPIPE while we read its output. */
    signal(SIGPIPE, SIG_IGN);
    rp_suite_t *self = rp_calloc(1, sizeof *self);
    const char *tmp = getenv("TMPDIR");
    if (!tmp || !*tmp)
        tmp = "/tmp";
    int n = snprintf(self->dir, sizeof self->dir, "%s/rapport-it-XXXXXX", tmp);
    assert_true(n > 0 && (size_t) n < sizeof self->dir);
    assert_non_null(mkdtemp(self->dir));
    snprintf(self->data, sizeof self->data, "%s/data", self->dir);
    snprintf(self->keys, sizeof self->keys, "%s/keys", self->dir);
    assert_int_equal(mkdir(self->data, 0700), 0);
    assert_int_equal(mkdir(self->keys, 0700), 0);

    for (const rp_service_info_t *s = rp_services(); s && s->name; s++)
        assert_int_equal(rp_keys_ensure_curve(self->keys, s->name, true), 0);
    assert_int_equal(rp_keys_ensure_curve(self->keys, "cli", true), 0);
    self->cli = rp_curve_load(self->keys, "cli");
    assert_non_null(self->cli);
    assert_int_equal(rp_keys_ensure_issuer(self->keys), 0);
    assert_int_equal(rp_issuer_secret_load(self->keys, &self->issuer_sk), 0);
    s_register(self);
    return self;
}

const char *rp_suite_dir(rp_suite_t *self)
{
    assert_non_null(self);
    return self->dir;
}

static bool s_keep(void)
{
    const char *keep = getenv("RAPPORT_IT_KEEP");
    return keep && *keep && strcmp(keep, "0") != 0;
}

static int s_rm(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void) sb;
    (void) flag;
    (void) ftw;
    if (remove(path) != 0)
        fprintf(stderr, "harness: cannot remove %s: %s\n", path, strerror(errno));
    return 0;
}

/* s_stop - wait up to 5 s for a process already sent SIGTERM, then SIGKILL.
 * false (with its log on stderr) when it did not exit 0: SIGTERM drains and exits 0
 * (DESIGN.md §9), and under the sanitizers a leak or an error exits non-zero. */
static bool s_stop(rp_suite_t *self, s_proc_t *p)
{
    if (p->pid <= 0)
        return true;
    int status = s_wait_timeout(p->pid, 5000);
    p->pid = 0;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return true;
    if (status == -1)
        fprintf(stderr, "harness: rapport-%s: waitpid failed\n", p->name);
    else if (WIFEXITED(status))
        fprintf(stderr, "harness: rapport-%s exited %d on SIGTERM\n", p->name, WEXITSTATUS(status));
    else if (WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM)
        fprintf(stderr, "harness: rapport-%s was killed by SIGTERM instead of draining "
                "(no handler installed?)\n", p->name);
    else if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
        fprintf(stderr, "harness: rapport-%s did not exit within 5 s of SIGTERM; killed\n",
                p->name);
    else
        fprintf(stderr, "harness: rapport-%s died of signal %d after SIGTERM\n", p->name,
                WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    s_print_tail(self, p->name, 8192);
    return false;
}

void rp_suite_destroy(rp_suite_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    rp_suite_t *self = *self_p;
    /* Signal everyone first so they drain in parallel, then reap. */
    s_kill_all(self, SIGTERM);
    char unclean[256] = "";
    for (size_t i = 0; i < self->n_procs; i++)
        if (!s_stop(self, &self->procs[i])) {
            size_t l = strlen(unclean);
            snprintf(unclean + l, sizeof unclean - l, " %s", self->procs[i].name);
        }
    s_unregister(self);
    if (s_keep())
        fprintf(stderr, "harness: kept %s\n", self->dir);
    else
        nftw(self->dir, s_rm, 16, FTW_DEPTH | FTW_PHYS);
    rp_curve_destroy(&self->cli);
    free(self->admin_token);
    if (self->issuer_sk)
        sodium_free(self->issuer_sk);
    free(self);
    *self_p = NULL;
    const char *allow = getenv("RAPPORT_IT_ALLOW_UNCLEAN");
    if (unclean[0] && !(allow && *allow && strcmp(allow, "0") != 0))
        fail_msg("harness: not a clean exit on SIGTERM:%s (see the log above)", unclean);
}

/* s_parse_endpoints - read <data>/<name>/endpoints into p. 0 when complete. */
static int s_parse_endpoints(const char *path, s_proc_t *p, pid_t *pid_out)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char line[512];
    char rpc[256] = "", pub[256] = "", http[128] = "";
    long pid = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (strncmp(line, "rpc=", 4) == 0)
            rp_strlcpy(rpc, line + 4, sizeof rpc);
        else if (strncmp(line, "pub=", 4) == 0)
            rp_strlcpy(pub, line + 4, sizeof pub);
        else if (strncmp(line, "http=", 5) == 0)
            rp_strlcpy(http, line + 5, sizeof http);
        else if (strncmp(line, "pid=", 4) == 0)
            pid = strtol(line + 4, NULL, 10);
    }
    fclose(f);
    if (!*rpc || !*pub)
        return -1;
    rp_strlcpy(p->rpc, rpc, sizeof p->rpc);
    rp_strlcpy(p->pub, pub, sizeof p->pub);
    rp_strlcpy(p->http, http, sizeof p->http);
    *pid_out = (pid_t) pid;
    return 0;
}

/* s_port_free - nothing is bound to 127.0.0.1:port (a bind with SO_REUSEADDR, as
 * ZeroMQ binds, succeeds). */
static bool s_port_free(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t) port) };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = bind(fd, (struct sockaddr *) &a, sizeof a) == 0;
    close(fd);
    return ok;
}

int rp_suite_free_ports(int n)
{
    assert_true(n >= 1 && n <= 8);
    for (int i = 0; i < 500; i++) {
        int p = RP_SUITE_PORT_LO + (int) randombytes_uniform((uint32_t) (RP_SUITE_PORT_HI - RP_SUITE_PORT_LO - n));
        bool ok = true;
        for (int k = 0; k < n && ok; k++)
            ok = s_port_free(p + k);
        if (ok)
            return p;
    }
    fail_msg("harness: no %d free adjacent ports in %d..%d", n, RP_SUITE_PORT_LO, RP_SUITE_PORT_HI);
    return -1;
}

/* s_start_once - spawn and wait for the ready file. The pid, or -1 when the process
 * exited before it was ready (*status set), or -2 on timeout (process killed). */
static pid_t s_start_once(rp_suite_t *self, s_proc_t *p, const char *const *extra,
                          bool reuse_ports, int *status)
{
    char bin[PATH_MAX];
    char rapport_name[64];
    snprintf(rapport_name, sizeof rapport_name, "rapport-%s", p->name);
    rp_strlcpy(bin, rp_suite_bin(rapport_name), sizeof bin);

    char ready[PATH_MAX + 64];
    snprintf(ready, sizeof ready, "%s/%s/endpoints", self->data, p->name);
    unlink(ready);

    s_env_t env;
    s_env_base(self, &env);
    if (reuse_ports && p->started) {
        s_env_setf(&env, "RAPPORT_BIND=%s", p->rpc);
        s_env_setf(&env, "RAPPORT_PUB_BIND=%s", p->pub);
        s_env_setf(&env, "RAPPORT_HTTP=%s", p->http[0] ? p->http : "127.0.0.1:0");
    } else {
        /* Ports below the kernel's ephemeral range, so that no client connection
         * of this or another test holds one when the service restarts on it. */
        int port = rp_suite_free_ports(3);
        s_env_setf(&env, "RAPPORT_BIND=tcp://127.0.0.1:%d", port);
        s_env_setf(&env, "RAPPORT_PUB_BIND=tcp://127.0.0.1:%d", port + 1);
        s_env_setf(&env, "RAPPORT_HTTP=127.0.0.1:%d", port + 2);
    }
    for (size_t i = 0; extra && extra[i]; i++)
        s_env_put(&env, extra[i]);

    char log[PATH_MAX + 64];
    s_log_path(self, p->name, log, sizeof log);
    int log_fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    assert_true(log_fd >= 0);
    char *argv[] = { bin, NULL };
    pid_t pid = s_spawn(bin, argv, env.v, -1, log_fd, log_fd);
    close(log_fd);
    /* What it was started with, for the report when it does not come up. */
    char started_with[1024] = "";
    for (size_t i = 0; i < env.n; i++)
        if (strncmp(env.v[i], "RAPPORT_", 8) == 0 && strncmp(env.v[i], "RAPPORT_KEYS=", 13) != 0
            && strncmp(env.v[i], "RAPPORT_DATA=", 13) != 0 && !s_is_secret(env.v[i])) {
            size_t l = strlen(started_with);
            snprintf(started_with + l, sizeof started_with - l, " %s", env.v[i]);
        }
    s_env_free(&env);

    const char *t = getenv("RAPPORT_IT_START_MS");
    int64_t wait_ms = t && atoll(t) > 0 ? atoll(t) : 10000;
    int64_t until = s_mono_ms() + wait_ms;
    s_proc_t got = *p;
    for (;;) {
        pid_t file_pid = 0;
        if (s_parse_endpoints(ready, &got, &file_pid) == 0 && (file_pid == 0 || file_pid == pid)) {
            rp_strlcpy(p->rpc, got.rpc, sizeof p->rpc);
            rp_strlcpy(p->pub, got.pub, sizeof p->pub);
            rp_strlcpy(p->http, got.http, sizeof p->http);
            p->pid = pid;
            p->started = true;
            return pid;
        }
        int st = 0;
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid) {
            *status = st;
            fprintf(stderr, "harness: rapport-%s (pid %d, started with%s) exited before it was "
                    "ready: status 0x%x\n", p->name, (int) pid, started_with, (unsigned) st);
            return -1;
        }
        if (s_mono_ms() >= until) {
            fprintf(stderr, "harness: rapport-%s (pid %d, started with%s) not ready within %lld ms\n",
                    p->name, (int) pid, started_with, (long long) wait_ms);
            kill(pid, SIGKILL);
            waitpid(pid, status, 0);
            return -2;
        }
        s_sleep_ms(10);
    }
}

pid_t rp_suite_start(rp_suite_t *self, const char *name, const char *const *env)
{
    assert_non_null(self);
    assert_non_null(name);
    s_proc_t *p = s_proc_get(self, name);
    if (p->pid > 0)
        fail_msg("harness: %s is already running (pid %d)", name, (int) p->pid);
    char binary[64];
    snprintf(binary, sizeof binary, "rapport-%s", name);
    if (access(rp_suite_bin(binary), X_OK) != 0)
        fail_msg("harness: %s is not built (set RAPPORT_BIN_DIR?)", rp_suite_bin(binary));
    if (!p->server_key[0] && rp_curve_public_load(self->keys, name, p->server_key) != 0) {
        /* Not in services.h: the service makes its own cert; read it once ready. */
        p->server_key[0] = '\0';
    }
    /* A restart binds the ports it had, so clients and consumers reconnect on their
     * own; unless the caller chose endpoints, or those ports are taken now. */
    bool reuse = p->started && !s_extra_has(env, "RAPPORT_BIND") &&
                 !s_extra_has(env, "RAPPORT_PUB_BIND") && !s_extra_has(env, "RAPPORT_HTTP");
    int status = 0;
    pid_t pid = s_start_once(self, p, env, reuse, &status);
    if (pid == -1 && reuse) {
        fprintf(stderr, "harness: %s could not rebind %s (status 0x%x); using new ports\n",
                name, p->rpc, (unsigned) status);
        pid = s_start_once(self, p, env, false, &status);
    } else if (pid == -1 && WIFEXITED(status) && WEXITSTATUS(status) == 1) {
        /* Another test may have bound the ports picked for it in the meantime. */
        fprintf(stderr, "harness: %s failed to start (status 0x%x); once more on other ports\n",
                name, (unsigned) status);
        pid = s_start_once(self, p, env, false, &status);
    }
    if (pid < 0) {
        s_print_tail(self, name, 8192);
        if (pid == -1)
            fail_msg("harness: rapport-%s exited before ready (status 0x%x)", name,
                     (unsigned) status);
        fail_msg("harness: rapport-%s not ready within the start timeout", name);
    }
    if (!p->server_key[0] && rp_curve_public_load(self->keys, name, p->server_key) != 0)
        fail_msg("harness: no CURVE cert for %s in %s", name, self->keys);
    return pid;
}

int rp_suite_kill(rp_suite_t *self, const char *name, int sig)
{
    assert_non_null(self);
    s_proc_t *p = s_proc_find(self, name);
    if (!p || p->pid <= 0)
        fail_msg("harness: %s is not running", name);
    assert_int_equal(kill(p->pid, sig), 0);
    /* A signal that does not end the process would hang us: give up after 30 s. */
    int status = s_wait_timeout(p->pid, sig == SIGKILL ? 10000 : 30000);
    p->pid = 0;
    return status;
}

static s_proc_t *s_running(rp_suite_t *self, const char *name)
{
    assert_non_null(self);
    assert_non_null(name);
    s_proc_t *p = s_proc_find(self, name);
    if (!p || !p->started)
        fail_msg("harness: %s was never started", name);
    return p;
}

const char *rp_suite_rpc(rp_suite_t *self, const char *name)
{
    return s_running(self, name)->rpc;
}

const char *rp_suite_pub(rp_suite_t *self, const char *name)
{
    return s_running(self, name)->pub;
}

const char *rp_suite_http(rp_suite_t *self, const char *name)
{
    return s_running(self, name)->http;
}

const char *rp_suite_server_key(rp_suite_t *self, const char *name)
{
    assert_non_null(self);
    s_proc_t *p = s_proc_find(self, name);
    if (p && p->server_key[0])
        return p->server_key;
    p = s_proc_get(self, name);
    if (rp_curve_public_load(self->keys, name, p->server_key) != 0)
        fail_msg("harness: no CURVE cert for %s", name);
    return p->server_key;
}

static char *s_mint(rp_suite_t *self, const char *sub, const char *role, const char *branch,
                    const char *unit, const char *scope, const char *on_behalf_of, int64_t ttl_s,
                    int64_t limit_contract_value, int32_t limit_discount_bp);

char *rp_suite_token(rp_suite_t *self, const char *sub, const char *role, const char *branch,
                     const char *unit, const char *scope, int64_t ttl_s)
{
    return rp_suite_token_limits(self, sub, role, branch, unit, scope, ttl_s, 0, 0);
}

char *rp_suite_token_limits(rp_suite_t *self, const char *sub, const char *role, const char *branch,
                            const char *unit, const char *scope, int64_t ttl_s,
                            int64_t limit_contract_value, int32_t limit_discount_bp)
{
    return s_mint(self, sub, role, branch, unit, scope, NULL, ttl_s, limit_contract_value, limit_discount_bp);
}

char *rp_suite_token_for(rp_suite_t *self, const char *sub, const char *role, const char *branch,
                         const char *unit, const char *on_behalf_of, int64_t ttl_s)
{
    return s_mint(self, sub, role, branch, unit, NULL, on_behalf_of, ttl_s, 0, 0);
}

/* s_mint - a token for the claims given; on_behalf_of NULL: not delegated. */
static char *s_mint(rp_suite_t *self, const char *sub, const char *role, const char *branch,
                    const char *unit, const char *scope, const char *on_behalf_of, int64_t ttl_s,
                    int64_t limit_contract_value, int32_t limit_discount_bp)
{
    assert_non_null(self);
    assert_non_null(self->issuer_sk);
    rp_claims_t c;
    memset(&c, 0, sizeof c);
    rp_strlcpy(c.sub, sub ? sub : "", sizeof c.sub);
    rp_strlcpy(c.branch, branch ? branch : "", sizeof c.branch);
    rp_strlcpy(c.unit, unit ? unit : "", sizeof c.unit);
    if (!scope) {
        const rp_role_t *r = role ? rp_role_find(role) : NULL;
        scope = r && r->scope ? r->scope : "own";
    }
    rp_strlcpy(c.scope, scope, sizeof c.scope);
    rp_strlcpy(c.on_behalf_of, on_behalf_of ? on_behalf_of : "", sizeof c.on_behalf_of);
    if (role) {
        rp_strlcpy(c.roles[0], role, sizeof c.roles[0]);
        c.n_roles = 1;
    }
    c.limit_contract_value = limit_contract_value;
    c.limit_discount_bp = limit_discount_bp;
    return rp_suite_token_claims(self, &c, ttl_s);
}

char *rp_suite_token_claims(rp_suite_t *self, const rp_claims_t *claims, int64_t ttl_s)
{
    assert_non_null(self);
    assert_non_null(self->issuer_sk);
    rp_claims_t c = *claims;
    int64_t now = (int64_t) time(NULL);
    c.exp = now + ttl_s;
    c.iat = ttl_s < 0 ? c.exp - 3600 : now;
    c.nbf = c.iat;
    char *tok = rp_jwt_mint(&c, self->issuer_sk);
    assert_non_null(tok);
    return tok;
}

rp_client_t *rp_suite_client(rp_suite_t *self, const char *name, const char *token)
{
    s_proc_t *p = s_running(self, name);
    rp_client_t *c = rp_client_new(p->rpc, rp_suite_server_key(self, name), self->cli, token);
    assert_non_null(c);
    return c;
}

const rp_curve_t *rp_suite_client_cert(rp_suite_t *self)
{
    assert_non_null(self);
    return self->cli;
}

const char *rp_suite_bin(const char *binary)
{
    static char path[PATH_MAX];
    const char *dir = getenv("RAPPORT_BIN_DIR");
    if (!dir || !*dir)
        dir = RAPPORT_BIN_DIR;
    snprintf(path, sizeof path, "%s/%s", dir, binary);
    return path;
}

/* s_cli_start - fork `rapport args` with the suite's environment (no outer RAPPORT_*,
 * the suite's data and keys, HOME in the suite dir, the running services'
 * endpoints, RAPPORT_TOKEN when token is given) on the given descriptors. */
static pid_t s_cli_start(rp_suite_t *self, const char *token, const char *const *args,
                         int in_fd, int out_fd, int err_fd)
{
    s_env_t env;
    s_env_base(self, &env);
    /* Hermetic: no token file from the real home directory. */
    s_env_setf(&env, "HOME=%s", self->dir);
    if (token)
        s_env_setf(&env, "RAPPORT_TOKEN=%s", token);
    for (size_t i = 0; i < self->n_procs; i++) {
        s_proc_t *p = &self->procs[i];
        if (!p->started)
            continue;
        char up[32];
        size_t k = 0;
        for (; p->name[k] && k + 1 < sizeof up; k++)
            up[k] = (char) toupper((unsigned char) p->name[k]);
        up[k] = '\0';
        s_env_setf(&env, "RAPPORT_%s_ENDPOINT=%s", up, p->rpc);
        s_env_setf(&env, "RAPPORT_%s_PUB_ENDPOINT=%s", up, p->pub);
    }
    char bin[PATH_MAX];
    rp_strlcpy(bin, rp_suite_bin("rapport"), sizeof bin);
    if (access(bin, X_OK) != 0) {
        s_env_free(&env);
        fail_msg("harness: %s is not built (set RAPPORT_BIN_DIR?)", bin);
    }
    size_t n_args = 0;
    while (args && args[n_args])
        n_args++;
    char **argv = rp_calloc(n_args + 2, sizeof *argv);
    argv[0] = bin;
    for (size_t i = 0; i < n_args; i++)
        argv[i + 1] = (char *) args[i];
    pid_t pid = s_spawn(bin, argv, env.v, in_fd, out_fd, err_fd);
    free(argv);
    s_env_free(&env);
    return pid;
}

/* s_exit_code - a wait status as the shell shows it: the exit code, 128 + signal. */
static int s_exit_code(int status)
{
    if (status == -1)
        return -1;
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return -1;
}

rp_cli_run_t rp_suite_cli(rp_suite_t *self, const char *token, const char *input,
                          const char *const *args)
{
    assert_non_null(self);
    int in[2], out[2], err[2];
    assert_int_equal(pipe2(in, O_CLOEXEC), 0);
    assert_int_equal(pipe2(out, O_CLOEXEC), 0);
    assert_int_equal(pipe2(err, O_CLOEXEC), 0);
    pid_t pid = s_cli_start(self, token, args, in[0], out[1], err[1]);
    close(in[0]);
    close(out[1]);
    close(err[1]);
    if (input) {                        /* small: fits the pipe */
        ssize_t w = write(in[1], input, strlen(input));
        assert_int_equal(w, (ssize_t) strlen(input));
    }
    close(in[1]);

    /* Read both (so the child never blocks on a full pipe), for at most 60 s. */
    int fds[2] = { out[0], err[0] };
    char *buf[2] = { rp_strdup(""), rp_strdup("") };
    size_t len[2] = { 0, 0 };
    bool open_[2] = { true, true };
    int64_t until = s_mono_ms() + 60000;
    while ((open_[0] || open_[1]) && s_mono_ms() < until) {
        struct pollfd p[2] = { { .fd = open_[0] ? fds[0] : -1, .events = POLLIN },
                               { .fd = open_[1] ? fds[1] : -1, .events = POLLIN } };
        if (poll(p, 2, 1000) < 0 && errno != EINTR)
            break;
        for (int i = 0; i < 2; i++) {
            if (!open_[i] || !(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            char chunk[4096];
            ssize_t got = read(fds[i], chunk, sizeof chunk);
            if (got < 0 && errno == EINTR)
                continue;
            if (got <= 0) {
                open_[i] = false;
                continue;
            }
            buf[i] = rp_realloc(buf[i], len[i] + (size_t) got + 1);
            memcpy(buf[i] + len[i], chunk, (size_t) got);
            len[i] += (size_t) got;
            buf[i][len[i]] = '\0';
        }
    }
    bool timed_out = open_[0] || open_[1];
    if (timed_out) {
        fprintf(stderr, "harness: `rapport %s` did not finish within 60 s; killed\n",
                args && args[0] ? args[0] : "");
        kill(pid, SIGKILL);
    }
    close(fds[0]);
    close(fds[1]);
    rp_cli_run_t r = { s_exit_code(s_wait_timeout(pid, timed_out ? 1000 : 60000)), buf[0], buf[1] };
    if (r.err[0])                       /* for the report of a failure */
        fprintf(stderr, "[rapport %s] %s", args && args[0] ? args[0] : "", r.err);
    return r;
}

void rp_cli_run_free(rp_cli_run_t *r)
{
    rp_free(r->out);
    rp_free(r->err);
}

pid_t rp_suite_cli_spawn(rp_suite_t *self, const char *token, const char *const *args)
{
    assert_non_null(self);
    return s_cli_start(self, token, args, -1, -1, -1);
}

int rp_suite_cli_wait(pid_t pid)
{
    return s_exit_code(s_wait_timeout(pid, 60000));
}

int rp_suite_run_cli(rp_suite_t *self, const char *token, char **out, const char *const *args)
{
    rp_cli_run_t r = rp_suite_cli(self, token, NULL, args);
    if (out)
        *out = r.out;
    else
        free(r.out);
    free(r.err);
    return r.status;
}

/* ---- additions ---- */

pid_t rp_suite_start_following(rp_suite_t *self, const char *name, const char *upstream,
                               const char *const *env)
{
    assert_non_null(self);
    char up[32], sub[64];
    size_t k = 0;
    for (; upstream[k] && k + 1 < sizeof up; k++)
        up[k] = (char) toupper((unsigned char) upstream[k]);
    up[k] = '\0';
    snprintf(sub, sizeof sub, "svc-%s", name);
    char *tok = rp_suite_token(self, sub, "integration", "hq", "/", NULL, 3600);
    char *mine[3] = {
        rp_sprintf("RAPPORT_%s_ENDPOINT=%s", up, rp_suite_rpc(self, upstream)),
        rp_sprintf("RAPPORT_%s_PUB_ENDPOINT=%s", up, rp_suite_pub(self, upstream)),
        rp_sprintf("RAPPORT_SERVICE_TOKEN=%s", tok),
    };
    free(tok);
    size_t n = 0;
    while (env && env[n])
        n++;
    const char **all = rp_calloc(n + 4, sizeof *all);
    for (size_t i = 0; i < n; i++)
        all[i] = env[i];
    for (size_t i = 0; i < 3; i++)
        all[n + i] = mine[i];
    pid_t pid = rp_suite_start(self, name, all);
    free(all);
    for (size_t i = 0; i < 3; i++)
        free(mine[i]);
    return pid;
}

pid_t rp_suite_pid(rp_suite_t *self, const char *name)
{
    assert_non_null(self);
    s_proc_t *p = s_proc_find(self, name);
    return p ? p->pid : 0;
}

void rp_suite_print_log(rp_suite_t *self, const char *name)
{
    assert_non_null(self);
    s_print_tail(self, name, 8192);
}

const char *rp_suite_admin_token(rp_suite_t *self)
{
    assert_non_null(self);
    if (!self->admin_token)
        self->admin_token = rp_suite_token(self, "it-admin", "admin", "b1", "/", NULL, 3600);
    return self->admin_token;
}

uint64_t rp_suite_last_seq(rp_suite_t *self, const char *name)
{
    rp_client_t *c = rp_suite_client(self, name, rp_suite_admin_token(self));
    Rapport__Sys__V1__HealthRequest req = RAPPORT__SYS__V1__HEALTH_REQUEST__INIT;
    ProtobufCMessage *out = NULL;
    rp_call_status_t st;
    memset(&st, 0, sizeof st);
    int rc = rp_client_call(c, NULL, "rapport.sys.v1.System/Health", &req.base,
                            &rapport__sys__v1__health_reply__descriptor, &out, &st, 10000);
    rp_client_destroy(&c);
    if (rc != 0)
        fail_msg("harness: %s System/Health: code %d %s", name, rc, st.message);
    assert_non_null(out);
    uint64_t seq = ((Rapport__Sys__V1__HealthReply *) out)->last_seq;
    protobuf_c_message_free_unpacked(out, NULL);
    return seq;
}

/* s_event_copy - a standalone copy of an event (pack + unpack). */
static Rapport__V1__Event *s_event_copy(const Rapport__V1__Event *ev)
{
    size_t len = rapport__v1__event__get_packed_size(ev);
    uint8_t *buf = rp_malloc(len ? len : 1);
    rapport__v1__event__pack(ev, buf);
    Rapport__V1__Event *copy = rapport__v1__event__unpack(NULL, len, buf);
    free(buf);
    assert_non_null(copy);
    return copy;
}

Rapport__V1__Event **rp_suite_replay(rp_suite_t *self, const char *name, uint64_t from_seq,
                                     const char *type_prefix, size_t *n)
{
    assert_non_null(n);
    *n = 0;
    rp_client_t *c = rp_suite_client(self, name, rp_suite_admin_token(self));
    Rapport__V1__Event **all = NULL;
    size_t count = 0, cap = 0;
    uint64_t from = from_seq ? from_seq : 1;
    for (int pages = 0;; pages++) {
        assert_true(pages < 1000000);
        Rapport__Sys__V1__ReplayRequest req = RAPPORT__SYS__V1__REPLAY_REQUEST__INIT;
        req.from_seq = from;
        req.limit = 1000;
        req.type_prefix = (char *) (type_prefix ? type_prefix : "");
        ProtobufCMessage *out = NULL;
        rp_call_status_t st;
        memset(&st, 0, sizeof st);
        int rc = rp_client_call(c, NULL, "rapport.sys.v1.System/Replay", &req.base,
                                &rapport__sys__v1__replay_reply__descriptor, &out, &st, 10000);
        if (rc != 0) {
            rp_client_destroy(&c);
            fail_msg("harness: %s System/Replay from %llu: code %d %s", name,
                     (unsigned long long) from, rc, st.message);
        }
        Rapport__Sys__V1__ReplayReply *r = (Rapport__Sys__V1__ReplayReply *) out;
        for (size_t i = 0; i < r->n_events; i++) {
            if (count == cap) {
                cap = cap ? cap * 2 : 256;
                all = rp_realloc(all, cap * sizeof *all);
            }
            all[count++] = s_event_copy(r->events[i]);
        }
        uint64_t next = r->next_seq, last = r->last_seq;
        size_t got = r->n_events;
        protobuf_c_message_free_unpacked(out, NULL);
        if (next > last || (got == 0 && next <= from))
            break;
        if (next <= from) {
            rp_client_destroy(&c);
            fail_msg("harness: %s System/Replay made no progress at %llu", name,
                     (unsigned long long) from);
        }
        from = next;
    }
    rp_client_destroy(&c);
    *n = count;
    return all;
}

void rp_suite_events_free(Rapport__V1__Event ***events_p, size_t n)
{
    if (!events_p || !*events_p)
        return;
    for (size_t i = 0; i < n; i++)
        rapport__v1__event__free_unpacked((*events_p)[i], NULL);
    free(*events_p);
    *events_p = NULL;
}

/* s_admin_call - a System method of a running service with the admin token. */
static ProtobufCMessage *s_admin_call(rp_suite_t *self, const char *name, const char *method,
                                      const ProtobufCMessage *in, const ProtobufCMessageDescriptor *desc)
{
    rp_client_t *c = rp_suite_client(self, name, rp_suite_admin_token(self));
    ProtobufCMessage *out = NULL;
    rp_call_status_t st;
    memset(&st, 0, sizeof st);
    int rc = rp_client_call(c, NULL, method, in, desc, &out, &st, 10000);
    rp_client_destroy(&c);
    if (rc != 0)
        fail_msg("harness: %s %s: code %d %s", name, method, rc, st.message);
    assert_non_null(out);
    return out;
}

int64_t rp_suite_now(rp_suite_t *self, const char *name)
{
    Rapport__Sys__V1__HealthRequest rq = RAPPORT__SYS__V1__HEALTH_REQUEST__INIT;
    ProtobufCMessage *out = s_admin_call(self, name, "rapport.sys.v1.System/Health", &rq.base,
                                         &rapport__sys__v1__health_reply__descriptor);
    int64_t now = ((Rapport__Sys__V1__HealthReply *) out)->now;
    protobuf_c_message_free_unpacked(out, NULL);
    return now;
}

int64_t rp_suite_clock_advance(rp_suite_t *self, const char *name, int64_t ms)
{
    Rapport__Sys__V1__ClockAdvanceRequest rq = RAPPORT__SYS__V1__CLOCK_ADVANCE_REQUEST__INIT;
    rq.by_ms = ms;
    ProtobufCMessage *out = s_admin_call(self, name, "rapport.sys.v1.System/ClockAdvance", &rq.base,
                                         &rapport__sys__v1__clock_advance_reply__descriptor);
    int64_t now = ((Rapport__Sys__V1__ClockAdvanceReply *) out)->now;
    protobuf_c_message_free_unpacked(out, NULL);
    return now;
}

size_t rp_suite_count_events(rp_suite_t *self, const char *name, uint64_t after_seq,
                             const char *type, const char *subject)
{
    size_t n = 0, hits = 0;
    Rapport__V1__Event **ev = rp_suite_replay(self, name, after_seq + 1, type, &n);
    for (size_t i = 0; i < n; i++)
        if (strcmp(ev[i]->type, type) == 0 && (!subject || strcmp(ev[i]->subject, subject) == 0))
            hits++;
    rp_suite_events_free(&ev, n);
    return hits;
}

void rp_suite_wipe_offsets(rp_suite_t *self, const char *name)
{
    assert_non_null(self);
    assert_int_equal(rp_suite_pid(self, name), 0);
    char *path = rp_sprintf("%s/data/%s", rp_suite_dir(self), name);
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 64), 0);
    assert_int_equal(mdb_env_set_mapsize(env, (size_t)1 << 30), 0);
    assert_int_equal(mdb_env_open(env, path, 0, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "offsets", 0, &dbi), 0);
    assert_int_equal(mdb_drop(txn, dbi, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
    free(path);
}

bool rp_it_violation(const rp_call_status_t *st, const char *field)
{
    for (size_t i = 0; i < st->n_violations && i < sizeof st->violations / sizeof st->violations[0]; i++)
        if (strcmp(st->violations[i].field, field) == 0)
            return true;
    return false;
}
