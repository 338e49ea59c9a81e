/*
 * Declared outputs sent after a step's end record (`step --deliver`), one after the other, in the
 * order asked, each as:
 *   OUTPUT_FILE (24 bytes: index, mode & 07777, uid, gid as 4 bytes each, then the size as 8,
 *   all big-endian), then OUTPUT_DATA records of 1 to 65536 bytes holding exactly that size, or
 *   OUTPUT_CUT when the file ended sooner or could not be read (the server asks the archive API);
 *   or OUTPUT_SKIPPED (5 bytes: index, then why: 1 absent, 2 not a regular file, 3 not sent: too
 *   large or not readable, for the server to ask the archive API).
 * OUTPUTS_DONE follows the last. Paths are the container's, read as the helper's user (root):
 * the last component is never followed if it is a link, nothing but a regular file is opened.
 * The server checks all of it (server/src/backends/docker/deliveries.ts): a root step could have
 * changed anything it reads.
 */
#define _GNU_SOURCE
#include "deliver.h"

#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "frames.h"
#include "numbers.h"

enum skip_reason { SKIP_ABSENT = 1, SKIP_NOT_A_FILE = 2, SKIP_NOT_SENT = 3 };

int deliver_parse(int argc, char **argv, int *at, struct delivery *delivery) {
  delivery->count = 0;
  delivery->paths = NULL;
  delivery->max_bytes = 0;
  if (*at >= argc || strcmp(argv[*at], "--deliver") != 0) {
    return 0;
  }
  unsigned long long max, count;
  if (*at + 2 >= argc || parse_number(argv[*at + 1], ~0ULL, &max) != 0 ||
      parse_number(argv[*at + 2], DELIVER_MAX_COUNT, &count) != 0 ||
      (unsigned long long)(argc - *at - 3) < count) {
    return -1;
  }
  delivery->max_bytes = max;
  delivery->count = (int)count;
  delivery->paths = &argv[*at + 3];
  *at += 3 + (int)count;
  return 0;
}

static void put_u32(char *at, uint32_t value) {
  for (int i = 0; i < 4; i++) {
    at[i] = (char)(value >> (24 - 8 * i));
  }
}

static int send_record(int fd, int kind, const char *data, uint32_t size) {
  char header[FRAME_HEADER];
  put_header(header, kind, size);
  return write_all(fd, header, FRAME_HEADER) != 0 || write_all(fd, data, size) != 0 ? -1 : 0;
}

static int skipped(int fd, uint32_t index, enum skip_reason reason) {
  char payload[5];
  put_u32(payload, index);
  payload[4] = (char)reason;
  return send_record(fd, OUTPUT_SKIPPED, payload, sizeof payload);
}

/* Sends one output's records; -1 when the server is gone (nothing more can be sent). */
static int deliver_one(int fd, uint32_t index, const char *path, unsigned long long max) {
  struct stat info;
  /* Nothing but a regular file is opened: opening a device or a pipe may have effects. */
  if (lstat(path, &info) != 0) {
    return skipped(fd, index, errno == ENOENT || errno == ENOTDIR ? SKIP_ABSENT : SKIP_NOT_SENT);
  }
  if (!S_ISREG(info.st_mode)) {
    return skipped(fd, index, SKIP_NOT_A_FILE);
  }
  int file = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (file < 0) {
    return skipped(fd, index, SKIP_NOT_SENT);
  }
  /* What was opened is what lstat saw, and still a regular file within the size asked. */
  struct stat opened;
  if (fstat(file, &opened) != 0 || !S_ISREG(opened.st_mode) || opened.st_ino != info.st_ino ||
      opened.st_dev != info.st_dev || opened.st_size < 0 ||
      (unsigned long long)opened.st_size > max) {
    close(file);
    return skipped(fd, index, SKIP_NOT_SENT);
  }
  char head[24];
  unsigned long long size = (unsigned long long)opened.st_size;
  put_u32(head, index);
  put_u32(head + 4, (uint32_t)(opened.st_mode & 07777));
  put_u32(head + 8, (uint32_t)opened.st_uid);
  put_u32(head + 12, (uint32_t)opened.st_gid);
  put_u32(head + 16, (uint32_t)(size >> 32));
  put_u32(head + 20, (uint32_t)size);
  if (send_record(fd, OUTPUT_FILE, head, sizeof head) != 0) {
    close(file);
    return -1;
  }
  static char buffer[FRAME_DATA];
  while (size > 0) {
    ssize_t got = read(file, buffer, size < FRAME_DATA ? (size_t)size : FRAME_DATA);
    if (got < 0 && errno == EINTR) {
      continue;
    }
    if (got <= 0) {
      /* Shorter than it was, or unreadable: the server drops what it got of it. */
      close(file);
      return send_record(fd, OUTPUT_CUT, NULL, 0);
    }
    if (send_record(fd, OUTPUT_DATA, buffer, (uint32_t)got) != 0) {
      close(file);
      return -1;
    }
    size -= (unsigned long long)got;
  }
  close(file);
  return 0;
}

void deliver_outputs(int fd, const struct delivery *delivery) {
  for (int i = 0; i < delivery->count; i++) {
    if (deliver_one(fd, (uint32_t)i, delivery->paths[i], delivery->max_bytes) != 0) {
      return;
    }
  }
  send_record(fd, OUTPUTS_DONE, NULL, 0);
}
