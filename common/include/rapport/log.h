/* log.h - JSON lines on stderr: ts, level, service, msg, request_id, trace_id.
 * Never log a secret: tokens, passwords and keys are not passed to these functions.
 */
#ifndef RAPPORT_LOG_H
#define RAPPORT_LOG_H

typedef enum { RP_LOG_DEBUG = 0, RP_LOG_INFO, RP_LOG_WARN, RP_LOG_ERROR } rp_log_level_t;

/* rp_log_init - set the service name and the level ("debug", "info", "warn", "error").
 * Returns 0, or -1 for an unknown level name. */
int rp_log_init(const char *service, const char *level);
void rp_log_set_level(rp_log_level_t level);
/* rp_log - one JSON line. request_id and trace_id may be NULL. */
void rp_log(rp_log_level_t level, const char *request_id, const char *trace_id,
            const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#define rp_debug(...) rp_log(RP_LOG_DEBUG, NULL, NULL, __VA_ARGS__)
#define rp_info(...)  rp_log(RP_LOG_INFO, NULL, NULL, __VA_ARGS__)
#define rp_warn(...)  rp_log(RP_LOG_WARN, NULL, NULL, __VA_ARGS__)
#define rp_error(...) rp_log(RP_LOG_ERROR, NULL, NULL, __VA_ARGS__)

#endif
