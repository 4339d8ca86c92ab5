/* cli_login.c - logging in and out with rapport-identity: `rapport login`, `logout`,
 * `whoami`, `passwd` and `keys jwks`, and the automatic renewal of a saved login
 * (cli_login_refresh, which cli_get_token calls for a token read from the file).
 *
 * A login is two private files (mode 0600, directory 0700): the access token in the
 * token file ($RAPPORT_TOKEN_FILE or ~/.config/rapport/token), which every command
 * reads, and the refresh token beside it (<token file>.refresh). When the saved
 * access token has expired or expires within a minute, the command that reads it
 * first trades the refresh token for a new pair (Identity/Refresh) and rewrites both
 * files. It does so under a lock (<token file>.lock), because a refresh token works
 * once: presenting a used one revokes the whole login.
 *
 * Passwords are read without echo from the terminal, or as lines from stdin when it
 * is not a terminal (scripts), and are wiped after use. Tokens are never printed.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>
#include "cli.h"
#include "rapport/clock.h"
#include "rapport/pbjson.h"
#include "rapport/status.h"
#include "rapport/util.h"
#include "rapport/identity/v1/identity.pb-c.h"

#define S_PATH_MAX 1100
#define S_RENEW_BEFORE_S 60     /* renew an access token that expires within this */

/* ---- reading passwords ---- */

static struct termios s_tty_saved;
static volatile sig_atomic_t s_tty_quiet;

/* s_tty_signal - restore the echo on Ctrl-C (or SIGTERM) at a password prompt, then die of it. */
static void s_tty_signal(int sig)
{
    if (s_tty_quiet)
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &s_tty_saved);
    signal(sig, SIG_DFL);
    raise(sig);
}

/* s_read_line - one line of f into buf without its end of line. 0, -1 at the end of
 * input or on an error, -2 when the line does not fit (the rest is skipped). */
static int s_read_line(FILE *f, char *buf, size_t cap)
{
    if (!fgets(buf, (int) cap, f))
        return -1;
    size_t n = strlen(buf);
    if (n && buf[n - 1] == '\n')
        buf[--n] = 0;
    else if (!feof(f)) {
        int ch;
        while ((ch = fgetc(f)) != EOF && ch != '\n')
            ;
        sodium_memzero(buf, cap);
        return -2;
    }
    if (n && buf[n - 1] == '\r')
        buf[--n] = 0;
    return 0;
}

int cli_read_secret(const char *prompt, char *buf, size_t cap)
{
    buf[0] = 0;
    if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &s_tty_saved) != 0)
        return s_read_line(stdin, buf, cap);
    struct termios quiet = s_tty_saved;
    quiet.c_lflag &= ~(tcflag_t) ECHO;
    quiet.c_lflag |= ECHONL;
    struct sigaction sa = { .sa_handler = s_tty_signal }, old_int, old_term;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    fputs(prompt, stderr);
    fflush(stderr);
    s_tty_quiet = 1;
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    int rc = s_read_line(stdin, buf, cap);
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &s_tty_saved);
    s_tty_quiet = 0;
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    if (rc == -1)
        fputc('\n', stderr);
    return rc;
}

int cli_read_new_secret(const cli_args_t *a, const char *what, const char *prompt, char *buf, size_t cap)
{
    int rc = cli_read_secret(prompt, buf, cap);
    if (rc == -1)
        return cli_usage_error(a, "no %s: type it at the prompt, or give it as a line on stdin", what);
    if (rc == -2)
        return cli_usage_error(a, "%s: longer than %zu bytes", what, cap - 2);
    if (!buf[0])
        return cli_usage_error(a, "%s: empty", what);
    if (!isatty(STDIN_FILENO))
        return 0;
    char again[1024];
    char p2[128];
    snprintf(p2, sizeof p2, "Repeat the %s: ", what);
    rc = cli_read_secret(p2, again, sizeof again);
    bool same = rc == 0 && strcmp(buf, again) == 0;
    sodium_memzero(again, sizeof again);
    if (!same) {
        sodium_memzero(buf, cap);
        return cli_usage_error(a, "%s: the two entries differ", what);
    }
    return 0;
}

/* ---- the token files ---- */

/* s_paths - the token file, its refresh file and its lock file. */
static void s_paths(char tok[S_PATH_MAX], char ref[S_PATH_MAX], char lock[S_PATH_MAX])
{
    char path[1024];
    cli_token_file(path, sizeof path);
    if (tok)
        snprintf(tok, S_PATH_MAX, "%s", path);
    if (ref)
        snprintf(ref, S_PATH_MAX, "%s.refresh", path);
    if (lock)
        snprintf(lock, S_PATH_MAX, "%s.lock", path);
}

/* s_read_private - the trimmed content of a private file (malloc'd; wipe it), or NULL
 * with why filled: missing, not a regular file, readable by others, unreadable. */
