/*
 * The records rpz-exec writes on its stdout for the server (server/src/backends/docker/frames.ts
 * reads them): one byte for the kind, four for the length (big-endian), then the bytes.
 */
#ifndef RPZ_FRAMES_H
#define RPZ_FRAMES_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#define FRAME_HEADER 5
#define FRAME_DATA 65536

enum record {
  OUT = 1,
  ERR = 2,
  END = 3,
  LOST = 4,
  NOT_STARTED = 5,
  BAD_LOG = 6,
  STARTED = 7,
  ALREADY_STARTED = 8,
  GAP = 9,
  /* After END, the declared outputs `step --deliver` was asked for (deliver.c). */
  OUTPUT_FILE = 10,
  OUTPUT_DATA = 11,
  OUTPUT_SKIPPED = 12,
  OUTPUT_CUT = 13,
  OUTPUTS_DONE = 14
};

static inline void put_header(char *header, int kind, uint32_t size) {
  header[0] = (char)kind;
  header[1] = (char)(size >> 24);
  header[2] = (char)(size >> 16);
  header[3] = (char)(size >> 8);
  header[4] = (char)size;
}

static inline int write_all(int fd, const char *data, size_t size) {
  while (size > 0) {
    ssize_t written = write(fd, data, size);
    if (written < 0) {
      if (errno == EINTR) {
        continue;
      }
      return -1;
    }
    data += written;
    size -= (size_t)written;
  }
  return 0;
}

#endif
