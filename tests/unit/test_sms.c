/* Unit tests for common/sms: whether a text goes as GSM-7 or UCS-2, and
 * how many segments it is sent as. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sms.h"

/* Returns unit repeated n times, then tail (freed by the next call). */
static const char *repeat(const char *unit, size_t n, const char *tail)
{
    static char *last;
    free(last);
    size_t len = strlen(unit) * n + strlen(tail);
    last = malloc(len + 1);
    assert_non_null(last);
    char *p = last;
    for (size_t i = 0; i < n; i++) {
        memcpy(p, unit, strlen(unit));
        p += strlen(unit);
    }
    memcpy(p, tail, strlen(tail) + 1);
    return last;
}

/* Counts text and checks the encoding, units and segments it comes to. */
static void assert_count(const char *text, ac_sms_encoding_t enc, size_t units, size_t segments)
{
    ac_sms_count_t c;
    memset(&c, 0x5a, sizeof(c));
    ac_sms_count(text, &c);
    if (c.encoding != enc || c.units != units || c.segments != segments)
        fail_msg("\"%.40s...\" (%zu bytes): got %s, %zu units, %zu segments; want %s, %zu units, "
                 "%zu segments",
                 text, strlen(text), ac_sms_encoding_name(c.encoding), c.units, c.segments,
                 ac_sms_encoding_name(enc), units, segments);
    assert_int_equal(ac_sms_is_gsm7(text), enc == AC_SMS_GSM7);
}

static void test_ascii_is_gsm7(void **state)
{
    (void)state;
    assert_true(ac_sms_is_gsm7(""));
    assert_true(ac_sms_is_gsm7("Nordwind Outfitters: Your order #5001 is on its way."));
    assert_true(ac_sms_is_gsm7("@$_!\"#%&'()*+,-./0123456789:;<=>?"));
    assert_true(ac_sms_is_gsm7("line one\nline two\r\n"));
    assert_true(ac_sms_is_gsm7("https://www.ups.com/track?tracknum=1Z999AA10123456784"));
    /* The one printable ASCII character missing from both tables, and the
     * control characters besides line feed, carriage return and form feed. */
    assert_false(ac_sms_is_gsm7("`"));
    assert_false(ac_sms_is_gsm7("a\tb"));
    assert_false(ac_sms_is_gsm7("\x7f"));
    assert_false(ac_sms_is_gsm7("\x01"));
}

static void test_extension_table_counts_two(void **state)
{
    (void)state;
    static const char *const ext[] = {"€", "[", "]", "{", "}", "^", "~", "\\", "|", "\f"};
    for (size_t i = 0; i < sizeof(ext) / sizeof(ext[0]); i++) {
        assert_true(ac_sms_is_gsm7(ext[i]));
        assert_count(ext[i], AC_SMS_GSM7, 2, 1);
        char text[16];
        snprintf(text, sizeof(text), "a%sb", ext[i]);
        assert_count(text, AC_SMS_GSM7, 4, 1);
    }
    assert_int_equal(ac_sms_gsm7_septets(0x20AC), 2);
    assert_int_equal(ac_sms_gsm7_septets('['), 2);
    assert_count("Total: 148,98 €", AC_SMS_GSM7, 16, 1);
}

static void test_default_alphabet_beyond_ascii(void **state)
{
    (void)state;
    /* German, Scandinavian and some Romance letters are in the default
     * alphabet: a German SMS usually stays GSM-7. */
    assert_count("ü", AC_SMS_GSM7, 1, 1);
    assert_count("é", AC_SMS_GSM7, 1, 1);
    assert_count("Grüße aus Köln, Jürgen", AC_SMS_GSM7, 22, 1);
    assert_true(ac_sms_is_gsm7("äöüÄÖÜß"));
    assert_true(ac_sms_is_gsm7("èéùìòÇÉ"));
    assert_true(ac_sms_is_gsm7("ØøÅåÆæÑñà"));
    assert_true(ac_sms_is_gsm7("£¥§¤¡¿"));
    assert_true(ac_sms_is_gsm7("ΔΦΓΛΩΠΨΣΘΞ"));
    assert_true(ac_sms_is_gsm7("Søren Kjær, José, Chloé"));
}