static char *s_read_private(const char *path, char *why, size_t cap)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        snprintf(why, cap, "cannot read %s: %s", path, strerror(errno));
        return NULL;
    }
    if (!S_ISREG(st.st_mode) || (st.st_mode & 077)) {
        snprintf(why, cap, "%s must be a regular file readable by its owner only (chmod 600 %s)", path, path);
        return NULL;
    }
    char *data = NULL;
    size_t len = 0;
    if (rp_read_file(path, 64 * 1024, &data, &len) != 0) {
        snprintf(why, cap, "cannot read %s: %s", path, strerror(errno));
        return NULL;
    }
    size_t b = 0, e = len;
    while (b < e && (data[b] == ' ' || data[b] == '\t' || data[b] == '\n' || data[b] == '\r'))
        b++;
    while (e > b && (data[e - 1] == ' ' || data[e - 1] == '\t' || data[e - 1] == '\n' || data[e - 1] == '\r'))
        e--;
    char *out = rp_strndup(data + b, e - b);
    sodium_memzero(data, len);
    free(data);
    return out;
}

static int s_write_private(const char *path, const char *secret)
{
    char *line = rp_sprintf("%s\n", secret);
    int rc = rp_write_file_private(path, line, strlen(line));
    sodium_memzero(line, strlen(line));
    free(line);
    return rc;
}

/* s_save_pair - write the access token to the token file and the refresh token
 * beside it, creating the directory 0700. 0, or -1 with why filled. */
static int s_save_pair(const Rapport__Identity__V1__TokenPair *tp, char *why, size_t cap)
{
    char tok[S_PATH_MAX], ref[S_PATH_MAX];
    s_paths(tok, ref, NULL);
    char *dir = rp_strdup(tok);
    int rc = rp_mkdir_p(dirname(dir), 0700);
    free(dir);
    if (rc != 0) {
        snprintf(why, cap, "cannot create the directory of %s: %s", tok, strerror(errno));
        return -1;
    }
    if (s_write_private(tok, tp->access_token) != 0) {
        snprintf(why, cap, "cannot write %s: %s", tok, strerror(errno));
        return -1;
    }
    if (s_write_private(ref, tp->refresh_token) != 0) {
        snprintf(why, cap, "cannot write %s: %s", ref, strerror(errno));
        return -1;
    }
    return 0;
}

/* s_lock - take the lock of the token files (blocks while another rapport renews). The
 * fd to pass to s_unlock, or -1 when it cannot be had (then go on without it). */
static int s_lock(void)
{
    char tok[S_PATH_MAX], lock[S_PATH_MAX];
    s_paths(tok, NULL, lock);
    char *dir = rp_strdup(tok);
    (void) rp_mkdir_p(dirname(dir), 0700);
    free(dir);
    int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    while (flock(fd, LOCK_EX) != 0)
        if (errno != EINTR) {
            close(fd);
            return -1;
        }
    return fd;
}

static void s_unlock(int fd)
{
    if (fd >= 0)
        close(fd);      /* releases the flock */
}

/* ---- a substitute's own login, kept aside while acting as a delegate ----
 *
 * `login --as ANN` moves the saved login (token file and refresh file) to
 * <token file>.own and <token file>.own.refresh and writes the delegated access
 * token (Identity/ActAs; it has no refresh token, so it is never renewed) as the
 * token file. `login --as -` and `logout` move the own login back. */

static void s_own_paths(char own[S_PATH_MAX], char own_ref[S_PATH_MAX])
{
    char path[1024];
    cli_token_file(path, sizeof path);
    snprintf(own, S_PATH_MAX, "%s.own", path);
    snprintf(own_ref, S_PATH_MAX, "%s.own.refresh", path);
}

void cli_login_drop_own(void)
{
    char own[S_PATH_MAX], own_ref[S_PATH_MAX];
    s_own_paths(own, own_ref);
    unlink(own);
    unlink(own_ref);
}

static bool s_acting(void)
{
    char own[S_PATH_MAX], own_ref[S_PATH_MAX];
    s_own_paths(own, own_ref);
    struct stat st;
    return stat(own, &st) == 0;
}

/* s_restore_own - under the lock: move the own login back over the delegated token.
 * 1 restored, 0 nothing kept aside, -1 with why filled. */
static int s_restore_own(char *why, size_t cap)
{
    char tok[S_PATH_MAX], ref[S_PATH_MAX], own[S_PATH_MAX], own_ref[S_PATH_MAX];
    s_paths(tok, ref, NULL);
    s_own_paths(own, own_ref);
    struct stat st;
    if (stat(own, &st) != 0)
        return 0;
    if (rename(own, tok) != 0) {
        snprintf(why, cap, "cannot move %s back to %s: %s", own, tok, strerror(errno));
        return -1;
    }
    if (stat(own_ref, &st) == 0) {
        if (rename(own_ref, ref) != 0) {
            snprintf(why, cap, "cannot move %s back to %s: %s", own_ref, ref, strerror(errno));
            return -1;
        }
    } else {
        unlink(ref);
    }
    return 1;
}

/* ---- tokens, read without verifying (what they say, for display and renewal) ---- */

