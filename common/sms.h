/* How an SMS travels: the encoding its text needs and how many segments
 * (separately billed messages) it is split into.
 *
 * A text made only of characters of the GSM 03.38 default alphabet goes as
 * GSM-7: 160 septets in a single message, 153 per part once it is split
 * (the rest of each part carries the header that joins them). Characters
 * of the extension table (^ { } \ [ ] ~ | € and form feed) take an escape
 * septet and so count 2. Any other character makes the whole text UCS-2:
 * 70 UTF-16 code units in a single message, 67 per part; a character
 * outside the Basic Multilingual Plane (most emoji) takes 2 code units.
 * A character is never split across parts, so a part may carry one unit
 * fewer than its limit, as carriers and providers count it. */
#ifndef AC_SMS_H
#define AC_SMS_H

#include <stddef.h>
#include <stdint.h>

typedef enum ac_sms_encoding { AC_SMS_GSM7 = 0, AC_SMS_UCS2 } ac_sms_encoding_t;

#define AC_SMS_GSM7_SINGLE 160 /* septets in a single GSM-7 message */
#define AC_SMS_GSM7_PART   153 /* septets in each part of a split GSM-7 message */
#define AC_SMS_UCS2_SINGLE 70  /* code units in a single UCS-2 message */
#define AC_SMS_UCS2_PART   67  /* code units in each part of a split UCS-2 message */

typedef struct ac_sms_count {
    ac_sms_encoding_t encoding;
    size_t units;    /* septets for GSM-7, UTF-16 code units for UCS-2 */
    size_t segments; /* messages the text is sent as; an empty text is still one */
} ac_sms_count_t;

/* "gsm7" or "ucs2", as the webhook body names them. */
const char *ac_sms_encoding_name(ac_sms_encoding_t enc);

/* The septets code point cp takes in GSM-7: 1 for the default alphabet, 2
 * for the extension table, 0 when GSM-7 cannot carry it. */
int ac_sms_gsm7_septets(uint32_t cp);

/* Whether every character of the UTF-8 text can go as GSM-7. */
int ac_sms_is_gsm7(const char *text);

/* Counts the UTF-8 text into out. Bytes that are not valid UTF-8 count as
 * one replacement character each, which GSM-7 cannot carry: rendered text
 * is valid UTF-8, so this only keeps a damaged text from being undercounted. */
void ac_sms_count(const char *text, ac_sms_count_t *out);

#endif
