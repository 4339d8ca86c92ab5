/* test_fold.c - unit tests for fold.c: name folding (case, accents,
 * Cyrillic, punctuation inside and between words, spaces), the prefix
 * property the company-name index relies on, truncation, strict UTF-8
 * validation, and tax-id and e-mail normalisation.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "rapport/fold.h"
#include "testutil.h"

static const struct {
    const char *in;
    const char *want;
} s_names[] = {
    { "  Société  Générale, S.A. ", "societe generale sa" },
    { "Straße", "strasse" },
    { "ÆØÅ æøå", "aeoa aeoa" },
    { "Łódź", "lodz" },
    { "Œuvre œuf", "oeuvre oeuf" },
    { "Þór Ðóra", "thor dora" },
    { "ĲSSEL", "ijssel" },
    { "Müller & Söhne GmbH", "muller sohne gmbh" },
    { "Nestlé", "nestle" },
    { "Škoda Auto a.s.", "skoda auto as" },
    { "Çelik Ağ Şirketi İstanbul", "celik ag sirketi istanbul" },
    { "Ţară Ștefan", "tara stefan" },
    { "Ñandú", "nandu" },
    { "ÀÁÂÃÄÅÇÈÉÊËÌÍÎÏÑÒÓÔÕÖÙÚÛÜÝ", "aaaaaaceeeeiiiinooooouuuuy" },
    { "àáâãäåçèéêëìíîïñòóôõöùúûüýÿ", "aaaaaaceeeeiiiinooooouuuuyy" },
    { "ĀāĂăĄąĆćČčĎďĐđĒēĘęĚěĞğĦħĪīĮįıĶķĹĺĽľŃńŇňŌōŐőŔŕŘřŚśŠšŢţŤťŪūŮůŰűŲųŴŵŶŷŸŹźŻżŽžſ",
      "aaaaaaccccddddeeeeeegghhiiiiikkllllnnnnoooorrrrssssttttuuuuuuuuwwyyyzzzzzzs" },
    /* Cyrillic keeps its letters and loses its case; Ё becomes е */
    { "ООО «Ромашка»", "ооо ромашка" },
    { "ЁЛКА ёлка", "елка елка" },
    { "АБВГДЕЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯ", "абвгдежзийклмнопрстуфхцчшщъыьэюя" },
    { "ЄІЇЎЂЉЊЋЏ", "єіїўђљњћџ" },
    { "Ґудзь ТОВ", "ґудзь тов" },
    { "ҚАЗАҚСТАН ӘӨҮҰҒҢҺ", "қазақстан әөүұғңһ" },
    { "Ӏ", "ӏ" },
    { "ΑΘΗΝΑ Όμιλος Ελλάδος", "αθηνα ομιλοσ ελλαδοσ" },
    /* punctuation: dropped inside a word, a separator between words */
    { "Coca-Cola", "cocacola" },
    { "Coca - Cola", "coca cola" },
    { "AT&T Inc.", "att inc" },
    { "S.A.", "sa" },
    { "S. A.", "s a" },
    { "O'Brien & Partners", "obrien partners" },
    { "1,000 Tools", "1000 tools" },
    { "(UK) Ltd", "uk ltd" },
    { "--Acme--", "acme" },
    { "Acme—Widgets", "acmewidgets" },
    { "Acme — Widgets", "acme widgets" },
    { "“Acme”", "acme" },
    { "Foo™ Bar", "foo bar" },
    { "Foo®Bar", "foobar" },
    { "100% Pure", "100 pure" },
    { "a\tb\nc\r\nd", "a b c d" },
    /* Unicode spaces separate; invisible characters are ignored */
    { "\xc2\xa0" "Foo" "\xe2\x80\x83" "Bar" "\xe3\x80\x80" "Baz", "foo bar baz" },
    { "Foo\xe2\x80\x8b" "Bar", "foobar" },
    { "Foo\xc2\xad" "Bar", "foobar" },
    { "\xef\xbb\xbf" "Acme", "acme" },
    { "e\xcc\x81" "cole", "ecole" },
    { "E\xcc\x81" "COLE", "ecole" },
    { "Ｒａｐｐｏｒｔ　ＡＧ", "rapport ag" },
    { "Nº 1 ª ²", "no 1 a 2" },
    { "Ümit × 2", "umit 2" },
    /* other scripts pass through */
    { "東京電力 ホールディングス", "東京電力 ホールディングス" },
    { "", "" },
    { "   ", "" },
    { "...", "" },
    { "-", "" },
};