/* s_jwt_claims - the claims of a JWT as JSON (json_decref), or NULL. Not verified:
 * the services verify; the CLI only reads what its own token says. */
static json_t *s_jwt_claims(const char *token)
{
    const char *p1 = token ? strchr(token, '.') : NULL;
    const char *p2 = p1 ? strchr(p1 + 1, '.') : NULL;
    if (!p2 || p2 - p1 - 1 > 4096)
        return NULL;
    uint8_t buf[3100];
    long n = rp_b64url_decode(p1 + 1, (size_t) (p2 - p1 - 1), buf, sizeof buf);
    if (n <= 0)
        return NULL;
    json_t *j = json_loadb((const char *) buf, (size_t) n, 0, NULL);
    if (j && !json_is_object(j)) {
        json_decref(j);
        j = NULL;
    }
    return j;
}

/* s_jwt_exp - the token's exp (seconds), or -1 when it has none we can read. */
static int64_t s_jwt_exp(const char *token)
{
    json_t *c = s_jwt_claims(token);
    json_t *exp = c ? json_object_get(c, "exp") : NULL;
    int64_t v = json_is_integer(exp) ? (int64_t) json_integer_value(exp) : -1;
    json_decref(c);
    return v;
}

/* ---- calling rapport-identity ---- */

static const ProtobufCMethodDescriptor *s_method(const char *name)
{
    const ProtobufCMethodDescriptor *m =
        protobuf_c_service_descriptor_get_method_by_name(&rapport__identity__v1__identity__descriptor, name);
    if (!m) {
        fprintf(stderr, "rapport: internal error: Identity has no method %s\n", name);
        abort();
    }
    return m;
}

int cli_identity_call(cli_t *cli, rp_client_t *c, const char *id, const char *method,
                      const ProtobufCMessage *in, ProtobufCMessage **out, rp_call_status_t *st)
{
    const ProtobufCMethodDescriptor *m = s_method(method);
    char name[128];
    snprintf(name, sizeof name, "%s/%s", rapport__identity__v1__identity__descriptor.name, m->name);
    return cli_call_status(cli, c, id, name, in, m->output, out, st);
}

/* s_connect_anon - a client of identity without a token (the public methods). */
static int s_connect_anon(cli_t *cli, rp_client_t **c)
{
    char *saved = cli->token;
    cli->token = NULL;
    int rc = cli_connect(cli, "identity", c);
    cli->token = saved;
    return rc;
}

/* ---- renewal ---- */

/* s_swap_token - make t (stolen) the command's token, wiping the old one. */
static void s_swap_token(cli_t *cli, char *t)
{
    if (cli->token) {
        sodium_memzero(cli->token, strlen(cli->token));
        free(cli->token);
    }
    cli->token = t;
}

void cli_login_refresh(cli_t *cli)
{
    int64_t exp = s_jwt_exp(cli->token);
    int64_t now = rp_clock_now_ms() / 1000;
    if (exp < 0 || exp - now >= S_RENEW_BEFORE_S)
        return;
    char tok[S_PATH_MAX], ref[S_PATH_MAX], why[512];
    s_paths(tok, ref, NULL);
    struct stat st;
    if (stat(ref, &st) != 0)
        return;         /* a token saved by `token mint --save`: nothing to renew it with */

    int lock = s_lock();
    /* Another rapport may have renewed it while we waited for the lock. */
    char *cur = s_read_private(tok, why, sizeof why);
    if (cur && *cur && strcmp(cur, cli->token) != 0 && s_jwt_exp(cur) - now >= S_RENEW_BEFORE_S) {
        s_swap_token(cli, cur);
        s_unlock(lock);
        return;
    }
    if (cur) {
        sodium_memzero(cur, strlen(cur));
        free(cur);
    }
    char *refresh = s_read_private(ref, why, sizeof why);
    if (!refresh) {
        s_unlock(lock);
        fprintf(stderr, "rapport: cannot renew the saved login: %s\n", why);
        return;
    }
    rp_client_t *c = NULL;
    char *saved = cli->token;
    cli->token = NULL;
    int rc = cli_connect_quiet(cli, "identity", &c, why, sizeof why);
    cli->token = saved;
    if (rc != 0) {
        fprintf(stderr, "rapport: cannot renew the saved login: %s\n", why);
    } else {
        Rapport__Identity__V1__RefreshRequest req = RAPPORT__IDENTITY__V1__REFRESH_REQUEST__INIT;
        req.refresh_token = refresh;
        ProtobufCMessage *out = NULL;
        rp_call_status_t cs;
        int code = cli_identity_call(cli, c, NULL, "Refresh", &req.base, &out, &cs);
        if (code == RP_OK) {
            Rapport__Identity__V1__TokenPair *tp = (Rapport__Identity__V1__TokenPair *) out;
            if (s_save_pair(tp, why, sizeof why) != 0)
                fprintf(stderr, "rapport: renewed the login but %s; run 'rapport login'\n", why);
            s_swap_token(cli, rp_strdup(tp->access_token));
            sodium_memzero(tp->access_token, strlen(tp->access_token));
            sodium_memzero(tp->refresh_token, strlen(tp->refresh_token));
            protobuf_c_message_free_unpacked(out, NULL);
        } else {
            if (code == RP_UNAUTHENTICATED)
                unlink(ref);    /* expired or revoked: it will never work again */
            fprintf(stderr, "rapport: cannot renew the saved login (%s: %s); run 'rapport login'\n",
                    rp_code_name(cs.code), cs.message[0] ? cs.message : "no message");
        }
        rp_client_destroy(&c);
    }
    sodium_memzero(refresh, strlen(refresh));
    free(refresh);
    s_unlock(lock);
}

