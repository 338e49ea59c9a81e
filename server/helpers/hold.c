/*
 * One small process per bubblewrap run holds its namespaces (usage in hold.h).
 *
 * Why one process of our own rather than `unshare … cat` and `unshare --mount … sh -c mount …
 * sleep`: the server pays for every process it starts (Node.js forks its whole address space
 * for each), and a run used to start five before its first step. Here one process does what
 * those did: the user namespace, its maps (through the server, which may need `newuidmap`), the
 * ban on nested user namespaces and the overlay's mount.
 *
 * Why it never executes anything: the process that makes a user namespace has every capability
 * in it until it executes a program, and then loses them, since its id is not root there until
 * the maps exist. Staying this program keeps them for what comes after the maps.
 */
#define _GNU_SOURCE
#include "hold.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <unistd.h>

static int fail(const char *what) {
  fprintf(stderr, "rpz-exec hold: %s: %s\n", what, strerror(errno));
  return 1;
}

/* Writes `text` to the file at `path` in one write (what /proc's map files require). */
static int write_file(const char *path, const char *text) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) {
    return -1;
  }
  size_t length = strlen(text);
  ssize_t written = write(fd, text, length);
  int saved = errno;
  close(fd);
  errno = saved;
  return written == (ssize_t)length ? 0 : -1;
}

/* Says `word` and a newline to the server. */
static int say(const char *word) {
  char line[16];
  int length = snprintf(line, sizeof line, "%s\n", word);
  return write(STDOUT_FILENO, line, (size_t)length) == length ? 0 : -1;
}

/* Waits for SIGUSR1 (blocked beforehand, so that one sent early is not missed). */
static int wait_go(const sigset_t *go) {
  for (;;) {
    if (sigwaitinfo(go, NULL) == SIGUSR1) {
      return 0;
    }
    if (errno != EINTR) {
      return -1;
    }
  }
}

/*
 * Maps this process's own ids (`uid`, `gid`: as they were before the namespace, where they now
 * read as the overflow id) to root in its new namespace, as an unprivileged user may.
 */
static int map_self(unsigned uid, unsigned gid) {
  char line[64];
  if (write_file("/proc/self/setgroups", "deny") != 0 && errno != ENOENT) {
    return -1;
  }
  snprintf(line, sizeof line, "0 %u 1\n", uid);
  if (write_file("/proc/self/uid_map", line) != 0) {
    return -1;
  }
  snprintf(line, sizeof line, "0 %u 1\n", gid);
  return write_file("/proc/self/gid_map", line);
}

int hold(int argc, char **argv, int at) {
  int self = 0, no_nested = 0;
  const char *layers[4] = {NULL, NULL, NULL, NULL};
  for (; at < argc; at++) {
    if (strcmp(argv[at], "--map-self") == 0) {
      self = 1;
    } else if (strcmp(argv[at], "--no-nested-userns") == 0) {
      no_nested = 1;
    } else if (strcmp(argv[at], "--overlay") == 0 && at + 4 < argc) {
      for (int i = 0; i < 4; i++) {
        layers[i] = argv[++at];
      }
    } else {
      fprintf(stderr, "rpz-exec hold: unknown option %s\n", argv[at]);
      return 127;
    }
  }
  sigset_t go;
  sigemptyset(&go);
  sigaddset(&go, SIGUSR1);
  if (sigprocmask(SIG_BLOCK, &go, NULL) != 0) {
    return fail("blocking SIGUSR1");
  }
  /* Dies with its parent, the server's spawner, which ends with the server. */
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) {
    return fail("asking to die with the server");
  }
  unsigned uid = geteuid(), gid = getegid();
  if (unshare(CLONE_NEWUSER) != 0) {
    return fail("making a user namespace");
  }
  if (self) {
    if (map_self(uid, gid) != 0) {
      return fail("mapping its own ids");
    }
  } else if (say("userns") != 0 || wait_go(&go) != 0) {
    return fail("waiting for the server's maps");
  }
  if (no_nested && write_file("/proc/sys/user/max_user_namespaces", "0\n") != 0) {
    return fail("forbidding nested user namespaces");
  }
  if (layers[0] != NULL) {
    char options[4096];
    int length = snprintf(options, sizeof options,
                          "lowerdir=%s,upperdir=%s,workdir=%s,userxattr", layers[0],
                          layers[1], layers[2]);
    if (length < 0 || (size_t)length >= sizeof options) {
      errno = ENAMETOOLONG;
      return fail("the overlay's options");
    }
    if (unshare(CLONE_NEWNS) != 0) {
      return fail("making a mount namespace");
    }
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) {
      return fail("making its mounts private");
    }
    if (mount("overlay", layers[3], "overlay", 0, options) != 0) {
      return fail("mounting the overlay");
    }
  }
  if (say("ready") != 0) {
    return fail("saying it is ready");
  }
  /* Holds until the server kills it, or its parent dies. */
  for (;;) {
    pause();
  }
}
