#include "sms.h"

/* The default alphabet's characters outside ASCII (3GPP TS 23.038, 6.2.1).
 * The table's 0x09 is the capital Ç: a lowercase ç is not in it, so it
 * needs UCS-2 like any other character missing here. */
static const char gsm7_beyond_ascii[] = "¡£¤¥§¿ÄÅÆÇÉÑÖØÜßàäåæèéìñòöøùüΓΔΘΛΞΠΣΦΨΩ";

/* Decodes the UTF-8 character at s into *cp and returns its length in
 * bytes. Anything that is not well-formed UTF-8 (a stray continuation
 * byte, a truncated or overlong sequence, a surrogate, a code point beyond
 * U+10FFFF) decodes one byte as U+FFFD, the replacement character. */
static size_t next_char(const unsigned char *s, uint32_t *cp)
{
    static const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
    size_t n;
    uint32_t c;
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    } else if ((s[0] & 0xE0) == 0xC0) {
        n = 2;
        c = s[0] & 0x1F;
    } else if ((s[0] & 0xF0) == 0xE0) {
        n = 3;
        c = s[0] & 0x0F;
    } else if ((s[0] & 0xF8) == 0xF0) {
        n = 4;
        c = s[0] & 0x07;
    } else {
        *cp = 0xFFFD;
        return 1;
    }
    /* A NUL ends the loop below as a continuation byte would not, so a
     * sequence cut short by the end of the string is never read past. */
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            *cp = 0xFFFD;
            return 1;
        }
        c = (c << 6) | (s[i] & 0x3F);
    }
    if (c < min[n] || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) {
        *cp = 0xFFFD;
        return 1;
    }
    *cp = c;
    return n;
}

const char *ac_sms_encoding_name(ac_sms_encoding_t enc)
{
    return enc == AC_SMS_UCS2 ? "ucs2" : "gsm7";
}

int ac_sms_gsm7_septets(uint32_t cp)
{
    if (cp < 0x80) {
        switch (cp) {
        case '\n':
        case '\r':
            return 1;
        /* The extension table (3GPP TS 23.038, 6.2.1.1): an escape septet
         * and the character's own. */
        case '\f':
        case '^':
        case '{':
        case '}':
        case '\\':
        case '[':
        case '~':
        case ']':
        case '|':
            return 2;
        /* The one printable ASCII character the alphabet lacks. */
        case '`':
            return 0;
        default:
            return cp >= 0x20 && cp < 0x7F ? 1 : 0;
        }
    }
    if (cp == 0x20AC) /* € is in the extension table too */
        return 2;
    for (const unsigned char *p = (const unsigned char *)gsm7_beyond_ascii; *p;) {
        uint32_t c;
        p += next_char(p, &c);
        if (c == cp)
            return 1;
    }
    return 0;
}

int ac_sms_is_gsm7(const char *text)
{
    const unsigned char *p = (const unsigned char *)text;
    while (*p) {
        uint32_t cp;
        p += next_char(p, &cp);
        if (ac_sms_gsm7_septets(cp) == 0)
            return 0;
    }
    return 1;
}

/* The units code point cp takes in enc; GSM-7 callers have checked that
 * it can carry cp. */
static size_t units_of(uint32_t cp, ac_sms_encoding_t enc)
{
    if (enc == AC_SMS_GSM7)
        return (size_t)ac_sms_gsm7_septets(cp);
    return cp >= 0x10000 ? 2 : 1;
}

void ac_sms_count(const char *text, ac_sms_count_t *out)
{
    ac_sms_encoding_t enc = ac_sms_is_gsm7(text) ? AC_SMS_GSM7 : AC_SMS_UCS2;
    size_t single = enc == AC_SMS_GSM7 ? AC_SMS_GSM7_SINGLE : AC_SMS_UCS2_SINGLE;
    size_t part = enc == AC_SMS_GSM7 ? AC_SMS_GSM7_PART : AC_SMS_UCS2_PART;
    size_t total = 0, segments = 1, used = 0;
    const unsigned char *p = (const unsigned char *)text;
    while (*p) {
        uint32_t cp;
        p += next_char(p, &cp);
        size_t u = units_of(cp, enc);
        total += u;
        /* Parts are filled whole characters at a time: an escaped GSM-7
         * character or a surrogate pair that would straddle the end of a
         * part starts the next one. */
        if (used + u > part) {
            segments++;
            used = 0;
        }
        used += u;
    }
    out->encoding = enc;
    out->units = total;
    out->segments = total <= single ? 1 : segments;
}