/* ---- rapport login ---- */

/* s_user - --user, else $USER, else the login name of our uid; NULL when none. */
static const char *s_user(const cli_args_t *a)
{
    const char *u = cli_flag(a, "user");
    if (u)
        return u;
    u = getenv("USER");
    if (u && *u)
        return u;
    struct passwd *pw = getpwuid(getuid());
    return pw ? pw->pw_name : NULL;
}

/* s_roles_text - the roles claim as "a, b" into out. */
static void s_roles_text(json_t *claims, char *out, size_t cap)
{
    out[0] = 0;
    json_t *roles = json_object_get(claims, "roles"), *r;
    size_t i;
    json_array_foreach(roles, i, r) {
        size_t len = strlen(out);
        snprintf(out + len, cap - len, "%s%s", i ? ", " : "", json_string_value(r) ? json_string_value(r) : "");
    }
}

static const char *s_claim(json_t *claims, const char *name)
{
    const char *v = json_string_value(json_object_get(claims, name));
    return v ? v : "";
}

static const cli_flag_t s_login_flags[] = {
    { "user", "NAME", "the username (default $USER)", false },
    { "as", "USER", "act as USER's delegate (Identity/ActAs) with the saved login; '-' returns to your own", false },
    { NULL, NULL, NULL, false }
};

/* ---- rapport login --as ---- */

#define S_ACT_AS_FIELD "absent"   /* ActAs: the request field of the absent user */

/* s_msg_str - string field name of m, or NULL when m has none. */
static const char *s_msg_str(const ProtobufCMessage *m, const char *name)
{
    const ProtobufCFieldDescriptor *fd = protobuf_c_message_descriptor_get_field_by_name(m->descriptor, name);
    if (!fd || fd->type != PROTOBUF_C_TYPE_STRING || fd->label == PROTOBUF_C_LABEL_REPEATED)
        return NULL;
    return *(char *const *) ((const char *) m + fd->offset);
}

/* s_back_to_own - `login --as -` and `logout` while acting: move the own login back.
 * from_logout only changes the wording. */
static int s_back_to_own(cli_t *cli, bool from_logout)
{
    char tok[S_PATH_MAX], why[1300];
    s_paths(tok, NULL, NULL);
    /* Who we acted for, for the message. */
    char *t = s_read_private(tok, why, sizeof why);
    json_t *was = t ? s_jwt_claims(t) : NULL;
    if (t) {
        sodium_memzero(t, strlen(t));
        free(t);
    }
    int lock = s_lock();
    int r = s_restore_own(why, sizeof why);
    s_unlock(lock);
    int rc = CLI_EXIT_OK;
    if (r < 0) {
        rc = cli_local_error(cli, "%s", why);
    } else if (r == 0) {
        if (cli->json) {
            json_t *j = json_pack("{s:b,s:s}", "restored", 0, "token_file", tok);
            cli_print_json(j);
            json_decref(j);
        } else {
            printf("not acting as anyone's delegate: the saved login in %s is your own\n", tok);
        }
    } else {
        char *own = s_read_private(tok, why, sizeof why);
        json_t *me = own ? s_jwt_claims(own) : NULL;
        if (own) {
            sodium_memzero(own, strlen(own));
            free(own);
        }
        const char *sub = me ? s_claim(me, "sub") : "";
        const char *for_ = was ? s_claim(was, "on_behalf_of") : "";
        if (cli->json) {
            json_t *j = json_pack("{s:b,s:s,s:s,s:s}", "restored", 1, "user", sub, "was_delegate_of", for_,
                                  "token_file", tok);
            cli_print_json(j);
            json_decref(j);
        } else {
            printf("%sno longer acting as delegate of %s; back to %s's own login (%s)\n",
                   from_logout ? "logged out of the delegation: " : "", for_[0] ? for_ : "?",
                   sub[0] ? sub : "your", tok);
        }
        json_decref(me);
    }
    json_decref(was);
    return rc;
}

/* s_login_as - `login --as USER`: Identity/ActAs with the saved login; the own login
 * goes aside (<token file>.own, .own.refresh) and the delegated token becomes the
 * token file. Acting already for someone, it first returns to the own login. */
