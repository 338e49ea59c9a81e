/* Numbers given on rpz-exec's command line: decimal digits only, within a maximum. */
#ifndef RPZ_NUMBERS_H
#define RPZ_NUMBERS_H

#include <errno.h>
#include <stdlib.h>

static inline int parse_number(const char *text, unsigned long long max,
                               unsigned long long *value) {
  char *end = NULL;
  if (text[0] < '0' || text[0] > '9') {
    return -1;
  }
  errno = 0;
  *value = strtoull(text, &end, 10);
  return (*end != '\0' || errno != 0 || *value > max) ? -1 : 0;
}

#endif
