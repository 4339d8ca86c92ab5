/* rapportd.c - runs a whole Rapport suite on one host, in the foreground, in the
 * spirit of Postfix's master: it creates the keys on first run, starts each service
 * as a child process, restarts a child that dies with a backoff (1 s doubling to
 * 30 s, back to 1 s once a child has stayed up 60 s), says when the suite is ready,
 * and on SIGINT/SIGTERM stops every child (SIGTERM, then SIGKILL after 10 s) and
 * exits 0. Logs are JSON lines on stderr (log.h).
 *
 * One thread; signals are blocked and taken synchronously with sigtimedwait, so
 * there is no async-signal-unsafe work in a handler.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <libgen.h>
#include <time.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sodium.h>
#include "rapport/clock.h"
#include "rapport/keys.h"
#include "rapport/log.h"
#include "rapport/services.h"
#include "rapport/util.h"

#define RAPPORTD_VERSION "0.1.0"
#define MAX_CHILDREN 32
#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS 30000
#define STABLE_MS 60000
#define STOP_GRACE_MS 10000

typedef struct {
    const rp_service_info_t *info;
    char path[PATH_MAX];
    pid_t pid;                  /* 0 when not running */
    int64_t started_ms;         /* monotonic ms of the last start */
    int64_t next_start_ms;      /* when to start it again (when pid == 0) */
    int64_t backoff_ms;         /* the delay before the next restart */
    bool ready;
    char rpc[256];
    char pub[256];
    int restarts;
} s_child_t;

static s_child_t s_children[MAX_CHILDREN];
static int s_nchildren;
static sigset_t s_oldmask;
static const char *s_data_dir;
static const char *s_keys_dir;

static int64_t s_now_ms(void)
{
    return rp_clock_mono_us() / 1000;
}

static void s_usage(FILE *f)
{
    fprintf(f,
        "rapportd %s - run a whole Rapport suite on one host, in the foreground.\n"
        "\n"
        "Usage: rapportd [--services leads,accounts,...] [--bin-dir DIR] [--data DIR] [--keys DIR]\n"
        "\n"
        "  --services LIST  services to run, comma-separated (default: every rapport-<name> binary\n"
        "                   of the suite found in the bin directory)\n"
        "  --bin-dir DIR    where the rapport-<name> binaries are (default: rapportd's own directory)\n"
        "  --data DIR       data root, exported to the services as RAPPORT_DATA (default $RAPPORT_DATA\n"
        "                   or ./var/data); each service keeps its LMDB in <data>/<name>\n"
        "  --keys DIR       keys directory, exported as RAPPORT_KEYS (default $RAPPORT_KEYS or ./var/keys)\n"
        "  --help, --version\n"
        "\n"
        "What it does:\n"
        "  1. Creates the keys if missing, as 'rapport keys init' does: a CURVE cert per service\n"
        "     (allowlisted), the client cert 'cli' (allowlisted) and the token issuer key.\n"
        "  2. Starts each service as a child process with rapportd's environment (every RAPPORT_*\n"
        "     setting of the services applies; RAPPORT_BIND and friends would apply to all of them,\n"
        "     so leave them unset unless you run one service).\n"
        "  3. Restarts a child that exits or dies: after 1 s, doubling up to 30 s while it keeps\n"
        "     failing; back to 1 s once it has stayed up 60 s.\n"
        "  4. When every service has written its ready file (<data>/<name>/endpoints), prints\n"
        "     'Rapport is up' and the first commands to try on stderr.\n"
        "  5. On SIGINT or SIGTERM sends SIGTERM to every child, waits up to 10 s for them to\n"
        "     drain, SIGKILLs the stragglers and exits 0. A second signal kills at once.\n"
        "\n"
        "Logs: JSON lines on stderr (RAPPORT_LOG_LEVEL: debug, info, warn, error).\n"
        "Exit status: 0 after a requested stop, 1 when keys cannot be created or nothing can start,\n"
        "2 for a usage error.\n",
        RAPPORTD_VERSION);
}

/* s_self_dir - the directory of the running executable. */
static int s_self_dir(char *out, size_t cap)
{
    char buf[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n <= 0)
        return -1;
    buf[n] = 0;
    rp_strlcpy(out, dirname(buf), cap);
    return 0;
}