static void test_fold_name(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof s_names / sizeof s_names[0]; i++) {
        char out[512];
        long n = rp_fold_name(s_names[i].in, out, sizeof out);
        if (n < 0 || strcmp(out, s_names[i].want) != 0)
            fail_msg("fold(\"%s\") = \"%s\" (%ld), want \"%s\"", s_names[i].in, out, n, s_names[i].want);
        assert_int_equal(n, (long)strlen(s_names[i].want));
        /* folding is idempotent */
        char again[512];
        assert_int_equal(rp_fold_name(out, again, sizeof again), n);
        assert_string_equal(again, out);
    }
}

/* s_char_len - length of the UTF-8 character starting at s. */
static size_t s_char_len(const char *s)
{
    unsigned char c = (unsigned char)*s;
    return c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
}

/* The fold of every character-aligned prefix is a prefix of the fold of the
 * whole, with or without truncation. */
static void test_fold_prefix(void **state)
{
    (void)state;
    static const size_t caps[] = { 512, 12, 5, 2, 1 };
    for (size_t i = 0; i < sizeof s_names / sizeof s_names[0]; i++) {
        const char *name = s_names[i].in;
        size_t len = strlen(name);
        for (size_t c = 0; c < sizeof caps / sizeof caps[0]; c++) {
            char whole[512];
            long wn = rp_fold_name(name, whole, caps[c]);
            assert_true(wn >= 0 && (size_t)wn < caps[c]);
            char prefix[512];
            for (size_t k = 0; k <= len; k += k < len ? s_char_len(name + k) : 1) {
                memcpy(prefix, name, k);
                prefix[k] = '\0';
                char folded[512];
                long pn = rp_fold_name(prefix, folded, caps[c]);
                assert_true(pn >= 0 && pn <= wn);
                if (strncmp(folded, whole, (size_t)pn) != 0)
                    fail_msg("fold(\"%s\") = \"%s\" is not a prefix of \"%s\"", prefix, folded, whole);
            }
        }
    }
}

static void test_fold_truncate(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        size_t cap;
        const char *want;
    } cases[] = {
        { "Societe Generale", 10, "societe g" },
        { "Societe Generale", 9, "societe" },   /* never ends in a separator */
        { "Societe Generale", 8, "societe" },
        { "Societe Generale", 1, "" },
        { "Straße", 6, "stra" },                 /* ß -> ss goes whole or not at all */
        { "Straße", 7, "strass" },
        { "аба", 4, "а" },                       /* never half a character */
        { "аба", 5, "аб" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[64];
        long n = rp_fold_name(cases[i].in, out, cases[i].cap);
        assert_int_equal(n, (long)strlen(cases[i].want));
        assert_string_equal(out, cases[i].want);
    }
}

static void test_utf8_valid(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        size_t len;         /* 0: strlen */
        bool want;
    } cases[] = {
        { "", 0, true },
        { "plain ascii", 0, true },
        { "é€😀", 0, true },
        { "\xc2\x80", 0, true },                /* U+0080, smallest 2-byte */
        { "\xdf\xbf", 0, true },                /* U+07FF */
        { "\xe0\xa0\x80", 0, true },            /* U+0800 */
        { "\xed\x9f\xbf", 0, true },            /* U+D7FF, just below the surrogates */
        { "\xee\x80\x80", 0, true },            /* U+E000 */
        { "\xef\xbf\xbf", 0, true },            /* U+FFFF */
        { "\xf0\x90\x80\x80", 0, true },        /* U+10000 */
        { "\xf4\x8f\xbf\xbf", 0, true },        /* U+10FFFF */
        { "a\0b", 3, true },                    /* NUL is well-formed */
        { "\x80", 0, false },                   /* lone continuation */
        { "\xbf", 0, false },
        { "\xc0\xaf", 0, false },               /* overlong '/' */
        { "\xc1\xbf", 0, false },
        { "\xe0\x80\xaf", 0, false },           /* overlong 3-byte */
        { "\xe0\x9f\xbf", 0, false },
        { "\xf0\x80\x80\xaf", 0, false },       /* overlong 4-byte */
        { "\xf0\x8f\xbf\xbf", 0, false },
        { "\xed\xa0\x80", 0, false },           /* U+D800 surrogate */
        { "\xed\xbf\xbf", 0, false },           /* U+DFFF surrogate */
        { "\xf4\x90\x80\x80", 0, false },       /* above U+10FFFF */
        { "\xf5\x80\x80\x80", 0, false },
        { "\xff", 0, false },
        { "\xfe", 0, false },
        { "\xc3", 0, false },                   /* truncated */
        { "\xe2\x82", 0, false },
        { "\xf0\x9f\x98", 0, false },
        { "\xc3\x28", 0, false },               /* bad continuation */
        { "\xe2\x28\xa1", 0, false },
        { "\xf0\x9f\x28\x80", 0, false },
        { "ok\xc3\xa9\xc3", 0, false },
        { "\xc3\xa9", 1, false },               /* len cuts the character */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t len = cases[i].len ? cases[i].len : strlen(cases[i].s);
        if (rp_utf8_valid(cases[i].s, len) != cases[i].want)
            fail_msg("case %zu: rp_utf8_valid = %d, want %d", i, !cases[i].want, cases[i].want);
        /* rp_fold_name refuses what is not valid */
        if (!cases[i].want && cases[i].len == 0) {
            char out[32];
            assert_int_equal(rp_fold_name(cases[i].s, out, sizeof out), -1);
            assert_int_equal(rp_fold_taxid(cases[i].s, out, sizeof out), -1);
            assert_int_equal(rp_fold_email(cases[i].s, out, sizeof out), -1);
        }
    }
}

