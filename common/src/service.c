/* service.c - rp_service_main, the skeleton every service runs on (DESIGN.md §4),
 * in the spirit of Postfix's single_server_main: configuration, keys, sockets, the
 * store, the method routes and the loop. What one turn of the loop does is in
 * service_write.c; the request context in service_ctx.c; the System methods in
 * service_system.c; durable consumers in service_consumer.c.
 */
#include "service_internal.h"

/* ------------------------------------------------------------------ routing */

/* s_add_routes - check that the table and the descriptor match exactly, then add
 * one route per method. A mismatch is a programming error: abort at start-up. */
static void
s_add_routes(rp_service_t *svc, const ProtobufCServiceDescriptor *d, const rp_method_t *table)
{
    size_t n_table = 0;
    for (const rp_method_t *m = table; m->name; m++)
        n_table++;
    if (n_table != d->n_methods) {
        fprintf(stderr, "rapport: %s declares %u methods but the table has %zu rows\n",
                d->name, d->n_methods, n_table);
        abort();
    }
    svc->routes = rp_realloc(svc->routes, (svc->n_routes + n_table) * sizeof *svc->routes);
    for (unsigned i = 0; i < d->n_methods; i++) {
        const ProtobufCMethodDescriptor *md = &d->methods[i];
        const rp_method_t *row = NULL;
        for (const rp_method_t *m = table; m->name; m++)
            if (strcmp(m->name, md->name) == 0)
                row = m;
        if (!row || !row->handler || !row->perm) {
            fprintf(stderr, "rapport: %s/%s has no complete row in the method table\n",
                    d->name, md->name);
            abort();
        }
        s_route_t *r = &svc->routes[svc->n_routes++];
        r->full = rp_sprintf("%s/%s", d->name, md->name);
        r->name = md->name;
        r->input = md->input;
        r->output = md->output;
        r->handler = row->handler;
        r->kind = row->kind;
        r->perm = row->perm;
        char *labels = rp_sprintf("method=\"%s\"", r->full);
        r->latency = rp_metrics_histogram(svc->metrics, "request_duration",
                                          "Time from receipt to reply, by method", labels);
        free(labels);
    }
}

const s_route_t *
svc_route_find(rp_service_t *svc, const char *method)
{
    for (size_t i = 0; i < svc->n_routes; i++)
        if (strcmp(svc->routes[i].full, method) == 0)
            return &svc->routes[i];
    return NULL;
}

/* ------------------------------------------------------------------ set-up */

static void
s_usage(const rp_service_def_t *def, FILE *f)
{
    const rp_service_info_t *info = rp_service_find(def->name);
    int port = info ? info->rpc_port : 0;
    fprintf(f,
        "Usage: rapport-%s [OPTIONS]\n"
        "%s\n\n"
        "Options (each overrides its environment variable):\n"
        "  --bind ENDPOINT   RPC ROUTER endpoint      RAPPORT_BIND      (tcp://127.0.0.1:%d)\n"
        "  --pub ENDPOINT    event PUB endpoint       RAPPORT_PUB_BIND  (tcp://127.0.0.1:%d)\n"
        "  --http ADDR|off   ops HTTP /metrics /healthz /readyz  RAPPORT_HTTP (127.0.0.1:%d)\n"
        "  --data DIR        data root; store in DIR/%s  RAPPORT_DATA   (./var/data)\n"
        "  --keys DIR        keys directory           RAPPORT_KEYS      (./var/keys)\n"
        "  -h, --help        this text\n"
        "  --version         print the version\n\n"
        "Other settings: RAPPORT_HOST (127.0.0.1: the host of the three defaults above),\n"
        "RAPPORT_LOG_LEVEL (info), RAPPORT_BATCH_MAX (256),\n"
        "RAPPORT_MAX_MSG (1048576), RAPPORT_MAP_SIZE (67108864), RAPPORT_IDEM_TTL (86400),\n"
        "RAPPORT_HEARTBEAT_MS (1000), RAPPORT_GATHER_US (500), RAPPORT_TEST_CLOCK (0; tests only).\n",
        def->name, def->summary ? def->summary : "", port, port + 1, port + 2, def->name);
    if (def->settings_help)
        printf("\nSettings of rapport-%s:\n%s", def->name, def->settings_help);
    printf("\nExit status: 0 after a clean drain (SIGTERM/SIGINT), 1 on a run-time failure,\n"
           "2 on bad configuration.\n");
}

