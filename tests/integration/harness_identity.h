/* harness_identity.h - calls on a running rapport-identity for integration tests:
 * one call with its status, creating users, logging in, the test clock, and
 * waiting until another service refuses a token. Each asserts (fails the test)
 * only where its comment says so; the others return the status code.
 */
#ifndef RAPPORT_HARNESS_IDENTITY_H
#define RAPPORT_HARNESS_IDENTITY_H
#include <stdbool.h>
#include <stdint.h>
#include "harness.h"
#include "rapport/identity/v1/identity.pb-c.h"

#define RP_IT_PW "tangerine-Orbit-42"   /* a password that meets the policy */

/* rp_it_call - one call of method on service svc with token (NULL: none); the
 * status code; the reply into *out when out and desc are given (free_unpacked);
 * the status into *st when st is given. Failures are printed as a test message. */
int rp_it_call(rp_suite_t *s, const char *svc, const char *token, const char *method,
               const ProtobufCMessage *in, const ProtobufCMessageDescriptor *desc, ProtobufCMessage **out,
               rp_call_status_t *st);

/* rp_it_user - CreateUser as token: username with one role in unit (branch "hq"),
 * password RP_IT_PW and the authority limits given. The status code. */
int rp_it_user(rp_suite_t *s, const char *token, const char *username, const char *role, const char *unit,
               int64_t limit_value, int32_t limit_bp);

/* rp_it_login - Login with RP_IT_PW; the access token (malloc'd). Asserts OK. */
char *rp_it_login(rp_suite_t *s, const char *username);

/* rp_it_whoami - WhoAmI with token; the reply (free_unpacked) or NULL. */
Rapport__Identity__V1__WhoAmIReply *rp_it_whoami(rp_suite_t *s, const char *token);

/* rp_it_clock - move svc's test clock (RAPPORT_TEST_CLOCK=1) by by_ms; its now. Asserts OK. */
int64_t rp_it_clock(rp_suite_t *s, const char *svc, int64_t by_ms);

/* rp_it_leads_code - the status of a ListByOwner(owner) on leads with token. */
int rp_it_leads_code(rp_suite_t *s, const char *token, const char *owner);

/* rp_it_leads_refuses_us - how long leads took to answer UNAUTHENTICATED for token
 * (polled every 20 ms for up to 5 s); -1 when it never did. */
int64_t rp_it_leads_refuses_us(rp_suite_t *s, const char *token, const char *owner);


/* rp_it_store_downgrade - make the stopped service svc's store look written by an
 * older version: table emptied, schema_version set to version. Asserts. */
void rp_it_store_downgrade(rp_suite_t *s, const char *svc, const char *table, uint32_t version);

#endif
