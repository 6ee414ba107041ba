/* Compact storage of a trimmed event (ac_event_encode()) while it waits in
 * Redis: raw deflate with a preset dictionary of what every event holds
 * (the contract's keys, its type names, common locales, carriers and
 * email domains). A delivery's 850 bytes keep as about 300: the schedule
 * (schedule.h) holds millions of them for weeks.
 *
 * The packed form starts with a format byte (AC_EVZIP_V1); ac_evzip_unpack()
 * also takes plain JSON (starting with '{') and returns it as it is, so a
 * reader copes with either. */
#ifndef AC_EVZIP_H
#define AC_EVZIP_H

#include <stddef.h>

/* The first byte of the packed form: deflate with dictionary 1. */
#define AC_EVZIP_V1 '\x01'

/* Packs len bytes of JSON. Returns malloc'd bytes and their length in
 * *out_len, or NULL when out of memory. The same input always gives the
 * same bytes (with the same zlib). */
char *ac_evzip_pack(const char *json, size_t len, size_t *out_len);

/* The JSON of a packed event, or of plain JSON: malloc'd, NUL-terminated,
 * its length in *out_len. NULL when data is neither (corrupt, of an
 * unknown format) or out of memory. */
char *ac_evzip_unpack(const char *data, size_t len, size_t *out_len);

#endif