/* s_configure - flags over environment over defaults. 0, or -1 after a message. */
static int
s_configure(rp_service_t *svc, int argc, char **argv)
{
    const rp_service_def_t *def = svc->def;
    const rp_service_info_t *info = rp_service_find(def->name);
    int port = info ? info->rpc_port : 7999;
    char dflt[128];
    const char *o_bind = NULL, *o_pub = NULL, *o_http = NULL, *o_data = NULL, *o_keys = NULL;
    static const struct option opts[] = {
        { "bind", required_argument, NULL, 'b' }, { "pub", required_argument, NULL, 'p' },
        { "http", required_argument, NULL, 'H' }, { "data", required_argument, NULL, 'd' },
        { "keys", required_argument, NULL, 'k' }, { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' }, { NULL, 0, NULL, 0 }
    };
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'b': o_bind = optarg; break;
        case 'p': o_pub = optarg; break;
        case 'H': o_http = optarg; break;
        case 'd': o_data = optarg; break;
        case 'k': o_keys = optarg; break;
        case 'h': s_usage(def, stdout); exit(0);
        case 'V': printf("rapport-%s %s\n", def->name, RAPPORT_VERSION); exit(0);
        default: s_usage(def, stderr); return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "rapport-%s: unexpected argument \"%s\"\n", def->name, argv[optind]);
        return -1;
    }
    /* RAPPORT_HOST moves every default endpoint at once (0.0.0.0 in a container). */
    const char *host = rp_config_str("RAPPORT_HOST", "127.0.0.1");
    if (strlen(host) > 64 || strpbrk(host, ":/ ")) {
        fprintf(stderr, "rapport-%s: RAPPORT_HOST=%s: must be a host name or IPv4 address\n",
                def->name, host);
        return -1;
    }
    snprintf(dflt, sizeof dflt, "tcp://%s:%d", host, port);
    svc->bind = rp_strdup(o_bind ? o_bind : rp_config_str("RAPPORT_BIND", dflt));
    snprintf(dflt, sizeof dflt, "tcp://%s:%d", host, port + 1);
    svc->pub_bind = rp_strdup(o_pub ? o_pub : rp_config_str("RAPPORT_PUB_BIND", dflt));
    snprintf(dflt, sizeof dflt, "%s:%d", host, port + 2);
    svc->http_listen = rp_strdup(o_http ? o_http : rp_config_str("RAPPORT_HTTP", dflt));
    const char *root = o_data ? o_data : rp_config_str("RAPPORT_DATA", "./var/data");
    svc->data_dir = rp_sprintf("%s/%s", root, def->name);
    svc->keys_dir = rp_strdup(o_keys ? o_keys : rp_keys_dir());
    if (rp_log_init(def->name, rp_config_str("RAPPORT_LOG_LEVEL", "info")) != 0) {
        fprintf(stderr, "rapport-%s: RAPPORT_LOG_LEVEL=%s: must be debug, info, warn or error\n",
                def->name, rp_config_str("RAPPORT_LOG_LEVEL", ""));
        return -1;
    }
    if (rp_config_int("RAPPORT_BATCH_MAX", 256, 1, 4096, &svc->batch_max)
        || rp_config_int("RAPPORT_MAX_MSG", 1 << 20, 4096, 64 << 20, &svc->max_msg)
        || rp_config_int("RAPPORT_MAP_SIZE", 64 << 20, 1 << 20, INT64_C(1) << 40, &svc->map_size)
        || rp_config_int("RAPPORT_IDEM_TTL", 86400, 86400, 86400 * 365, &svc->idem_ttl_s)
        || rp_config_int("RAPPORT_HEARTBEAT_MS", 1000, 10, 60000, &svc->heartbeat_ms)
        || rp_config_int("RAPPORT_GATHER_US", 500, 0, 100000, &svc->gather_us))
        return -1;
    bool test_clock;
    if (rp_config_bool("RAPPORT_TEST_CLOCK", false, &test_clock))
        return -1;
    return 0;
}

/* s_bind - bind a CURVE server socket; 0 or -1 with a log line. */
static int
s_bind(rp_service_t *svc, zsock_t *sock, const char *endpoint, const char *what)
{
    zsock_set_zap_domain(sock, "rapport");
    zsock_set_curve_server(sock, 1);
    zsock_set_curve_secretkey(sock, svc->curve->secret_z85);
    zsock_set_maxmsgsize(sock, (int) svc->max_msg);
    zsock_set_linger(sock, 0);
    zsock_set_sndhwm(sock, 100000);
    zsock_set_rcvhwm(sock, 100000);
    if (zsock_bind(sock, "%s", endpoint) < 0) {
        rp_error("cannot bind %s on %s: %s", what, endpoint, zmq_strerror(zmq_errno()));
        return -1;
    }
    return 0;
}