static void test_other_characters_need_ucs2(void **state)
{
    (void)state;
    assert_count("ł", AC_SMS_UCS2, 1, 1);
    assert_count("Łukasz", AC_SMS_UCS2, 6, 1);
    /* One character outside the alphabet turns the whole text to UCS-2. */
    assert_count("Hi Siobhán", AC_SMS_UCS2, 10, 1);
    assert_false(ac_sms_is_gsm7("ç")); /* only the capital Ç is in the table */
    assert_false(ac_sms_is_gsm7("á")); /* accents the alphabet lacks */
    assert_false(ac_sms_is_gsm7("ê"));
    assert_false(ac_sms_is_gsm7("Pink Floyd – The Wall")); /* an en dash */
    assert_false(ac_sms_is_gsm7("We’ll"));                 /* a typographic apostrophe */
    assert_false(ac_sms_is_gsm7("美咲"));
    assert_false(ac_sms_is_gsm7("α")); /* lowercase Greek is not in it */
    assert_false(ac_sms_is_gsm7("Ж"));
    assert_false(ac_sms_is_gsm7("\xc2\xa0")); /* a no-break space */
    /* A character outside the Basic Multilingual Plane is a surrogate pair
     * in UTF-16: two units. */
    assert_count("🧦", AC_SMS_UCS2, 2, 1);
    assert_count("Hi 👋", AC_SMS_UCS2, 5, 1);
    assert_count("€ 🧦", AC_SMS_UCS2, 4, 1); /* € is one unit in UCS-2 */
}

/* The alphabet has 127 characters (128 positions, one the escape) and the
 * extension table 10: nothing else, nothing fewer. */
static void test_septet_table_is_complete(void **state)
{
    (void)state;
    size_t one = 0, two = 0;
    for (uint32_t cp = 0; cp <= 0x10FFFF; cp++) {
        int s = ac_sms_gsm7_septets(cp);
        assert_in_range(s, 0, 2);
        one += s == 1;
        two += s == 2;
    }
    assert_int_equal(one, 127);
    assert_int_equal(two, 10);
    assert_int_equal(ac_sms_gsm7_septets(0x1B), 0);    /* the escape is not a character */
    assert_int_equal(ac_sms_gsm7_septets(0xE7), 0);    /* ç */
    assert_int_equal(ac_sms_gsm7_septets(0xC7), 1);    /* Ç */
    assert_int_equal(ac_sms_gsm7_septets(0x142), 0);   /* ł */
    assert_int_equal(ac_sms_gsm7_septets(0x1F9E6), 0); /* 🧦 */
}

static void test_gsm7_segment_boundaries(void **state)
{
    (void)state;
    assert_count("", AC_SMS_GSM7, 0, 1);
    assert_count("a", AC_SMS_GSM7, 1, 1);
    assert_count(repeat("a", 160, ""), AC_SMS_GSM7, 160, 1);
    assert_count(repeat("a", 161, ""), AC_SMS_GSM7, 161, 2);
    assert_count(repeat("a", 153 * 2, ""), AC_SMS_GSM7, 306, 2);
    assert_count(repeat("a", 153 * 2 + 1, ""), AC_SMS_GSM7, 307, 3);
    assert_count(repeat("a", 153 * 3, ""), AC_SMS_GSM7, 459, 3);
    assert_count(repeat("a", 153 * 3 + 1, ""), AC_SMS_GSM7, 460, 4);
    /* Extension characters count 2 towards the limits. */
    assert_count(repeat("€", 80, ""), AC_SMS_GSM7, 160, 1);
    assert_count(repeat("a", 159, "€"), AC_SMS_GSM7, 161, 2);
    assert_count(repeat("ü", 160, ""), AC_SMS_GSM7, 160, 1);
    assert_count(repeat("ü", 161, ""), AC_SMS_GSM7, 161, 2);
}