static int s_login_as(cli_t *cli, const cli_args_t *a, const char *as)
{
    if (cli_flag(a, "user"))
        return cli_usage_error(a, "--as and --user do not go together: log in as yourself first, then --as");
    if (strcmp(as, "-") == 0)
        return s_back_to_own(cli, false);
    if (!as[0])
        return cli_usage_error(a, "--as: empty (a username, or '-' for your own login)");
    if (cli->token_flag || (getenv("RAPPORT_TOKEN") && *getenv("RAPPORT_TOKEN")))
        return cli_local_error(cli, "login --as works with the saved login only; drop --token / unset RAPPORT_TOKEN");
    const ProtobufCMethodDescriptor *m =
        protobuf_c_service_descriptor_get_method_by_name(&rapport__identity__v1__identity__descriptor, "ActAs");
    if (!m || !protobuf_c_message_descriptor_get_field_by_name(m->input, S_ACT_AS_FIELD) ||
        !protobuf_c_message_descriptor_get_field_by_name(m->output, "access_token"))
        return cli_local_error(cli, "this build's rapport-identity has no Identity/ActAs");

    char tok[S_PATH_MAX], ref[S_PATH_MAX], own[S_PATH_MAX], own_ref[S_PATH_MAX], why[2600];
    s_paths(tok, ref, NULL);
    s_own_paths(own, own_ref);
    int lock = s_lock();
    int r = s_restore_own(why, sizeof why);
    s_unlock(lock);
    if (r < 0)
        return cli_local_error(cli, "%s", why);
    int rc = cli_get_token(cli, true);      /* the own login, renewed when due */
    if (rc)
        return rc;
    if (!cli->token_from_file)
        return cli_local_error(cli, "login --as needs a saved login: run 'rapport login' first");

    rp_client_t *c = NULL;
    rc = cli_connect(cli, "identity", &c);
    if (rc)
        return rc;
    json_t *jr = json_pack("{s:s}", S_ACT_AS_FIELD, as);
    char err[512];
    ProtobufCMessage *in = rp_pb_from_json(m->input, jr, err, sizeof err), *out = NULL;
    json_decref(jr);
    if (!in) {
        rp_client_destroy(&c);
        return cli_local_error(cli, "internal error: Identity/ActAs: %s", err);
    }
    rp_call_status_t st;
    int code = cli_identity_call(cli, c, NULL, "ActAs", in, &out, &st);
    protobuf_c_message_free_unpacked(in, NULL);
    rp_client_destroy(&c);
    if (code != RP_OK) {
        cli_print_status(cli, &st);
        return cli_status_exit(code);
    }
    const char *access = s_msg_str(out, "access_token");
    if (!access || !*access) {
        protobuf_c_message_free_unpacked(out, NULL);
        return cli_local_error(cli, "Identity/ActAs answered no access token");
    }
    /* Keep the own login aside, then save the delegated token. */
    lock = s_lock();
    struct stat sb;
    bool had_ref = stat(ref, &sb) == 0;
    int saved = -1;
    if (rename(tok, own) != 0)
        snprintf(why, sizeof why, "cannot move %s to %s: %s", tok, own, strerror(errno));
    else if (had_ref && rename(ref, own_ref) != 0)
        snprintf(why, sizeof why, "cannot move %s to %s: %s", ref, own_ref, strerror(errno));
    else if (s_write_private(tok, access) != 0)
        snprintf(why, sizeof why, "cannot write %s: %s", tok, strerror(errno));
    else
        saved = 0;
    if (!had_ref)
        unlink(own_ref);
    if (saved != 0) {
        char why2[2600];
        (void) s_restore_own(why2, sizeof why2);
    }
    s_unlock(lock);

    json_t *claims = s_jwt_claims(access);
    if (!claims)
        claims = json_object();
    sodium_memzero((char *) access, strlen(access));
    protobuf_c_message_free_unpacked(out, NULL);
    char until[40], roles[512];
    json_t *exp = json_object_get(claims, "exp");
    cli_format_time(json_is_integer(exp) ? (int64_t) json_integer_value(exp) * 1000 : 0, until, sizeof until);
    s_roles_text(claims, roles, sizeof roles);
    const char *sub = s_claim(claims, "sub"), *obo = *s_claim(claims, "on_behalf_of") ? s_claim(claims, "on_behalf_of") : as;
    if (saved != 0) {
        rc = cli_local_error(cli, "acting as delegate of %s, but %s", obo, why);
    } else if (cli->json) {
        json_t *j = json_pack("{s:s,s:s,s:O,s:s,s:s,s:s}", "user", sub, "on_behalf_of", obo,
                              "roles", json_object_get(claims, "roles") ? json_object_get(claims, "roles") : json_null(),
                              "expires", until, "token_file", tok, "own_token_file", own);
        cli_print_json(j);
        json_decref(j);
    } else {
        printf("%s as delegate of %s (%s) until %s\n", sub, obo, roles, until);
        printf("saved to %s (not renewed); your own login is kept in %s: 'rapport login --as -' returns to it\n",
               tok, own);
    }
    json_decref(claims);
    return rc;
}