/* s_write_endpoints - tell supervisors and tests where we listen, atomically. */
static int
s_write_endpoints(rp_service_t *svc)
{
    char *rpc = zsock_last_endpoint(svc->router), *pub = zsock_last_endpoint(svc->pub);
    char *text = svc->http
        ? rp_sprintf("rpc=%s\npub=%s\nhttp=127.0.0.1:%d\npid=%d\n", rpc, pub,
                     rp_http_port(svc->http), (int) getpid())
        : rp_sprintf("rpc=%s\npub=%s\npid=%d\n", rpc, pub, (int) getpid());
    zstr_free(&rpc);
    zstr_free(&pub);
    svc->endpoints_path = rp_sprintf("%s/endpoints", svc->data_dir);
    int rc = rp_write_file_private(svc->endpoints_path, text, strlen(text));
    free(text);
    return rc;
}

static void
s_register_metrics(rp_service_t *svc)
{
    rp_metrics_t *m = svc->metrics;
    svc->m_requests = rp_metrics_counter(m, "requests_total", "Requests answered", "");
    svc->m_errors = rp_metrics_counter(m, "request_errors_total", "Requests answered with an error", "");
    svc->m_unroutable = rp_metrics_counter(m, "unknown_method_total", "Requests for unknown methods", "");
    svc->m_commits = rp_metrics_counter(m, "commits_total", "Write transactions committed (fsyncs)", "");
    svc->m_events = rp_metrics_counter(m, "events_published_total", "Events published", "");
    svc->m_replays = rp_metrics_counter(m, "idempotent_replays_total", "Writes answered from the idempotency record", "");
    svc->m_last_seq = rp_metrics_gauge(m, "last_event_seq", "Last committed event seq", "");
    svc->m_map_size = rp_metrics_gauge(m, "lmdb_map_bytes", "LMDB map size", "");
    svc->m_batches = rp_metrics_counter(m, "batches_total", "Loop turns that took requests", "");
    svc->m_batched = rp_metrics_counter(m, "batched_requests_total", "Requests taken by those turns (mean batch = this / batches_total)", "");
    svc->m_commit_us = rp_metrics_histogram(m, "commit_duration", "Time of one group commit", "");
}