static void test_ucs2_segment_boundaries(void **state)
{
    (void)state;
    assert_count(repeat("ł", 70, ""), AC_SMS_UCS2, 70, 1);
    assert_count(repeat("ł", 71, ""), AC_SMS_UCS2, 71, 2);
    assert_count(repeat("ł", 67 * 2, ""), AC_SMS_UCS2, 134, 2);
    assert_count(repeat("ł", 67 * 2 + 1, ""), AC_SMS_UCS2, 135, 3);
    /* ASCII text with one character from outside the alphabet. */
    assert_count(repeat("a", 69, "ł"), AC_SMS_UCS2, 70, 1);
    assert_count(repeat("a", 70, "ł"), AC_SMS_UCS2, 71, 2);
    assert_count(repeat("a", 159, "`"), AC_SMS_UCS2, 160, 3);
    /* Emoji count 2 towards the limits. */
    assert_count(repeat("🧦", 35, ""), AC_SMS_UCS2, 70, 1);
    assert_count(repeat("🧦", 35, "a"), AC_SMS_UCS2, 71, 2);
    assert_count(repeat("🧦", 66, ""), AC_SMS_UCS2, 132, 2);
    /* A part of 67 units holds 33 emoji, so 67 of them need three. */
    assert_count(repeat("🧦", 67, ""), AC_SMS_UCS2, 134, 3);
}

static void test_characters_are_not_split_across_parts(void **state)
{
    (void)state;
    /* 306 septets fit two parts only when no escaped character straddles
     * the end of the first: here the € would, so it opens the second part
     * and the last septet needs a third. */
    char text[400];
    snprintf(text, sizeof(text), "%s€", repeat("a", 152, ""));
    strcat(text, repeat("a", 152, ""));
    assert_count(text, AC_SMS_GSM7, 306, 3);
    /* One septet fewer and it fits. */
    snprintf(text, sizeof(text), "%s€", repeat("a", 152, ""));
    strcat(text, repeat("a", 151, ""));
    assert_count(text, AC_SMS_GSM7, 305, 2);
    /* The same for a surrogate pair at the end of a UCS-2 part. */
    snprintf(text, sizeof(text), "%s🧦", repeat("ł", 66, ""));
    strcat(text, repeat("ł", 66, ""));
    assert_count(text, AC_SMS_UCS2, 134, 3);
    snprintf(text, sizeof(text), "%s🧦", repeat("ł", 65, ""));
    strcat(text, repeat("ł", 67, ""));
    assert_count(text, AC_SMS_UCS2, 134, 2);
    /* A single message has no parts: 79 letters and 40 € fill it exactly. */
    snprintf(text, sizeof(text), "%s", repeat("a", 80, ""));
    strcat(text, repeat("€", 40, ""));
    assert_count(text, AC_SMS_GSM7, 160, 1);
}

static void test_invalid_utf8_is_not_undercounted(void **state)
{
    (void)state;
    /* Each byte that is not part of well-formed UTF-8 counts as one
     * replacement character, which only UCS-2 carries. */
    assert_count("\xff", AC_SMS_UCS2, 1, 1);
    assert_count("ab\x80", AC_SMS_UCS2, 3, 1);
    assert_count("\xc3", AC_SMS_UCS2, 1, 1);             /* truncated ü */
    assert_count("\xe2\x82", AC_SMS_UCS2, 2, 1);         /* truncated € */
    assert_count("\xc0\xaf", AC_SMS_UCS2, 2, 1);         /* overlong / */
    assert_count("\xed\xa0\x80", AC_SMS_UCS2, 3, 1);     /* a surrogate */
    assert_count("\xf4\x90\x80\x80", AC_SMS_UCS2, 4, 1); /* beyond U+10FFFF */
    assert_count("\xf0\x9f\xa7\xa6", AC_SMS_UCS2, 2, 1); /* 🧦, well formed */
    assert_count("\xc3\xbc", AC_SMS_GSM7, 1, 1);         /* ü, well formed */
}

static void test_encoding_names(void **state)
{
    (void)state;
    assert_string_equal(ac_sms_encoding_name(AC_SMS_GSM7), "gsm7");
    assert_string_equal(ac_sms_encoding_name(AC_SMS_UCS2), "ucs2");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ascii_is_gsm7),
        cmocka_unit_test(test_extension_table_counts_two),
        cmocka_unit_test(test_default_alphabet_beyond_ascii),
        cmocka_unit_test(test_other_characters_need_ucs2),
        cmocka_unit_test(test_septet_table_is_complete),
        cmocka_unit_test(test_gsm7_segment_boundaries),
        cmocka_unit_test(test_ucs2_segment_boundaries),
        cmocka_unit_test(test_characters_are_not_split_across_parts),
        cmocka_unit_test(test_invalid_utf8_is_not_undercounted),
        cmocka_unit_test(test_encoding_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
