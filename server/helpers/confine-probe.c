/*
 * rpz-exec confine-probe [CONFINEMENT] [--try-tcp PORT] [--try-read PATH]... [--try-pid PID]
 *
 * Applies the confinement (confine.h) as `run` would, then tries what an experiment must not do
 * and prints one line per finding, for the server's probe at start (sandbox/detect.ts):
 *   landlock ABI               the Landlock ABI in force (0: none)
 *   seccomp on|off             the syscall filter
 *   tcp refused|connected      a TCP connection to 127.0.0.1:PORT (a listener of the server)
 *   udp refused|allowed        a UDP socket
 *   read readable|unreadable PATH    one line per --try-read
 *   environ readable|unreadable      /proc/PID/environ (PID: the server, outside the domain)
 *   signal allowed|denied            signal 0 to PID
 * Exits 0 when it could report, 127 when the confinement could not be applied.
 */
#define _GNU_SOURCE
#include "confine-probe.h"
#include "confine.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_TRIES 16

static void try_tcp(long port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    printf("tcp refused socket:%s\n", strerror(errno));
    return;
  }
  struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr *)&address, sizeof address) == 0) {
    printf("tcp connected\n");
  } else {
    printf("tcp refused connect:%s\n", strerror(errno));
  }
  close(fd);
}

static void try_udp(void) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    printf("udp refused %s\n", strerror(errno));
    return;
  }
  close(fd);
  printf("udp allowed\n");
}

static void try_read(const char *path) {
  char byte;
  int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0 || read(fd, &byte, 1) < 0) {
    printf("read unreadable %s %s\n", path, strerror(errno));
  } else {
    printf("read readable %s\n", path);
  }
  if (fd >= 0) {
    close(fd);
  }
}

static void try_process(long pid) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%ld/environ", pid);
  char byte;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0 || read(fd, &byte, 1) < 0) {
    printf("environ unreadable %s\n", strerror(errno));
  } else {
    printf("environ readable\n");
  }
  if (fd >= 0) {
    close(fd);
  }
  if (kill((pid_t)pid, 0) == 0) {
    printf("signal allowed\n");
  } else {
    printf("signal denied %s\n", strerror(errno));
  }
}

static long number(const char *text) {
  char *end = NULL;
  long value = strtol(text, &end, 10);
  return (*text == '\0' || *end != '\0' || value <= 0) ? -1 : value;
}

int confine_probe(int argc, char **argv, int at) {
  struct confinement confinement;
  if (confine_parse(argc, argv, &at, &confinement) != 0) {
    return 127;
  }
  long port = 0, pid = 0;
  const char *reads[MAX_TRIES];
  int read_count = 0;
  for (; at < argc; at += 2) {
    if (at + 1 >= argc) {
      fprintf(stderr, "rpz-exec: %s needs a value\n", argv[at]);
      return 127;
    }
    if (strcmp(argv[at], "--try-tcp") == 0 && (port = number(argv[at + 1])) > 0) {
      continue;
    }
    if (strcmp(argv[at], "--try-pid") == 0 && (pid = number(argv[at + 1])) > 0) {
      continue;
    }
    if (strcmp(argv[at], "--try-read") == 0 && read_count < MAX_TRIES) {
      reads[read_count++] = argv[at + 1];
      continue;
    }
    fprintf(stderr, "rpz-exec: confine-probe: bad option %s %s\n", argv[at], argv[at + 1]);
    return 127;
  }
  struct confine_report report;
  if (confine_apply(&confinement, &report) != 0) {
    return 127;
  }
  setvbuf(stdout, NULL, _IOLBF, 0);
  printf("landlock %d\n", report.landlock_abi);
  printf("seccomp %s\n", report.seccomp ? "on" : "off");
  if (port > 0) {
    try_tcp(port);
  }
  try_udp();
  for (int i = 0; i < read_count; i++) {
    try_read(reads[i]);
  }
  if (pid > 0) {
    try_process(pid);
  }
  return 0;
}