/* s_setup - everything before the loop. 0, 1 (run-time failure) or 2 (config). */
static int
s_setup(rp_service_t *svc, int argc, char **argv)
{
    if (s_configure(svc, argc, argv) != 0)
        return 2;
    rp_clock_init();
    if (sodium_init() < 0) {
        rp_error("libsodium cannot start");
        return 1;
    }
    if (rp_clock_is_test())
        rp_warn("TEST CLOCK ENABLED (RAPPORT_TEST_CLOCK=1): System/ClockAdvance may move time; never in production");
    svc->started_ms = rp_clock_now_ms();
    svc->limits.max_string = 4096;
    svc->limits.max_repeated = 1000;

    if (rp_keys_ensure_curve(svc->keys_dir, svc->def->name, true) != 0)
        return 1;
    svc->curve = rp_curve_load(svc->keys_dir, svc->def->name);
    if (!svc->curve)
        return 1;
    unsigned char pk[crypto_sign_PUBLICKEYBYTES];
    if (rp_issuer_public_load(svc->keys_dir, pk) != 0) {
        rp_error("no token issuer key in %s (issuer.pub): run `rapport keys init`", svc->keys_dir);
        return 1;
    }
    svc->verifier = rp_jwt_verifier_new();
    svc->memo_token = rp_malloc(RP_JWT_MAX_LEN + 1);
    rp_jwt_verifier_add_key(svc->verifier, pk);
    /* During a rotation the previous key stays trusted until its tokens expire. */
    int prev = rp_issuer_previous_load(svc->keys_dir, pk);
    if (prev < 0)
        return 2;
    if (prev == 0) {
        rp_jwt_verifier_add_key(svc->verifier, pk);
        rp_info("trusting the previous token issuer key too (issuer-previous.pub)");
    }

    svc->metrics = rp_metrics_new(svc->def->name);
    s_register_metrics(svc);
    s_add_routes(svc, svc->def->descriptor, svc->def->methods);
    s_add_routes(svc, &rapport__sys__v1__system__descriptor, svc_system_methods);

    svc->store = rp_store_open(svc->data_dir, svc->def->tables, svc->def->migrations,
                               (size_t) svc->map_size);
    if (!svc->store)
        return 1;
    rp_gauge_set(svc->m_map_size, (int64_t) rp_store_map_size(svc->store));
    if (svc_revocations_load(svc) != 0) {
        rp_error("cannot read the revoked tokens");
        return 1;
    }
    if (svc->def->on_open && svc->def->on_open(svc, svc->store) != 0) {
        rp_error("service start-up hook failed");
        return 1;
    }
    MDB_txn *txn;
    if (mdb_txn_begin(rp_store_env(svc->store), NULL, MDB_RDONLY, &txn) == 0) {
        svc->last_seq = rp_events_last_seq(txn, rp_store_dbi(svc->store, "events"));
        mdb_txn_abort(txn);
    }
    rp_gauge_set(svc->m_last_seq, (int64_t) svc->last_seq);

    /* ZAP: only clients whose public key is in <keys>/allow or registered in
     * identity get in (service_keys.c). */
    char *allow = rp_sprintf("%s/allow", svc->keys_dir);
    rp_mkdir_p(allow, 0700);
    svc->auth = svc_keys_auth_new(svc, allow);
    free(allow);
    if (!svc->auth)
        return 1;

    svc->router = zsock_new(ZMQ_ROUTER);
    svc->pub = zsock_new(ZMQ_PUB);
    if (!svc->router || !svc->pub
        || s_bind(svc, svc->router, svc->bind, "RPC") != 0
        || s_bind(svc, svc->pub, svc->pub_bind, "PUB") != 0)
        return 1;
    if (strcmp(svc->http_listen, "off") != 0) {
        svc->http = rp_http_new(svc->http_listen, svc->metrics);
        if (!svc->http) {
            rp_error("cannot serve ops HTTP on %s", svc->http_listen);
            return 1;
        }
    }
    svc->batch = rp_calloc((size_t) svc->batch_max * 2, sizeof *svc->batch);
    for (int64_t i = 0; i < svc->batch_max; i++)
        svc->batch[i] = svc_ctx_new(svc);
    if (svc_upstreams_open(svc) != 0)
        return 2;
    if (s_write_endpoints(svc) != 0) {
        rp_error("cannot write %s/endpoints: %s", svc->data_dir, strerror(errno));
        return 1;
    }
    if (svc->http)
        rp_http_set_ready(svc->http, true);
    return 0;
}

static void
s_teardown(rp_service_t *svc)
{
    if (svc->endpoints_path) {
        unlink(svc->endpoints_path);
        free(svc->endpoints_path);
    }
    if (svc->batch) {
        for (int64_t i = 0; i < svc->batch_max; i++)
            svc_ctx_destroy(&svc->batch[i]);
        free(svc->batch);
    }
    for (size_t i = 0; i < svc->n_upstreams; i++) {
        rp_consumer_destroy(&svc->upstreams[i].consumer);
        free(svc->upstreams[i].offset_key);
    }
    free(svc->upstreams);
    if (svc->service_token) {
        sodium_memzero(svc->service_token, strlen(svc->service_token));
        free(svc->service_token);
    }
    rp_http_destroy(&svc->http);
    /* Draining: replies and events already queued still go out (up to 2 s), so no
     * committed write is left unanswered. */
    if (svc->router)
        zsock_set_linger(svc->router, 2000);
    if (svc->pub)
        zsock_set_linger(svc->pub, 1000);
    zsock_destroy(&svc->router);
    zsock_destroy(&svc->pub);
    zactor_destroy(&svc->auth);
    rp_store_destroy(&svc->store);
    rp_jwt_verifier_destroy(&svc->verifier);
    if (svc->memo_token) {
        sodium_memzero(svc->memo_token, RP_JWT_MAX_LEN + 1);   /* a bearer token */
        free(svc->memo_token);
    }
    rp_curve_destroy(&svc->curve);
    for (size_t i = 0; i < svc->n_routes; i++)
        free(svc->routes[i].full);
    free(svc->routes);
    rp_metrics_destroy(&svc->metrics);
    free(svc->timer_due_us);
    free(svc->data_dir);
    free(svc->keys_dir);
    free(svc->bind);
    free(svc->pub_bind);
    free(svc->http_listen);
}

/* ------------------------------------------------------------------ the loop */

