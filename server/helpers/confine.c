/*
 * Confinement of an experiment without namespaces (see confine.h): what holds under proot, where
 * the experiment would otherwise share the user's files, network and processes.
 *
 * Landlock rules are on inodes, opened here by path: under proot, opening "/" inside the guest
 * gives a descriptor of the host folder proot shows as "/" (the run's copy), so a rule "beneath /"
 * made in the guest holds beneath that folder on the host, and nothing of the host's own "/" is
 * reachable, whatever path (/proc/PID/root, a system call proot does not translate, io_uring)
 * the experiment finds. Being in a Landlock domain also denies ptrace-mode access to processes
 * outside it: /proc/PID/environ, /root, /cwd, /fd, /mem of the server and every other process.
 * ABI 4 adds TCP (handled with no rule: no bind, no connect); ABI 6 scopes signals and abstract
 * unix sockets to the domain (no kill of the server, no connection to an abstract socket
 * outside). The seccomp filter (syscall-filter.c) covers what Landlock does not: other socket
 * families (UDP, raw, netlink), ptrace, namespaces, mounts, keys, io_uring, bpf...
 */
#define _GNU_SOURCE
#include "confine.h"
#include "syscall-filter.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Landlock's interface, declared here: the C library's headers may predate the kernel's ABI. */
#ifndef __NR_landlock_create_ruleset
#define __NR_landlock_create_ruleset 444
#define __NR_landlock_add_rule 445
#define __NR_landlock_restrict_self 446
#endif
#define LL_CREATE_RULESET_VERSION (1U << 0)
#define LL_RULE_PATH_BENEATH 1

#define LL_FS_EXECUTE (1ULL << 0)
#define LL_FS_WRITE_FILE (1ULL << 1)
#define LL_FS_READ_FILE (1ULL << 2)
#define LL_FS_READ_DIR (1ULL << 3)
#define LL_FS_REFER (1ULL << 13)    /* ABI 2 */
#define LL_FS_TRUNCATE (1ULL << 14) /* ABI 3 */
#define LL_FS_IOCTL_DEV (1ULL << 15) /* ABI 5 */
#define LL_NET_BIND_TCP (1ULL << 0)    /* ABI 4 */
#define LL_NET_CONNECT_TCP (1ULL << 1) /* ABI 4 */
#define LL_SCOPE_ABSTRACT_UNIX_SOCKET (1ULL << 0) /* ABI 6 */
#define LL_SCOPE_SIGNAL (1ULL << 1)               /* ABI 6 */

/* The ruleset's attributes; the size given to the kernel says which fields it reads. */
struct ll_ruleset_attr {
  uint64_t handled_access_fs;
  uint64_t handled_access_net; /* ABI 4 */
  uint64_t scoped;             /* ABI 6 */
};

struct ll_path_beneath_attr {
  uint64_t allowed_access;
  int32_t parent_fd;
} __attribute__((packed));

/* The rights that apply to a file that is not a folder (the kernel refuses the others there). */
#define LL_FS_FILE_RIGHTS \
  (LL_FS_EXECUTE | LL_FS_WRITE_FILE | LL_FS_READ_FILE | LL_FS_TRUNCATE | LL_FS_IOCTL_DEV)

static int usage_error(const char *message) {
  fprintf(stderr, "rpz-exec: %s\n", message);
  return -1;
}

int confine_parse(int argc, char **argv, int *at, struct confinement *confinement) {
  memset(confinement, 0, sizeof *confinement);
  while (*at < argc) {
    const char *option = argv[*at];
    if (strcmp(option, "--confine") == 0) {
      confinement->enabled = 1;
      *at += 1;
      continue;
    }
    int is_read = strcmp(option, "--read") == 0;
    if (!is_read && strcmp(option, "--write") != 0) {
      break;
    }
    if (!confinement->enabled) {
      return usage_error("--read and --write come after --confine");
    }
    if (*at + 1 >= argc || argv[*at + 1][0] != '/') {
      return usage_error("--read and --write take an absolute path");
    }
    int *count = is_read ? &confinement->read_count : &confinement->write_count;
    if (*count >= CONFINE_MAX_PATHS) {
      return usage_error("too many --read or --write paths");
    }
    (is_read ? confinement->read : confinement->write)[(*count)++] = argv[*at + 1];
    *at += 2;
  }
  return 0;
}

