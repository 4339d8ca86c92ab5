/* harness_leads.h - leads as other services' integration tests need them: a lead
 * won on a running rapport-leads (contracts drafts from lead.won, accounts makes a
 * client of it). Each fails the test on an error.
 */
#ifndef RAPPORT_HARNESS_LEADS_H
#define RAPPORT_HARNESS_LEADS_H
#include <stdbool.h>
#include <stdint.h>
#include "harness.h"

/* rp_it_win_lead - through leads (a client of rapport-leads with the owner's
 * token), create a lead of company `name` with one decision maker ("Dee Maker")
 * and an expected value of `units` EUR (minor units); with_offer: an offer of that
 * total, valid 30 days by leads' clock, sent and accepted; then win it. Returns the
 * lead id (malloc'd). */
char *rp_it_win_lead(rp_suite_t *s, rp_client_t *leads, const char *name, int64_t units, bool with_offer);

#endif