static int s_login(cli_t *cli, const cli_args_t *a)
{
    if (cli_flag(a, "as"))
        return s_login_as(cli, a, cli_flag(a, "as"));
    const char *user = s_user(a);
    if (!user || !*user)
        return cli_usage_error(a, "--user: required (no $USER)");
    char pw[1024], prompt[160];
    snprintf(prompt, sizeof prompt, "Password for %s: ", user);
    int r = cli_read_secret(prompt, pw, sizeof pw);
    if (r == -1)
        return cli_usage_error(a, "no password: type it at the prompt, or give it as a line on stdin");
    if (r == -2)
        return cli_usage_error(a, "password: longer than %zu bytes", sizeof pw - 2);
    if (!pw[0])
        return cli_usage_error(a, "password: empty");

    rp_client_t *c = NULL;
    int rc = s_connect_anon(cli, &c);
    if (rc) {
        sodium_memzero(pw, sizeof pw);
        return rc;
    }
    Rapport__Identity__V1__LoginRequest req = RAPPORT__IDENTITY__V1__LOGIN_REQUEST__INIT;
    req.username = (char *) user;
    req.password = pw;
    ProtobufCMessage *out = NULL;
    rp_call_status_t st;
    int code = cli_identity_call(cli, c, NULL, "Login", &req.base, &out, &st);
    sodium_memzero(pw, sizeof pw);
    rp_client_destroy(&c);
    if (code != RP_OK) {
        cli_print_status(cli, &st);
        if (code == RP_FAILED_PRECONDITION && !cli->json)
            fprintf(stderr, "Choose a new password first: rapport passwd --user %s\n", user);
        return cli_status_exit(code);
    }
    Rapport__Identity__V1__TokenPair *tp = (Rapport__Identity__V1__TokenPair *) out;
    char why[1300], tok[S_PATH_MAX];
    s_paths(tok, NULL, NULL);
    int lock = s_lock();
    int saved = s_save_pair(tp, why, sizeof why);
    if (saved == 0)
        cli_login_drop_own();   /* a new login replaces any login kept aside by --as */
    s_unlock(lock);
    json_t *claims = s_jwt_claims(tp->access_token);
    if (!claims)
        claims = json_object();
    char until[40], renew[40], roles[512];
    cli_format_time(tp->access_expires_at, until, sizeof until);
    cli_format_time(tp->refresh_expires_at, renew, sizeof renew);
    s_roles_text(claims, roles, sizeof roles);
    const char *sub = *s_claim(claims, "sub") ? s_claim(claims, "sub") : user;
    if (saved != 0) {
        rc = cli_local_error(cli, "logged in as %s, but %s", sub, why);
    } else if (cli->json) {
        json_t *j = json_pack("{s:s,s:O,s:s,s:s,s:s,s:s,s:s}", "user", sub,
                              "roles", json_object_get(claims, "roles") ? json_object_get(claims, "roles") : json_null(),
                              "branch", s_claim(claims, "branch"), "unit", s_claim(claims, "unit"),
                              "expires", until, "renewable_until", renew, "token_file", tok);
        cli_print_json(j);
        json_decref(j);
    } else {
        printf("logged in as %s (%s; branch %s, unit %s) until %s\n", sub, roles, s_claim(claims, "branch"),
               s_claim(claims, "unit"), until);
        printf("saved to %s; renewed automatically until %s\n", tok, renew);
    }
    if (saved == 0 && getenv("RAPPORT_TOKEN") && *getenv("RAPPORT_TOKEN"))
        fputs("rapport: note: RAPPORT_TOKEN is set and takes precedence over the saved login; unset it\n", stderr);
    json_decref(claims);
    sodium_memzero(tp->access_token, strlen(tp->access_token));
    sodium_memzero(tp->refresh_token, strlen(tp->refresh_token));
    protobuf_c_message_free_unpacked(out, NULL);
    return rc;
}

/* ---- rapport logout ---- */