static void test_fold_taxid(void **state)
{
    (void)state;
    static const rp_test_buf_case_t cases[] = {
        { "de 123-456", 64, 8, "DE123456" },
        { "  FR 12 345 678 901 ", 64, 13, "FR12345678901" },
        { "GB.123/456.78", 64, 10, "GB12345678" },
        { "ИНН 7707083893", 64, 10, "7707083893" },  /* non-ASCII is dropped */
        { "", 64, 0, "" },
        { "--", 64, 0, "" },
        { "DE123456", 9, 8, "DE123456" },            /* exactly fits */
        { "DE123456", 8, -1, NULL },                 /* never truncated */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[64];
        long n = rp_fold_taxid(cases[i].in, out, cases[i].cap);
        rp_test_buf_check(&cases[i], n, out);
        if (n >= 0)
            assert_int_equal(out[n], '\0');
    }
}

static void test_fold_email(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        size_t cap;
        const char *want;   /* NULL: -1 */
    } cases[] = {
        { " John.Doe@Example.COM ", 64, "john.doe@example.com" },
        { "user+tag@sub.example.co.uk", 64, "user+tag@sub.example.co.uk" },
        { "o'neil_1@my-host.io", 64, "o'neil_1@my-host.io" },
        { "José@Exämple.DE", 64, "josé@exämple.de" },
        { "\tA@B.CD\n", 64, "a@b.cd" },
        { "a@b.cd", 7, "a@b.cd" },          /* exactly fits */
        { "a@b.cd", 6, NULL },
        { "a@b.c", 64, NULL },              /* one-letter TLD */
        { "a@b", 64, NULL },
        { "a@localhost", 64, NULL },
        { "@b.com", 64, NULL },
        { "a@", 64, NULL },
        { "a", 64, NULL },
        { "", 64, NULL },
        { "a@@b.com", 64, NULL },
        { "a@b@c.com", 64, NULL },
        { "a..b@c.com", 64, NULL },
        { ".a@c.com", 64, NULL },
        { "a.@c.com", 64, NULL },
        { "a b@c.com", 64, NULL },
        { "a@b .com", 64, NULL },
        { "a@b..com", 64, NULL },
        { "a@.b.com", 64, NULL },
        { "a@b.com.", 64, NULL },
        { "a@-b.com", 64, NULL },
        { "a@b-.com", 64, NULL },
        { "a@b_c.com", 64, NULL },
        { "a@c.123", 64, NULL },            /* numeric TLD */
        { "\"a\"@b.com", 64, NULL },
        { "a<b>@c.com", 64, NULL },
        { "John Doe <jd@x.com>", 64, NULL },
        { "a\x01@b.com", 64, NULL },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[64];
        long n = rp_fold_email(cases[i].in, out, cases[i].cap);
        if (!cases[i].want) {
            if (n != -1)
                fail_msg("email \"%s\" accepted as \"%s\"", cases[i].in, out);
            continue;
        }
        assert_int_equal(n, (long)strlen(cases[i].want));
        assert_string_equal(out, cases[i].want);
    }
    /* a local part over 64 bytes is refused */
    char longer[128], out[128];
    memset(longer, 'a', 65);
    strcpy(longer + 65, "@b.com");
    assert_int_equal(rp_fold_email(longer, out, sizeof out), -1);
    strcpy(longer + 64, "@b.com");
    assert_int_equal(rp_fold_email(longer, out, sizeof out), 70);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fold_name),
        cmocka_unit_test(test_fold_prefix),
        cmocka_unit_test(test_fold_truncate),
        cmocka_unit_test(test_utf8_valid),
        cmocka_unit_test(test_fold_taxid),
        cmocka_unit_test(test_fold_email),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
