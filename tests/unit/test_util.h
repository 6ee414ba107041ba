/* Assertions the unit tests share beyond what cmocka offers. Include it
 * after <cmocka.h>. */
#ifndef AC_TEST_UTIL_H
#define AC_TEST_UTIL_H

#include <stdio.h>
#include <string.h>

/* Fails the test at file:line unless needle occurs in haystack exactly when
 * want is non-zero; prints both strings so a failure explains itself. */
static inline void ac_test_check_contains(const char *haystack, const char *needle, int want,
                                          const char *file, int line)
{
    int found = haystack && needle && strstr(haystack, needle) != NULL;
    if (found != (want != 0)) {
        print_error("expected \"%s\" %s in \"%s\"\n", needle ? needle : "(null)",
                    want ? "to occur" : "not to occur", haystack ? haystack : "(null)");
        _fail(file, line);
    }
}

#define assert_contains(haystack, needle)                                                          \
    ac_test_check_contains((haystack), (needle), 1, __FILE__, __LINE__)
#define assert_not_contains(haystack, needle)                                                      \
    ac_test_check_contains((haystack), (needle), 0, __FILE__, __LINE__)

/* Counts the non-overlapping occurrences of needle in haystack. */
static inline size_t ac_test_count(const char *haystack, const char *needle)
{
    size_t n = 0, len = strlen(needle);
    for (const char *p = haystack; len && (p = strstr(p, needle)) != NULL; p += len)
        n++;
    return n;
}

/* Steps idx[] (n >= 1 entries) to the next permutation in lexicographic
 * order; returns 0 after the last. The order-independence tests run their
 * events through every permutation. */
static inline int ac_test_next_permutation(size_t *idx, size_t n)
{
    size_t i = n - 1;
    while (i > 0 && idx[i - 1] >= idx[i])
        i--;
    if (i == 0)
        return 0;
    size_t j = n - 1;
    while (idx[j] <= idx[i - 1])
        j--;
    size_t t = idx[i - 1];
    idx[i - 1] = idx[j];
    idx[j] = t;
    for (size_t a = i, b = n - 1; a < b; a++, b--) {
        t = idx[a];
        idx[a] = idx[b];
        idx[b] = t;
    }
    return 1;
}

#endif
