/* fold.c - text normalisation for search keys and duplicate checks.
 *
 * rp_fold_name turns a company or person name into a key: lower case, no
 * accents, words separated by single spaces. The rules, one code point at a
 * time (after strict UTF-8 validation):
 *   - letters and digits are word characters. ASCII and Latin-1 / Latin
 *     Extended-A letters fold to ASCII (é -> e, ß -> ss, æ -> ae, ø -> o,
 *     ł -> l, œ -> oe, þ -> th); Romanian ș ț fold to s t. Cyrillic letters stay
 *     Cyrillic but lose their case (Д -> д, Ґ -> ґ), and Ё / ё become е as
 *     Russian search expects. Basic Greek loses case and tonos (Ό -> ο),
 *     and final ς becomes σ. Other letters (CJK, Arabic, Latin Extended-B
 *     and Additional, ...) are kept as they are;
 *   - whitespace (including NBSP and the Unicode spaces) separates words;
 *   - punctuation and symbols directly between two word characters are
 *     dropped ("S.A." -> "sa", "AT&T" -> "att", "Coca-Cola" -> "cocacola");
 *     anywhere else they separate words ("Smith - Jones", "Générale, S.A.");
 *   - combining marks, zero-width characters and the soft hyphen are ignored,
 *     so a decomposed "e\u0301" folds like "é";
 *   - runs of separators become one space; leading and trailing ones go.
 * A separator is only written when the next word starts, so the fold of a
 * (character-aligned) prefix of a name is always a prefix of the fold of the
 * whole name: the company-name prefix index depends on that. When the result
 * does not fit, it is cut before the first word character that does not fit
 * whole (with its separator), which keeps that property.
 */
#include "rapport/fold.h"

#include <assert.h>
#include <stdint.h>
#include <string.h>

/* s_decode - one strictly well-formed UTF-8 sequence (no overlongs, no
 * surrogates, nothing above U+10FFFF) from s (n bytes left): its length and
 * *cp, or 0 when it is malformed. */
static size_t s_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
    unsigned char c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    size_t len;
    unsigned char lo = 0x80, hi = 0xBF;     /* allowed range of the second byte */
    uint32_t v;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
        v = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        v = c & 0x0F;
        if (c == 0xE0)
            lo = 0xA0;                      /* overlong */
        else if (c == 0xED)
            hi = 0x9F;                      /* surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        v = c & 0x07;
        if (c == 0xF0)
            lo = 0x90;                      /* overlong */
        else if (c == 0xF4)
            hi = 0x8F;                      /* above U+10FFFF */
    } else
        return 0;
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        v = v << 6 | (s[i] & 0x3F);
    }
    *cp = v;
    return len;
}