static bool s_executable(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

static int s_add_child(const rp_service_info_t *info, const char *bin_dir, bool must)
{
    if (s_nchildren >= MAX_CHILDREN)
        return -1;
    s_child_t *c = &s_children[s_nchildren];
    memset(c, 0, sizeof *c);
    c->info = info;
    snprintf(c->path, sizeof c->path, "%s/%s", bin_dir, info->binary);
    if (!s_executable(c->path)) {
        if (must)
            fprintf(stderr, "rapportd: no executable %s for service %s\n", c->path, info->name);
        return -1;
    }
    c->backoff_ms = BACKOFF_MIN_MS;
    s_nchildren++;
    return 0;
}

static void s_start(s_child_t *c)
{
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        rp_error("cannot fork for %s: %s", c->info->name, strerror(errno));
        c->next_start_ms = s_now_ms() + c->backoff_ms;
        return;
    }
    if (pid == 0) {
        /* The child: default signals, its own process group (a terminal's Ctrl-C goes
         * to rapportd, which forwards SIGTERM), and SIGTERM should rapportd vanish. */
        signal(SIGPIPE, SIG_DFL);
        sigprocmask(SIG_SETMASK, &s_oldmask, NULL);
        setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(1);
        int fd = open("/dev/null", O_RDONLY);
        if (fd >= 0) {
            dup2(fd, STDIN_FILENO);
            if (fd != STDIN_FILENO)
                close(fd);
        }
        char *argv[] = { c->path, NULL };
        execv(c->path, argv);
        fprintf(stderr, "rapportd: cannot run %s: %s\n", c->path, strerror(errno));
        _exit(127);
    }
    c->pid = pid;
    c->started_ms = s_now_ms();
    c->ready = false;
    c->rpc[0] = 0;
    rp_info("started %s (pid %d, %s)", c->info->name, (int) pid, c->path);
}

/* s_check_ready - true once the child's ready file names its pid. */
static bool s_check_ready(s_child_t *c)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s/endpoints", s_data_dir, c->info->name);
    char *data = NULL;
    size_t len = 0;
    if (rp_read_file(path, 8192, &data, &len) != 0)
        return false;
    bool ready = false;
    char rpc[256] = "", pub[256] = "";
    for (char *line = strtok(data, "\n"); line; line = strtok(NULL, "\n")) {
        if (strncmp(line, "pid=", 4) == 0 && atol(line + 4) == (long) c->pid)
            ready = true;
        else if (strncmp(line, "rpc=", 4) == 0)
            rp_strlcpy(rpc, line + 4, sizeof rpc);
        else if (strncmp(line, "pub=", 4) == 0)
            rp_strlcpy(pub, line + 4, sizeof pub);
    }
    free(data);
    if (ready) {
        rp_strlcpy(c->rpc, rpc, sizeof c->rpc);
        rp_strlcpy(c->pub, pub, sizeof c->pub);
    }
    return ready;
}

static s_child_t *s_find_pid(pid_t pid)
{
    for (int i = 0; i < s_nchildren; i++)
        if (s_children[i].pid == pid)
            return &s_children[i];
    return NULL;
}

static void s_describe_exit(int status, char *out, size_t cap)
{
    if (WIFEXITED(status))
        snprintf(out, cap, "exit status %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(out, cap, "killed by signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
    else
        snprintf(out, cap, "status 0x%x", status);
}

/* s_reap - collect every exited child; when restart, schedule it again. */
static int s_reap(bool restart)
{
    int n = 0, status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        s_child_t *c = s_find_pid(pid);
        if (!c)
            continue;
        n++;
        char how[96];
        s_describe_exit(status, how, sizeof how);
        int64_t now = s_now_ms(), up = now - c->started_ms;
        c->pid = 0;
        c->ready = false;
        if (!restart) {
            rp_info("%s stopped (%s)", c->info->name, how);
            continue;
        }
        if (up >= STABLE_MS)
            c->backoff_ms = BACKOFF_MIN_MS;
        c->next_start_ms = now + c->backoff_ms;
        c->restarts++;
        rp_warn("%s exited unexpectedly (%s) after %lld ms; restarting in %lld ms",
                c->info->name, how, (long long) up, (long long) c->backoff_ms);
        c->backoff_ms = c->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : c->backoff_ms * 2;
    }
    return n;
}