/* The highest Landlock ABI the kernel offers; 0 where it has none or it is disabled. */
static int landlock_abi(void) {
  long abi = syscall(__NR_landlock_create_ruleset, NULL, 0, LL_CREATE_RULESET_VERSION);
  return abi < 0 ? 0 : (int)abi;
}

/* Every file-system right an ABI knows: all are handled, so what no rule allows is denied. */
static uint64_t fs_rights(int abi) {
  uint64_t rights = (1ULL << 13) - 1; /* ABI 1: execute ... make_sym */
  if (abi >= 2) rights |= LL_FS_REFER;
  if (abi >= 3) rights |= LL_FS_TRUNCATE;
  if (abi >= 5) rights |= LL_FS_IOCTL_DEV;
  return rights;
}

/* Allows `rights` beneath one path (or on it, for a file). A path that does not exist: skipped. */
static int allow_path(int ruleset, const char *path, uint64_t rights) {
  int fd = open(path, O_PATH | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) {
      return 0;
    }
    fprintf(stderr, "rpz-exec: confinement: cannot open %s: %s\n", path, strerror(errno));
    return -1;
  }
  struct stat info;
  if (fstat(fd, &info) != 0) {
    fprintf(stderr, "rpz-exec: confinement: cannot stat %s: %s\n", path, strerror(errno));
    close(fd);
    return -1;
  }
  struct ll_path_beneath_attr rule = {
      .allowed_access = S_ISDIR(info.st_mode) ? rights : rights & LL_FS_FILE_RIGHTS,
      .parent_fd = fd,
  };
  long added = syscall(__NR_landlock_add_rule, ruleset, LL_RULE_PATH_BENEATH, &rule, 0);
  int error = errno;
  close(fd);
  if (added != 0) {
    fprintf(stderr, "rpz-exec: confinement: no Landlock rule for %s: %s\n", path,
            strerror(error));
    return -1;
  }
  return 0;
}

/* Restricts this process with the kernel's best Landlock ABI; returns that ABI (0: none), or -1. */
static int apply_landlock(const struct confinement *confinement) {
  int abi = landlock_abi();
  if (abi == 0) {
    return 0;
  }
  uint64_t all = fs_rights(abi);
  uint64_t read = LL_FS_EXECUTE | LL_FS_READ_FILE | LL_FS_READ_DIR;
  struct ll_ruleset_attr attributes = {.handled_access_fs = all};
  size_t size = sizeof attributes.handled_access_fs;
  if (abi >= 4) {
    attributes.handled_access_net = LL_NET_BIND_TCP | LL_NET_CONNECT_TCP;
    size = offsetof(struct ll_ruleset_attr, scoped);
  }
  if (abi >= 6) {
    attributes.scoped = LL_SCOPE_ABSTRACT_UNIX_SOCKET | LL_SCOPE_SIGNAL;
    size = sizeof attributes;
  }
  int ruleset = (int)syscall(__NR_landlock_create_ruleset, &attributes, size, 0);
  if (ruleset < 0) {
    fprintf(stderr, "rpz-exec: confinement: cannot create a Landlock ruleset: %s\n",
            strerror(errno));
    return -1;
  }
  for (int i = 0; i < confinement->read_count; i++) {
    if (allow_path(ruleset, confinement->read[i], read) != 0) {
      close(ruleset);
      return -1;
    }
  }
  for (int i = 0; i < confinement->write_count; i++) {
    if (allow_path(ruleset, confinement->write[i], all) != 0) {
      close(ruleset);
      return -1;
    }
  }
  long restricted = syscall(__NR_landlock_restrict_self, ruleset, 0);
  int error = errno;
  close(ruleset);
  if (restricted != 0) {
    fprintf(stderr, "rpz-exec: confinement: Landlock refused: %s\n", strerror(error));
    return -1;
  }
  return abi;
}

int confine_apply(const struct confinement *confinement, struct confine_report *report) {
  report->landlock_abi = 0;
  report->seccomp = 0;
  if (!confinement->enabled) {
    return 0;
  }
  /* Required by both Landlock and an unprivileged seccomp filter; setuid bits stop working. */
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    perror("rpz-exec: confinement: no-new-privileges");
    return -1;
  }
  int abi = apply_landlock(confinement);
  if (abi < 0) {
    return -1;
  }
  report->landlock_abi = abi;
  if (install_syscall_filter() != 0) {
    return -1;
  }
  report->seccomp = 1;
  return 0;
}