static int s_logout(cli_t *cli, const cli_args_t *a)
{
    int rc = cli_get_token(cli, true);
    if (rc)
        return rc;
    bool from_file = cli->token_from_file;
    /* Acting as a delegate (login --as): end that, back to the own login. The
     * delegated token is not renewable and lapses at its expiry. */
    if (from_file && s_acting())
        return s_back_to_own(cli, true);
    rp_client_t *c = NULL;
    ProtobufCMessage *out = NULL;
    rp_call_status_t st;
    int code = -1;
    rc = cli_connect(cli, "identity", &c);
    if (rc == 0) {
        Rapport__Identity__V1__LogoutRequest req = RAPPORT__IDENTITY__V1__LOGOUT_REQUEST__INIT;
        code = cli_identity_call(cli, c, NULL, "Logout", &req.base, &out, &st);
        rp_client_destroy(&c);
    }

    char tok[S_PATH_MAX], ref[S_PATH_MAX], lock[S_PATH_MAX];
    s_paths(tok, ref, lock);
    bool removed = false;
    if (from_file) {
        /* Whatever identity said, the saved login goes. */
        int fd = s_lock();
        removed = (unlink(tok) == 0) | (unlink(ref) == 0);
        unlink(lock);
        s_unlock(fd);
    }
    if (rc) {           /* identity could not be reached at all (cli_connect said why) */
        if (removed && !cli->json)
            fprintf(stderr, "removed the saved login (%s, %s) all the same\n", tok, ref);
        return rc;
    }
    if (code != RP_OK) {
        cli_print_status(cli, &st);
        if (removed && !cli->json)
            fprintf(stderr, "removed the saved login (%s, %s) all the same\n", tok, ref);
        /* An access token identity no longer takes is a login that is over. */
        return code == RP_UNAUTHENTICATED && removed ? CLI_EXIT_OK : cli_status_exit(code);
    }
    Rapport__Identity__V1__LogoutReply *rep = (Rapport__Identity__V1__LogoutReply *) out;
    if (cli->json) {
        json_t *j = rp_pb_to_json(out);
        json_object_set_new(j, "removed_files", json_boolean(removed));
        cli_print_json(j);
        json_decref(j);
    } else {
        printf("logged out: %u refresh and %u access token(s) revoked", rep->revoked_refresh_tokens,
               rep->revoked_access_tokens);
        if (removed)
            printf("; removed %s and %s", tok, ref);
        printf("\n");
    }
    protobuf_c_message_free_unpacked(out, NULL);
    return CLI_EXIT_OK;
}

/* ---- rapport whoami ---- */

static int s_whoami(cli_t *cli, const cli_args_t *a)
{
    int rc = cli_get_token(cli, true);
    if (rc)
        return rc;
    rp_client_t *c = NULL;
    rc = cli_connect(cli, "identity", &c);
    if (rc)
        return rc;
    Rapport__Identity__V1__WhoAmIRequest req = RAPPORT__IDENTITY__V1__WHO_AM_IREQUEST__INIT;
    ProtobufCMessage *out = NULL;
    rp_call_status_t st;
    int code = cli_identity_call(cli, c, NULL, "WhoAmI", &req.base, &out, &st);
    rp_client_destroy(&c);
    if (code != RP_OK) {
        cli_print_status(cli, &st);
        return cli_status_exit(code);
    }
    if (cli->json) {
        cli_print_message(cli, out);
        protobuf_c_message_free_unpacked(out, NULL);
        return CLI_EXIT_OK;
    }
    const Rapport__Identity__V1__WhoAmIReply *rep = (const Rapport__Identity__V1__WhoAmIReply *) out;
    const Rapport__Identity__V1__Claims *cl = rep->claims;
    const Rapport__Identity__V1__User *u = rep->user;
    char roles[512] = "", exp[40] = "";
    if (cl) {
        for (size_t i = 0; i < cl->n_roles; i++) {
            size_t len = strlen(roles);
            snprintf(roles + len, sizeof roles - len, "%s%s", i ? ", " : "", cl->roles[i]);
        }
        cli_format_time(cl->exp * 1000, exp, sizeof exp);
        printf("user:     %s", cl->sub);
        if (u && u->display_name[0])
            printf(" (%s)", u->display_name);
        else if (!u)
            printf(" (no user record: a token minted offline)");
        printf("\n");
        if (cl->on_behalf_of[0])
            printf("acting:   %s as delegate of %s until %s\n", cl->sub, cl->on_behalf_of, exp);
        printf("roles:    %s\nbranch:   %s\nunit:     %s\nscope:    %s\n", roles, cl->branch, cl->unit, cl->scope);
        printf("expires:  %s\n", exp);
    }
    if (u && u->disabled)
        printf("state:    disabled\n");
    if (u && u->must_change_password)
        printf("note:     password change required (rapport passwd)\n");
    printf("token:    %s\n", cli->token_from_file && s_acting() ? "delegated login (token file; own login kept aside)" :
           cli->token_from_file ? "saved login (token file)" :
           cli->token_flag ? "--token" : "$RAPPORT_TOKEN");
    protobuf_c_message_free_unpacked(out, NULL);
    return CLI_EXIT_OK;
}

/* ---- rapport passwd ---- */

static const cli_flag_t s_passwd_flags[] = {
    { "user", "NAME", "whose password (default: the saved login's user, else $USER)", false },
    { NULL, NULL, NULL, false }
};