static void s_banner(void)
{
    fprintf(stderr, "\nRapport is up: ");
    for (int i = 0; i < s_nchildren; i++)
        fprintf(stderr, "%s%s (%s)", i ? ", " : "", s_children[i].info->name, s_children[i].rpc);
    fprintf(stderr, ".\n  data: %s   keys: %s\n\nTry:\n", s_data_dir, s_keys_dir);
    if (strcmp(s_keys_dir, "./var/keys") != 0)
        fprintf(stderr, "  export RAPPORT_KEYS=%s\n", s_keys_dir);
    /* Endpoints other than the defaults (RAPPORT_BIND=...:*) must be told to the CLI. */
    for (int i = 0; i < s_nchildren; i++) {
        s_child_t *c = &s_children[i];
        char def[256], upper[32];
        size_t k = 0;
        for (; c->info->name[k] && k + 1 < sizeof upper; k++)
            upper[k] = (char) toupper((unsigned char) c->info->name[k]);
        upper[k] = 0;
        if (rp_service_endpoint(c->info->name, 0, def, sizeof def) == 0 && c->rpc[0] && strcmp(def, c->rpc) != 0)
            fprintf(stderr, "  export RAPPORT_%s_ENDPOINT=%s\n", upper, c->rpc);
        if (rp_service_endpoint(c->info->name, 1, def, sizeof def) == 0 && c->pub[0] && strcmp(def, c->pub) != 0)
            fprintf(stderr, "  export RAPPORT_%s_PUB_ENDPOINT=%s\n", upper, c->pub);
    }
    fprintf(stderr,
        "  rapport token mint --sub alice --role manager --branch hq --save\n"
        "  rapport health\n"
        "  rapport leads create --company 'Acme Ltd' --source web \\\n"
        "      --contact 'Ann Lee,decision_maker,ann@acme.example' --value 12000.00 --currency EUR\n"
        "  rapport leads list\n"
        "  rapport events tail --follow      (needs a director or analyst token)\n"
        "\nStop with Ctrl-C or SIGTERM.\n\n");
}

static int s_ensure_keys(void)
{
    if (rp_mkdir_p(s_keys_dir, 0700) != 0) {
        rp_error("cannot create keys directory %s: %s", s_keys_dir, strerror(errno));
        return -1;
    }
    for (const rp_service_info_t *s = rp_services(); s->name; s++)
        if (rp_keys_ensure_curve(s_keys_dir, s->name, true) != 0)
            return -1;
    if (rp_keys_ensure_curve(s_keys_dir, "cli", true) != 0)
        return -1;
    if (rp_keys_ensure_issuer(s_keys_dir) != 0)
        return -1;
    /* Fresh service tokens at every start, so services can follow each other's
     * events (identity's revocations above all). */
    for (const rp_service_info_t *s = rp_services(); s->name; s++)
        if (rp_keys_write_service_token(s_keys_dir, s->name, 30 * 86400) != 0)
            return -1;
    return 0;
}

/* s_stop_all - SIGTERM every child, wait up to the grace period, SIGKILL the rest. */
static void s_stop_all(void)
{
    int running = 0;
    for (int i = 0; i < s_nchildren; i++)
        if (s_children[i].pid > 0) {
            kill(s_children[i].pid, SIGTERM);
            running++;
        }
    rp_info("stopping %d service%s", running, running == 1 ? "" : "s");
    int64_t deadline = s_now_ms() + STOP_GRACE_MS;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    bool hurry = false;
    for (;;) {
        s_reap(false);
        running = 0;
        for (int i = 0; i < s_nchildren; i++)
            running += s_children[i].pid > 0;
        if (running == 0)
            break;
        int64_t left = deadline - s_now_ms();
        if (left <= 0 || hurry)
            break;
        struct timespec ts = { (time_t) (left / 1000), (long) (left % 1000) * 1000000L };
        int sig = sigtimedwait(&set, NULL, &ts);
        if (sig == SIGINT || sig == SIGTERM) {
            rp_warn("second stop signal: killing the services now");
            hurry = true;
        }
    }
    for (int i = 0; i < s_nchildren; i++)
        if (s_children[i].pid > 0) {
            rp_warn("%s (pid %d) did not stop in time: SIGKILL", s_children[i].info->name,
                    (int) s_children[i].pid);
            kill(s_children[i].pid, SIGKILL);
            int status;
            while (waitpid(s_children[i].pid, &status, 0) < 0 && errno == EINTR)
                ;
            s_children[i].pid = 0;
        }
}

