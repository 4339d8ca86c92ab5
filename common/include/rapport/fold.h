/* fold.h - text normalisation for search keys and duplicate checks.
 * Case and accent folding of UTF-8 (Latin-1 Supplement, Latin Extended-A and
 * Cyrillic case), whitespace collapsing, and tax-id / e-mail normalisation.
 */
#ifndef RAPPORT_FOLD_H
#define RAPPORT_FOLD_H
#include <stddef.h>
#include <stdbool.h>

/* rp_fold_name - fold case and accents, drop punctuation except digits/letters,
 * collapse runs of spaces to one, trim. "  Société  Générale, S.A. " -> "societe generale sa".
 * Writes at most cap-1 bytes and NUL. Returns the length, or -1 if s is not valid UTF-8. */
long rp_fold_name(const char *s, char *out, size_t cap);
/* rp_fold_taxid - keep only ASCII letters and digits, upper-cased. "de 123-456" -> "DE123456". */
long rp_fold_taxid(const char *s, char *out, size_t cap);
/* rp_fold_email - trim and lower-case; -1 unless it looks like local@domain.tld. */
long rp_fold_email(const char *s, char *out, size_t cap);
/* rp_utf8_valid - true when s (len bytes) is well-formed UTF-8. */
bool rp_utf8_valid(const char *s, size_t len);

#endif