static int s_passwd(cli_t *cli, const cli_args_t *a)
{
    char user[128] = "";
    if (cli_flag(a, "user"))
        rp_strlcpy(user, cli_flag(a, "user"), sizeof user);
    else {
        char tok[S_PATH_MAX], why[1300];
        s_paths(tok, NULL, NULL);
        char *t = s_read_private(tok, why, sizeof why);
        json_t *claims = t ? s_jwt_claims(t) : NULL;
        rp_strlcpy(user, claims ? s_claim(claims, "sub") : "", sizeof user);
        json_decref(claims);
        if (t) {
            sodium_memzero(t, strlen(t));
            free(t);
        }
        if (!user[0] && s_user(a))
            rp_strlcpy(user, s_user(a), sizeof user);
    }
    if (!user[0])
        return cli_usage_error(a, "--user: required (no saved login, no $USER)");

    char old[1024], fresh[1024], prompt[160];
    snprintf(prompt, sizeof prompt, "Current password for %s: ", user);
    int r = cli_read_secret(prompt, old, sizeof old);
    if (r == -1)
        return cli_usage_error(a, "no current password: type it at the prompt, or give it as the first line on stdin");
    if (r == -2)
        return cli_usage_error(a, "current password: longer than %zu bytes", sizeof old - 2);
    int rc = cli_read_new_secret(a, "new password", "New password: ", fresh, sizeof fresh);
    if (rc) {
        sodium_memzero(old, sizeof old);
        return rc;
    }
    rp_client_t *c = NULL;
    rc = s_connect_anon(cli, &c);
    if (rc == 0) {
        Rapport__Identity__V1__ChangePasswordRequest req = RAPPORT__IDENTITY__V1__CHANGE_PASSWORD_REQUEST__INIT;
        req.username = user;
        req.old_password = old;
        req.new_password = fresh;
        ProtobufCMessage *out = NULL;
        rp_call_status_t st;
        int code = cli_identity_call(cli, c, NULL, "ChangePassword", &req.base, &out, &st);
        rp_client_destroy(&c);
        if (code != RP_OK) {
            cli_print_status(cli, &st);
            rc = cli_status_exit(code);
        } else {
            if (cli->json)
                cli_print_message(cli, out);
            else
                printf("password changed for %s; log in with it: rapport login --user %s\n", user, user);
            protobuf_c_message_free_unpacked(out, NULL);
        }
    }
    sodium_memzero(old, sizeof old);
    sodium_memzero(fresh, sizeof fresh);
    return rc;
}

/* ---- rapport keys jwks ---- */

int cli_keys_jwks(cli_t *cli, const cli_args_t *a)
{
    rp_client_t *c = NULL;
    int rc = s_connect_anon(cli, &c);
    if (rc)
        return rc;
    Rapport__Identity__V1__JwksRequest req = RAPPORT__IDENTITY__V1__JWKS_REQUEST__INIT;
    ProtobufCMessage *out = NULL;
    rp_call_status_t st;
    int code = cli_identity_call(cli, c, NULL, "Jwks", &req.base, &out, &st);
    rp_client_destroy(&c);
    if (code != RP_OK) {
        cli_print_status(cli, &st);
        return cli_status_exit(code);
    }
    const char *text = ((Rapport__Identity__V1__JwksReply *) out)->jwks;
    json_t *j = json_loads(text, 0, NULL);
    if (j)
        cli_print_json(j);
    else
        printf("%s\n", text);
    json_decref(j);
    protobuf_c_message_free_unpacked(out, NULL);
    return CLI_EXIT_OK;
}

/* ---- the command tables ---- */

const cli_cmd_t cli_login_cmds[] = {
    { "", "", "log in to rapport-identity and save the login (token file, 0600)",
      s_login_flags, 0, 0, s_login,
      "The password is prompted for without echo on a terminal, else read as one line from stdin\n"
      "  (echo \"$PW\" | rapport login --user ann). The access token goes to the token file\n"
      "  ($RAPPORT_TOKEN_FILE or ~/.config/rapport/token) and the refresh token beside it\n"
      "  (<token file>.refresh), both mode 0600; commands renew the access token by themselves.\n"
      "  Prints who is logged in and until when, never a token.\n"
      "  --as ANN (with your saved login): act as ann's delegate (Identity/ActAs); your own login is\n"
      "  kept aside in <token file>.own and .own.refresh and the delegated token, never renewed,\n"
      "  becomes the token file. 'rapport login --as -' or 'rapport logout' returns to your own login." },
    { NULL, NULL, NULL, NULL, 0, 0, NULL, NULL }
};

const cli_cmd_t cli_logout_cmds[] = {
    { "", "", "revoke the login's tokens (Identity/Logout) and delete the saved login",
      NULL, 0, 0, s_logout,
      "With a token from --token or $RAPPORT_TOKEN it revokes that one and leaves the files alone.\n"
      "  Acting as a delegate (login --as), it only returns to your own login." },
    { NULL, NULL, NULL, NULL, 0, 0, NULL, NULL }
};

const cli_cmd_t cli_whoami_cmds[] = {
    { "", "", "who the current token says you are (Identity/WhoAmI)", NULL, 0, 0, s_whoami, NULL },
    { NULL, NULL, NULL, NULL, 0, 0, NULL, NULL }
};

const cli_cmd_t cli_passwd_cmds[] = {
    { "", "", "change a password (Identity/ChangePassword; needs the current one, no token)",
      s_passwd_flags, 0, 0, s_passwd,
      "Prompts for the current password and twice for the new one on a terminal; else reads two\n"
      "  lines from stdin: the current password, then the new one. Policy: 12..256 bytes, not the\n"
      "  username, not a common password. Also the way out of 'password change required'." },
    { NULL, NULL, NULL, NULL, 0, 0, NULL, NULL }
};