int main(int argc, char **argv)
{
    const char *services = NULL, *bin_dir = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **target = NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            s_usage(stdout);
            return 0;
        }
        if (strcmp(a, "--version") == 0) {
            printf("rapportd %s\n", RAPPORTD_VERSION);
            return 0;
        }
        if (strcmp(a, "--services") == 0)
            target = &services;
        else if (strcmp(a, "--bin-dir") == 0)
            target = &bin_dir;
        else if (strcmp(a, "--data") == 0)
            target = &s_data_dir;
        else if (strcmp(a, "--keys") == 0)
            target = &s_keys_dir;
        if (!target) {
            fprintf(stderr, "rapportd: unknown argument '%s'\nTry 'rapportd --help'.\n", a);
            return 2;
        }
        if (i + 1 >= argc || !argv[i + 1][0]) {
            fprintf(stderr, "rapportd: %s needs a value\nTry 'rapportd --help'.\n", a);
            return 2;
        }
        *target = argv[++i];
    }
    if (sodium_init() < 0) {
        fprintf(stderr, "rapportd: libsodium failed to initialise\n");
        return 1;
    }
    rp_clock_init();
    const char *level = getenv("RAPPORT_LOG_LEVEL");
    if (rp_log_init("rapportd", level && *level ? level : "info") != 0) {
        fprintf(stderr, "rapportd: RAPPORT_LOG_LEVEL must be debug, info, warn or error\n");
        return 2;
    }

    /* The services inherit these through the environment. */
    if (!s_data_dir)
        s_data_dir = getenv("RAPPORT_DATA") && *getenv("RAPPORT_DATA") ? getenv("RAPPORT_DATA") : "./var/data";
    if (!s_keys_dir)
        s_keys_dir = getenv("RAPPORT_KEYS") && *getenv("RAPPORT_KEYS") ? getenv("RAPPORT_KEYS") : "./var/keys";
    setenv("RAPPORT_DATA", s_data_dir, 1);
    setenv("RAPPORT_KEYS", s_keys_dir, 1);

    char self_dir[PATH_MAX];
    if (!bin_dir) {
        if (s_self_dir(self_dir, sizeof self_dir) != 0) {
            fprintf(stderr, "rapportd: cannot tell where rapportd is; use --bin-dir\n");
            return 2;
        }
        bin_dir = self_dir;
    }
    if (services) {
        char *list = rp_strdup(services);
        for (char *save = NULL, *name = strtok_r(list, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
            const rp_service_info_t *info = rp_service_find(name);
            if (!info) {
                fprintf(stderr, "rapportd: --services: unknown service '%s'; services:", name);
                for (const rp_service_info_t *s = rp_services(); s->name; s++)
                    fprintf(stderr, " %s", s->name);
                fputc('\n', stderr);
                free(list);
                return 2;
            }
            bool dup = false;
            for (int i = 0; i < s_nchildren; i++)
                dup |= s_children[i].info == info;
            if (!dup && s_add_child(info, bin_dir, true) != 0) {
                free(list);
                return 2;
            }
        }
        free(list);
    } else {
        for (const rp_service_info_t *s = rp_services(); s->name; s++)
            s_add_child(s, bin_dir, false);
    }
    if (s_nchildren == 0) {
        fprintf(stderr, "rapportd: no service to run: no rapport-<name> binary in %s (see --bin-dir)\n", bin_dir);
        return 2;
    }
    if (getenv("RAPPORT_BIND") && s_nchildren > 1)
        rp_warn("RAPPORT_BIND is set and applies to every service: they will fight over one endpoint");

    if (s_ensure_keys() != 0) {
        rp_error("cannot create the keys in %s", s_keys_dir);
        return 1;
    }
    if (rp_mkdir_p(s_data_dir, 0700) != 0) {
        rp_error("cannot create data directory %s: %s", s_data_dir, strerror(errno));
        return 1;
    }

    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    sigprocmask(SIG_BLOCK, &set, &s_oldmask);
    signal(SIGPIPE, SIG_IGN);

    rp_info("rapportd %s: %d service%s, data %s, keys %s", RAPPORTD_VERSION, s_nchildren,
            s_nchildren == 1 ? "" : "s", s_data_dir, s_keys_dir);
    for (int i = 0; i < s_nchildren; i++)
        s_start(&s_children[i]);

    bool announced = false;
    for (;;) {
        int64_t now = s_now_ms();
        for (int i = 0; i < s_nchildren; i++) {
            s_child_t *c = &s_children[i];
            if (c->pid == 0 && now >= c->next_start_ms)
                s_start(c);
        }
        int nready = 0;
        for (int i = 0; i < s_nchildren; i++) {
            s_child_t *c = &s_children[i];
            if (c->pid > 0 && !c->ready && s_check_ready(c)) {
                c->ready = true;
                rp_info("%s is ready (pid %d, %s)", c->info->name, (int) c->pid, c->rpc);
            }
            nready += c->ready;
        }
        if (nready == s_nchildren && !announced) {
            announced = true;
            s_banner();
        }

        /* Sleep until a signal, a due restart, or the next readiness poll. */
        int64_t wait = nready == s_nchildren ? 1000 : 100;
        now = s_now_ms();
        for (int i = 0; i < s_nchildren; i++)
            if (s_children[i].pid == 0 && s_children[i].next_start_ms - now < wait)
                wait = s_children[i].next_start_ms - now;
        if (wait < 1)
            wait = 1;
        struct timespec ts = { (time_t) (wait / 1000), (long) (wait % 1000) * 1000000L };
        int sig = sigtimedwait(&set, NULL, &ts);
        if (sig == SIGCHLD) {
            s_reap(true);
        } else if (sig == SIGINT || sig == SIGTERM) {
            rp_info("received %s", sig == SIGINT ? "SIGINT" : "SIGTERM");
            break;
        } else if (sig == SIGHUP) {
            rp_info("SIGHUP ignored (stop with SIGTERM)");
        }
    }
    s_stop_all();
    rp_info("rapportd stopped");
    return 0;
}