int
rp_service_main(int argc, char **argv, const rp_service_def_t *def)
{
    assert(def && def->name && def->descriptor && def->methods);
    rp_service_t svc_storage = { .def = def }, *svc = &svc_storage;
    zsys_init();
    zsys_set_logstream(NULL);           /* our own JSON log, not CZMQ's */
    zsys_catch_interrupts();            /* SIGINT/SIGTERM set zsys_interrupted: we drain */
    signal(SIGPIPE, SIG_IGN);

    int status = s_setup(svc, argc, argv);
    if (status != 0) {
        s_teardown(svc);
        return status;
    }
    size_t n_timers = 0;
    for (const rp_timer_t *t = def->timers; t && t->name; t++)
        n_timers++;
    int64_t now_us = rp_clock_mono_us();
    svc->timer_due_us = rp_calloc(n_timers + 1, sizeof(int64_t));
    for (size_t i = 0; i < n_timers; i++)
        svc->timer_due_us[i] = now_us + def->timers[i].interval_ms * 1000;
    int64_t idem_due_us = now_us + 60 * 1000000LL;
    int64_t hb_due_us = now_us;

    rp_info("serving %s on %s, events on %s, data in %s", def->name, svc->bind,
            svc->pub_bind, svc->data_dir);
    zmq_pollitem_t *items = rp_calloc(1 + 2 * svc->n_upstreams, sizeof *items);
    while (!zsys_interrupted) {
        now_us = rp_clock_mono_us();
        int64_t wait_us = hb_due_us - now_us;
        for (size_t i = 0; i < n_timers; i++)
            if (svc->timer_due_us[i] - now_us < wait_us)
                wait_us = svc->timer_due_us[i] - now_us;
        size_t n_items = 1;
        items[0] = (zmq_pollitem_t) { zsock_resolve(svc->router), 0, ZMQ_POLLIN, 0 };
        for (size_t i = 0; i < svc->n_upstreams; i++) {
            s_upstream_t *up = &svc->upstreams[i];
            if (!up->consumer) {
                if (now_us >= up->retry_at_us)
                    svc_upstream_connect(svc, up);
                else if (up->retry_at_us - now_us < wait_us)
                    wait_us = up->retry_at_us - now_us;
            }
            if (up->consumer) {
                if (rp_consumer_pending(up->consumer))
                    wait_us = 0;
                items[n_items++] = (zmq_pollitem_t) {
                    zsock_resolve(rp_consumer_socket(up->consumer)), 0, ZMQ_POLLIN, 0 };
                items[n_items++] = (zmq_pollitem_t) {
                    zsock_resolve(rp_consumer_rpc_socket(up->consumer)), 0, ZMQ_POLLIN, 0 };
            }
        }
        if (wait_us < 0)
            wait_us = 0;
        int rc = zmq_poll(items, (int) n_items, wait_us ? (long) (wait_us / 1000) + 1 : 0);
        if (rc < 0 && zmq_errno() != EINTR) {
            rp_error("poll: %s", zmq_strerror(zmq_errno()));
            status = 1;
            break;
        }
        if (rc > 0 && (items[0].revents & ZMQ_POLLIN))
            svc_batch(svc);
        for (size_t i = 0; i < svc->n_upstreams; i++) {
            s_upstream_t *up = &svc->upstreams[i];
            if (up->consumer && (rp_consumer_pending(up->consumer)
                                 || zsock_events(rp_consumer_socket(up->consumer)) & ZMQ_POLLIN
                                 || zsock_events(rp_consumer_rpc_socket(up->consumer)) & ZMQ_POLLIN))
                svc_consume(svc, up);
        }
        now_us = rp_clock_mono_us();
        if (now_us >= hb_due_us) {
            svc_heartbeat(svc);
            hb_due_us = now_us + svc->heartbeat_ms * 1000;
        }
        for (size_t i = 0; i < n_timers; i++)
            if (now_us >= svc->timer_due_us[i]) {
                svc_run_job(svc, def->timers[i].name, def->timers[i].run);
                svc->timer_due_us[i] = rp_clock_mono_us() + def->timers[i].interval_ms * 1000;
            }
        if (now_us >= idem_due_us) {
            svc_run_job(svc, "idempotency-sweep", svc_job_idem_sweep);
            idem_due_us = rp_clock_mono_us() + 60 * 1000000LL;
        }
    }
    free(items);
    /* Draining: the batch in hand has been committed and answered; stop taking more. */
    if (svc->http)
        rp_http_set_ready(svc->http, false);
    rp_info("draining: stopped taking requests; last seq %llu", (unsigned long long) svc->last_seq);
    s_teardown(svc);
    return status;
}