/* s_encode - cp as UTF-8 into out (4 bytes); its length. */
static size_t s_encode(uint32_t cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | cp >> 12);
        out[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | cp >> 18);
    out[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    out[2] = (char)(0x80 | (cp >> 6 & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

bool rp_utf8_valid(const char *s, size_t len)
{
    assert(s || len == 0);
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        uint32_t cp;
        size_t k = s_decode(p + i, len - i, &cp);
        if (!k)
            return false;
        i += k;
    }
    return true;
}

typedef enum { S_WORD, S_PUNCT, S_SPACE, S_IGNORE } s_class_t;

/* U+00C0..U+00FF; NULL marks the two symbols (× and ÷). */
static const char *const s_latin1[64] = {
    "a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i", "i",
    "d", "n", "o", "o", "o", "o", "o", NULL, "o", "u", "u", "u", "u", "y", "th", "ss",
    "a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i", "i",
    "d", "n", "o", "o", "o", "o", "o", NULL, "o", "u", "u", "u", "u", "y", "th", "y",
};

/* U+0100..U+017F, one ASCII letter each; '*' marks Ĳ ĳ Œ œ, which take two. */
static const char s_latin_ext_a[] =
    "aaaaaa"            /* 0100 Ā ā Ă ă Ą ą */
    "cccccccc"          /* 0106 Ć ć Ĉ ĉ Ċ ċ Č č */
    "dddd"              /* 010E Ď ď Đ đ */
    "eeeeeeeeee"        /* 0112 Ē ē Ĕ ĕ Ė ė Ę ę Ě ě */
    "gggggggg"          /* 011C Ĝ ĝ Ğ ğ Ġ ġ Ģ ģ */
    "hhhh"              /* 0124 Ĥ ĥ Ħ ħ */
    "iiiiiiiiii"        /* 0128 Ĩ ĩ Ī ī Ĭ ĭ Į į İ ı */
    "**"                /* 0132 Ĳ ĳ */
    "jj"                /* 0134 Ĵ ĵ */
    "kkk"               /* 0136 Ķ ķ ĸ */
    "llllllllll"        /* 0139 Ĺ ĺ Ļ ļ Ľ ľ Ŀ ŀ Ł ł */
    "nnnnnnnnn"         /* 0143 Ń ń Ņ ņ Ň ň ŉ Ŋ ŋ */
    "oooooo"            /* 014C Ō ō Ŏ ŏ Ő ő */
    "**"                /* 0152 Œ œ */
    "rrrrrr"            /* 0154 Ŕ ŕ Ŗ ŗ Ř ř */
    "ssssssss"          /* 015A Ś ś Ŝ ŝ Ş ş Š š */
    "tttttt"            /* 0162 Ţ ţ Ť ť Ŧ ŧ */
    "uuuuuuuuuuuu"      /* 0168 Ũ ũ Ū ū Ŭ ŭ Ů ů Ű ű Ų ų */
    "ww"                /* 0174 Ŵ ŵ */
    "yyy"               /* 0176 Ŷ ŷ Ÿ */
    "zzzzzz"            /* 0179 Ź ź Ż ż Ž ž */
    "s";                /* 017F ſ */
_Static_assert(sizeof s_latin_ext_a == 128 + 1, "Latin Extended-A table has 128 entries");

/* s_cyrillic_lower - the lower-case Cyrillic letter for cp (U+0400..U+052F). */
static uint32_t s_cyrillic_lower(uint32_t cp)
{
    if (cp == 0x0401 || cp == 0x0451)
        return 0x0435;                          /* Ё ё -> е */
    if (cp <= 0x040F)
        return cp + 0x50;                       /* Ѐ..Џ -> ѐ..џ */
    if (cp <= 0x042F)
        return cp + 0x20;                       /* А..Я -> а..я */
    if (cp <= 0x045F)
        return cp;
    if (cp == 0x04C0)
        return 0x04CF;                          /* Ӏ -> ӏ */
    if (cp >= 0x04C1 && cp <= 0x04CE)
        return cp % 2 ? cp + 1 : cp;            /* odd upper, even lower */
    return cp % 2 ? cp : cp + 1;                /* even upper, odd lower */
}

/* s_greek_fold - basic Greek (U+0386..U+03CE) without case, tonos or
 * dialytika, and with σ for the final ς. */
static uint32_t s_greek_fold(uint32_t cp)
{
    switch (cp) {
    case 0x386: case 0x3AC: return 0x3B1;                           /* ά -> α */
    case 0x388: case 0x3AD: return 0x3B5;                           /* έ -> ε */
    case 0x389: case 0x3AE: return 0x3B7;                           /* ή -> η */
    case 0x38A: case 0x390: case 0x3AA: case 0x3AF: case 0x3CA:
        return 0x3B9;                                               /* ί ΐ ϊ -> ι */
    case 0x38C: case 0x3CC: return 0x3BF;                           /* ό -> ο */
    case 0x38E: case 0x3AB: case 0x3B0: case 0x3CB: case 0x3CD:
        return 0x3C5;                                               /* ύ ΰ ϋ -> υ */
    case 0x38F: case 0x3CE: return 0x3C9;                           /* ώ -> ω */
    case 0x3C2: return 0x3C3;                                       /* ς -> σ */
    }
    if (cp >= 0x391 && cp <= 0x3A9 && cp != 0x3A2)
        return cp + 0x20;                                           /* capitals */
    return cp;
}

/* s_classify - the class of cp and, for a word character, its fold into out
 * (at most 4 bytes, *len set). */
static s_class_t s_classify(uint32_t cp, char *out, size_t *len)
{
    if (cp >= 0xFF01 && cp <= 0xFF5E)
        cp -= 0xFEE0;                           /* fullwidth ASCII */
    if (cp < 0x80) {
        if ((cp >= 'a' && cp <= 'z') || (cp >= '0' && cp <= '9')) {
            out[0] = (char)cp;
            *len = 1;
            return S_WORD;
        }
        if (cp >= 'A' && cp <= 'Z') {
            out[0] = (char)(cp - 'A' + 'a');
            *len = 1;
            return S_WORD;
        }
        if (cp <= 0x20 || cp == 0x7F)
            return S_SPACE;
        return S_PUNCT;
    }
    if (cp <= 0xA0)
        return S_SPACE;                         /* C1 controls, NBSP */
    if (cp < 0xC0) {
        const char *w = cp == 0xAA ? "a" : cp == 0xBA ? "o" : cp == 0xB9 ? "1"
                      : cp == 0xB2 ? "2" : cp == 0xB3 ? "3" : NULL;
        if (cp == 0xAD)
            return S_IGNORE;                    /* soft hyphen */
        if (!w)
            return S_PUNCT;
        out[0] = w[0];
        *len = 1;
        return S_WORD;
    }
    if (cp <= 0xFF) {
        const char *w = s_latin1[cp - 0xC0];
        if (!w)
            return S_PUNCT;
        *len = strlen(w);
        memcpy(out, w, *len);
        return S_WORD;
    }
    if (cp <= 0x17F) {
        char c = s_latin_ext_a[cp - 0x100];
        if (c == '*') {
            memcpy(out, cp <= 0x133 ? "ij" : "oe", 2);
            *len = 2;
        } else {
            out[0] = c;
            *len = 1;
        }
        return S_WORD;
    }
    if (cp >= 0x218 && cp <= 0x21B) {
        out[0] = cp <= 0x219 ? 's' : 't';       /* Romanian Ș ș Ț ț */
        *len = 1;
        return S_WORD;
    }
    if (cp >= 0x300 && cp <= 0x36F)
        return S_IGNORE;                        /* combining diacritics */
    if (cp >= 0x386 && cp <= 0x3CE)
        cp = s_greek_fold(cp);
    else if (cp >= 0x400 && cp <= 0x52F) {
        if (cp == 0x482)
            return S_PUNCT;                     /* ҂ */
        if (cp >= 0x483 && cp <= 0x489)
            return S_IGNORE;                    /* combining titlo and friends */
        cp = s_cyrillic_lower(cp);
    } else if (cp >= 0x2000 && cp <= 0x206F) {
        if (cp <= 0x200A || cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F)
            return S_SPACE;
        if (cp <= 0x200F || (cp >= 0x202A && cp <= 0x202E) || cp >= 0x2060)
            return S_IGNORE;                    /* zero-width, bidi marks */
        return S_PUNCT;                         /* dashes, quotes, bullets */
    } else if ((cp >= 0x20A0 && cp <= 0x20CF) || (cp >= 0x2100 && cp <= 0x2BFF)
               || (cp >= 0x1F000 && cp <= 0x1FAFF) || cp == 0xFFFD)
        return S_PUNCT;                         /* currency, symbols, arrows, emoji */
    else if (cp == 0x3000)
        return S_SPACE;
    else if ((cp >= 0x3001 && cp <= 0x3003) || (cp >= 0x3008 && cp <= 0x3011)
             || (cp >= 0x3014 && cp <= 0x301F))
        return S_PUNCT;                         /* CJK punctuation */
    else if ((cp >= 0xFE00 && cp <= 0xFE0F) || cp == 0xFEFF || (cp >= 0xE0000 && cp <= 0xE007F))
        return S_IGNORE;                        /* variation selectors, BOM, tags */
    *len = s_encode(cp, out);
    return S_WORD;
}

long rp_fold_name(const char *s, char *out, size_t cap)
{
    assert(s && out && cap > 0);
    size_t slen = strlen(s);
    if (!rp_utf8_valid(s, slen))
        return -1;
    const unsigned char *p = (const unsigned char *)s;
    size_t n = 0;
    bool have_word = false;
    enum { GAP_NONE, GAP_PUNCT, GAP_SPACE } gap = GAP_NONE;
    size_t i = 0;
    while (i < slen) {
        uint32_t cp = 0;
        size_t k = s_decode(p + i, slen - i, &cp);
        assert(k);              /* the input was checked as UTF-8 above */
        if (k == 0)
            break;
        i += k;
        char w[4];
        size_t wlen = 0;
        switch (s_classify(cp, w, &wlen)) {
        case S_WORD: {
            bool space = have_word && gap == GAP_SPACE;
            if (n + space + wlen > cap - 1)
                goto done;
            if (space)
                out[n++] = ' ';
            memcpy(out + n, w, wlen);
            n += wlen;
            have_word = true;
            gap = GAP_NONE;
            break;
        }
        case S_PUNCT:
            if (gap == GAP_NONE)
                gap = GAP_PUNCT;
            break;
        case S_SPACE:
            gap = GAP_SPACE;
            break;
        case S_IGNORE:
            break;
        }
    }
done:
    out[n] = '\0';
    return (long)n;
}

long rp_fold_taxid(const char *s, char *out, size_t cap)
{
    assert(s && out && cap > 0);
    size_t slen = strlen(s);
    if (!rp_utf8_valid(s, slen))
        return -1;
    size_t n = 0;
    for (size_t i = 0; i < slen; i++) {
        char c = s[i];
        if (c >= 'a' && c <= 'z')
            c = (char)(c - 'a' + 'A');
        else if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')))
            continue;
        if (n + 1 >= cap)
            return -1;                          /* truncating would merge distinct ids */
        out[n++] = c;
    }
    out[n] = '\0';
    return (long)n;
}

/* s_is_space - ASCII whitespace. */
static bool s_is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* s_is_alnum - ASCII letter or digit. */
static bool s_is_alnum(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* s_email_local_ok - the dot-atom local part of RFC 5322, UTF-8 allowed (RFC 6531). */
static bool s_email_local_ok(const char *s, size_t len)
{
    if (len == 0 || len > 64 || s[0] == '.' || s[len - 1] == '.')
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '.' && i + 1 < len && s[i + 1] == '.')
            return false;
        if (!(s_is_alnum(c) || c >= 0x80 || (c && strchr(".!#$%&'*+-/=?^_`{|}~", c))))
            return false;
    }
    return true;
}

/* s_email_domain_ok - two or more labels of letters, digits and hyphens (UTF-8
 * allowed), none empty or starting or ending with '-', and a TLD of at least
 * two characters that is not all digits. */
static bool s_email_domain_ok(const char *s, size_t len)
{
    if (len == 0 || len > 253)
        return false;
    size_t labels = 0, start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && s[i] != '.') {
            unsigned char c = (unsigned char)s[i];
            if (!(s_is_alnum(c) || c == '-' || c >= 0x80))
                return false;
            continue;
        }
        size_t l = i - start;
        if (l == 0 || l > 63 || s[start] == '-' || s[i - 1] == '-')
            return false;
        labels++;
        if (i == len) {
            bool digits = true;
            for (size_t j = start; j < i; j++)
                digits = digits && s[j] >= '0' && s[j] <= '9';
            if (l < 2 || digits)
                return false;
        }
        start = i + 1;
    }
    return labels >= 2;
}

long rp_fold_email(const char *s, char *out, size_t cap)
{
    assert(s && out && cap > 0);
    size_t slen = strlen(s);
    if (!rp_utf8_valid(s, slen))
        return -1;
    size_t b = 0, e = slen;
    while (b < e && s_is_space(s[b]))
        b++;
    while (e > b && s_is_space(s[e - 1]))
        e--;
    size_t len = e - b;
    if (len > 254 || len + 1 > cap)
        return -1;
    const char *t = s + b;
    const char *at = memchr(t, '@', len);
    if (!at || memchr(at + 1, '@', len - (size_t)(at - t) - 1))
        return -1;
    size_t local_len = (size_t)(at - t);
    if (!s_email_local_ok(t, local_len) || !s_email_domain_ok(at + 1, len - local_len - 1))
        return -1;
    for (size_t i = 0; i < len; i++) {
        char c = t[i];
        out[i] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
    }
    out[len] = '\0';
    return (long)len;
}
