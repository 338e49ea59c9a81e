/*
 * Isolation probe: run inside a backend, it tries to reach what an experiment must not reach and
 * prints one line per finding, "probe <what> <result> [detail]", for the integration tests of
 * server/test/integration/isolation/ to compare with what `GET /api/backends` states.
 *
 *   probe                                   prints its usage line (what reprozip traced)
 *   probe TCP-PORT UDP-PORT MARKER HOST-FILE
 *
 * TCP-PORT and UDP-PORT: listeners of the test on the host's 127.0.0.1. MARKER: a secret that the
 * host holds (the server's token, in its environment; a sentinel process's command line; the
 * host file's content). HOST-FILE: a file of the host outside the run's tree.
 *
 * Everything it reads is bounded (bytes per file, number of processes), and every attempt that
 * succeeds is undone where it could harm the run's own tree (device node, nested namespace).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <linux/io_uring.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MAX_READ (1 << 20)   /* bytes read from any one /proc file or host file */
#define MAX_PIDS 65536       /* processes looked at */
#define MAX_ANCESTORS 64
#define CONNECT_MS 3000

static const char *marker;
static pid_t ancestors[MAX_ANCESTORS];
static int ancestor_count;

/*
 * Opens a path through io_uring: the kernel resolves it from the process's real root, and a
 * ptrace-based sandbox (proot), which rewrites the paths of the system calls it sees, never sees
 * this one. Returns a file descriptor, or -errno.
 */
static int uring_open(const char *path, int flags, mode_t mode) {
  struct io_uring_params params;
  memset(&params, 0, sizeof params);
  int ring = (int)syscall(__NR_io_uring_setup, 1, &params);
  if (ring < 0) return -errno;
  size_t sq_size = params.sq_off.array + params.sq_entries * sizeof(unsigned);
  size_t cq_size = params.cq_off.cqes + params.cq_entries * sizeof(struct io_uring_cqe);
  size_t sqes_size = params.sq_entries * sizeof(struct io_uring_sqe);
  int single = (params.features & IORING_FEAT_SINGLE_MMAP) != 0;
  if (single) sq_size = cq_size = sq_size > cq_size ? sq_size : cq_size;
  int rc = -ENOMEM;
  char *sq = mmap(NULL, sq_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring,
                  IORING_OFF_SQ_RING);
  char *cq = single ? sq
                    : mmap(NULL, cq_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring,
                           IORING_OFF_CQ_RING);
  struct io_uring_sqe *sqes = mmap(NULL, sqes_size, PROT_READ | PROT_WRITE,
                                   MAP_SHARED | MAP_POPULATE, ring, IORING_OFF_SQES);
  if (sq != MAP_FAILED && cq != MAP_FAILED && sqes != MAP_FAILED) {
    memset(&sqes[0], 0, sizeof sqes[0]);
    sqes[0].opcode = IORING_OP_OPENAT;
    sqes[0].fd = AT_FDCWD;
    sqes[0].addr = (uint64_t)(uintptr_t)path;
    sqes[0].len = mode;
    sqes[0].open_flags = (uint32_t)flags;
    unsigned *tail = (unsigned *)(sq + params.sq_off.tail);
    unsigned mask = *(unsigned *)(sq + params.sq_off.ring_mask);
    unsigned position = *tail;
    ((unsigned *)(sq + params.sq_off.array))[position & mask] = 0;
    __atomic_store_n(tail, position + 1, __ATOMIC_RELEASE);
    if (syscall(__NR_io_uring_enter, ring, 1, 1, IORING_ENTER_GETEVENTS, NULL, 0) < 0) {
      rc = -errno;
    } else {
      unsigned *head = (unsigned *)(cq + params.cq_off.head);
      unsigned cmask = *(unsigned *)(cq + params.cq_off.ring_mask);
      unsigned seen = __atomic_load_n(head, __ATOMIC_ACQUIRE);
      rc = ((struct io_uring_cqe *)(cq + params.cq_off.cqes))[seen & cmask].res;
      __atomic_store_n(head, seen + 1, __ATOMIC_RELEASE);
    }
  }
  if (sqes != MAP_FAILED) munmap(sqes, sqes_size);
  if (cq != MAP_FAILED && !single) munmap(cq, cq_size);
  if (sq != MAP_FAILED) munmap(sq, sq_size);
  close(ring);
  return rc;
}

/* Reads at most MAX_READ bytes from a file descriptor, then closes it; the length, or -1. */
static ssize_t read_fd_bounded(int fd, char *buf) {
  if (fd < 0) return -1;
  ssize_t total = 0;
  while (total < MAX_READ) {
    ssize_t n = read(fd, buf + total, MAX_READ - total);
    if (n < 0) { total = total > 0 ? total : -1; break; }
    if (n == 0) break;
    total += n;
  }
  close(fd);
  return total;
}

/* Reads at most MAX_READ bytes of a file; returns the length, or -1. Never blocks on a FIFO. */
static ssize_t read_bounded(const char *path, char *buf) {
  return read_fd_bounded(open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC), buf);
}

static int holds_marker(const char *buf, ssize_t len) {
  return len > 0 && memmem(buf, (size_t)len, marker, strlen(marker)) != NULL;
}

/* The parent of a process, from /proc/PID/stat (the field after the command's closing ')'). */
static pid_t parent_of(pid_t pid) {
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return 0;
  buf[n] = '\0';
  char *end = strrchr(buf, ')');
  int ppid = 0;
  char state;
  if (!end || sscanf(end + 1, " %c %d", &state, &ppid) != 2) return 0;
  return ppid;
}

/* The probe's own chain of parents: they carry the probe's command line (the marker) too. */
static void find_ancestors(void) {
  pid_t pid = getppid();
  while (pid > 0 && ancestor_count < MAX_ANCESTORS) {
    ancestors[ancestor_count++] = pid;
    pid = parent_of(pid);
  }
}

static int is_own(pid_t pid) {
  if (pid == getpid()) return 1;
  for (int i = 0; i < ancestor_count; i++)
    if (ancestors[i] == pid) return 1;
  return 0;
}

/* Calls visit(pid) for every process in /proc (at most MAX_PIDS); stops when it returns 1. */
static void each_process(int (*visit)(pid_t, void *), void *arg) {
  DIR *dir = opendir("/proc");
  if (!dir) return;
  struct dirent *entry;
  int seen = 0;
  while ((entry = readdir(dir)) != NULL && seen < MAX_PIDS) {
    char *end;
    long pid = strtol(entry->d_name, &end, 10);
    if (*end != '\0' || pid <= 0) continue;
    seen++;
    if (visit((pid_t)pid, arg)) break;
  }
  closedir(dir);
}

static char *buffer;

static void report_ids(void) {
  printf("probe ids uid=%d gid=%d euid=%d\n", (int)getuid(), (int)getgid(), (int)geteuid());
}

static void report_caps(void) {
  ssize_t n = read_bounded("/proc/self/status", buffer);
  if (n <= 0) { printf("probe caps unreadable\n"); return; }
  buffer[n < MAX_READ ? n : MAX_READ - 1] = '\0';
  static const char *names[] = {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"};
  printf("probe caps");
  for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
    char *line = strstr(buffer, names[i]);
    char value[32] = "?";
    if (line) sscanf(line + strlen(names[i]), ":%31s", value);
    printf(" %s=%s", names[i], value);
  }
  printf("\n");
}

/* A TCP connection to the host's loopback; writes the marker so that the listener sees who. */
static void probe_tcp(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) { printf("probe network blocked socket:%s\n", strerror(errno)); return; }
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int rc = connect(fd, (struct sockaddr *)&addr, sizeof addr);
  int error = rc == 0 ? 0 : errno;
  if (rc != 0 && errno == EINPROGRESS) {
    struct pollfd p = {.fd = fd, .events = POLLOUT};
    if (poll(&p, 1, CONNECT_MS) == 1) {
      socklen_t len = sizeof error;
      getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len);
    } else {
      error = ETIMEDOUT;
    }
  }
  if (error == 0) {
    dprintf(fd, "probe-tcp %s\n", marker);
    printf("probe network reachable\n");
  } else {
    printf("probe network blocked %s\n", strerror(error));
  }
  close(fd);
}

static void probe_udp(int port) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) { printf("probe udp failed socket:%s\n", strerror(errno)); return; }
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  char message[256];
  int len = snprintf(message, sizeof message, "probe-udp %s\n", marker);
  /* Sent is no proof of arrival (a network namespace has its own loopback): the test's listener
     says whether it came. */
  if (sendto(fd, message, (size_t)len, 0, (struct sockaddr *)&addr, sizeof addr) == len)
    printf("probe udp sent\n");
  else
    printf("probe udp failed %s\n", strerror(errno));
  close(fd);
}

static int find_secret(pid_t pid, void *found) {
  if (pid == getpid()) return 0;
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/environ", (int)pid);
  if (holds_marker(buffer, read_bounded(path, buffer))) {
    *(pid_t *)found = pid;
    return 1;
  }
  return 0;
}

static int find_sentinel(pid_t pid, void *found) {
  if (is_own(pid)) return 0;
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
  if (holds_marker(buffer, read_bounded(path, buffer))) {
    *(pid_t *)found = pid;
    return 1;
  }
  return 0;
}

static int count_foreign(pid_t pid, void *count) {
  if (!is_own(pid)) (*(int *)count)++;
  return 0;
}

static void probe_processes(void) {
  pid_t holder = 0, sentinel = 0;
  int visible = 0;
  each_process(find_secret, &holder);
  if (holder)
    printf("probe secret found-in /proc/%d/environ\n", (int)holder);
  else
    printf("probe secret not-found\n");
  each_process(find_sentinel, &sentinel);
  if (sentinel)
    printf("probe foreign-process visible /proc/%d\n", (int)sentinel);
  else
    printf("probe foreign-process invisible\n");
  /* Signal 0 checks the permission to signal without sending anything. */
  pid_t target = sentinel ? sentinel : holder;
  if (!target)
    printf("probe signal-foreign no-target\n");
  else if (kill(target, 0) == 0)
    printf("probe signal-foreign ok %d\n", (int)target);
  else
    printf("probe signal-foreign denied %s\n", strerror(errno));
  each_process(count_foreign, &visible);
  printf("probe processes %d-foreign-visible\n", visible);
}

struct host_path_search {
  const char *host_file;
  char found[600];
  int write;
};

/* Reads (or creates a file beside) the host file through /proc/PID/root: the root of another
   process, the host's when that process is outside the sandbox. */
static int try_through_root(pid_t pid, void *arg) {
  struct host_path_search *search = arg;
  char path[512];
  snprintf(path, sizeof path, "/proc/%d/root%s", (int)pid, search->host_file);
  if (!search->write) {
    if (holds_marker(buffer, read_bounded(path, buffer))) {
      snprintf(search->found, sizeof search->found, "%s", path);
      return 1;
    }
    return 0;
  }
  char *slash = strrchr(path, '/');
  snprintf(slash + 1, sizeof path - (size_t)(slash + 1 - path), "probe-wrote");
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) return 0;
  dprintf(fd, "%s\n", marker);
  close(fd);
  snprintf(search->found, sizeof search->found, "%s", path);
  return 1;
}

static void probe_host_file(const char *host_file) {
  struct host_path_search search = {.host_file = host_file};
  if (holds_marker(buffer, read_bounded(host_file, buffer)))
    snprintf(search.found, sizeof search.found, "%s", host_file);
  else
    each_process(try_through_root, &search);
  if (!search.found[0] &&
      holds_marker(buffer, read_fd_bounded(uring_open(host_file, O_RDONLY | O_NONBLOCK | O_CLOEXEC, 0),
                                           buffer)))
    snprintf(search.found, sizeof search.found, "io_uring:%s", host_file);
  if (search.found[0])
    printf("probe host-file readable %s\n", search.found);
  else
    printf("probe host-file unreadable\n");

  search.write = 1;
  search.found[0] = '\0';
  char direct[512];
  snprintf(direct, sizeof direct, "%s", host_file);
  char *slash = strrchr(direct, '/');
  if (slash) {
    snprintf(slash + 1, sizeof direct - (size_t)(slash + 1 - direct), "probe-wrote");
    int fd = open(direct, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd >= 0) {
      dprintf(fd, "%s\n", marker);
      close(fd);
      snprintf(search.found, sizeof search.found, "%s", direct);
    }
  }
  if (!search.found[0]) each_process(try_through_root, &search);
  if (!search.found[0] && slash) {
    int fd = uring_open(direct, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd >= 0) {
      dprintf(fd, "%s\n", marker);
      close(fd);
      snprintf(search.found, sizeof search.found, "io_uring:%s", direct);
    }
  }
  if (search.found[0])
    printf("probe host-write ok %s\n", search.found);
  else
    printf("probe host-write denied\n");
}

/* The helper's folder: on the host side of some backends it is (or was) a host folder. */
static void probe_helper_dir(void) {
  static const char *dirs[] = {"/.reproserver", "/.reproserver/steps"};
  for (size_t i = 0; i < sizeof dirs / sizeof *dirs; i++) {
    char path[256];
    snprintf(path, sizeof path, "%s/probe-wrote-%d", dirs[i], (int)getpid());
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd >= 0) {
      dprintf(fd, "%s\n", marker);
      close(fd);
      printf("probe write-helper-dir ok %s\n", path);
    } else {
      printf("probe write-helper-dir denied %s %s\n", dirs[i], strerror(errno));
    }
  }
}

/* A device node that works: /dev/zero's numbers, read back. proot (fake root) only pretends to
   create one, and a nodev mount makes one unusable: both are "inert", not "ok". */
static void probe_mknod(void) {
  const char *path = "probe-zero-device";
  if (mknod(path, S_IFCHR | 0600, makedev(1, 5)) != 0) {
    printf("probe mknod denied %s\n", strerror(errno));
    return;
  }
  char bytes[16];
  int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  ssize_t n = fd >= 0 ? read(fd, bytes, sizeof bytes) : -1;
  int error = errno;
  if (fd >= 0) close(fd);
  unlink(path);
  if (n == (ssize_t)sizeof bytes)
    printf("probe mknod ok\n");
  else
    printf("probe mknod inert %s\n", n < 0 ? strerror(error) : "not a device");
}

static void probe_raw_socket(void) {
  int fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP);
  if (fd >= 0) {
    close(fd);
    printf("probe raw-socket ok\n");
  } else {
    printf("probe raw-socket denied %s\n", strerror(errno));
  }
}

/* Runs attempt() in a child, so that what it changes (namespaces, root) dies with the child. */
static void in_child(const char *what, int (*attempt)(void)) {
  fflush(stdout);
  pid_t child = fork();
  if (child == 0) _exit(attempt() == 0 ? 0 : (errno & 0x7f) + 1);
  int status = 0;
  if (child < 0 || waitpid(child, &status, 0) < 0) {
    printf("probe %s denied fork:%s\n", what, strerror(errno));
  } else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
    printf("probe %s ok\n", what);
  } else {
    int error = WIFEXITED(status) ? WEXITSTATUS(status) - 1 : 0;
    printf("probe %s denied %s\n", what, error ? strerror(error) : "killed");
  }
}

static int new_user_namespace(void) { return unshare(CLONE_NEWUSER); }
static int change_root(void) { return chroot("."); }

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc == 1) {
    printf("probe usage: probe TCP-PORT UDP-PORT MARKER HOST-FILE\n");
    return 0;
  }
  if (argc != 5 || strlen(argv[3]) < 8 || argv[4][0] != '/') {
    fprintf(stderr, "usage: probe TCP-PORT UDP-PORT MARKER HOST-FILE (marker: 8+ characters, "
                    "host file: an absolute path)\n");
    return 2;
  }
  marker = argv[3];
  buffer = malloc(MAX_READ + 1);
  if (!buffer) return 3;
  find_ancestors();
  report_ids();
  report_caps();
  probe_tcp(atoi(argv[1]));
  probe_udp(atoi(argv[2]));
  probe_processes();
  probe_host_file(argv[4]);
  probe_helper_dir();
  probe_mknod();
  probe_raw_socket();
  in_child("userns", new_user_namespace);
  in_child("chroot", change_root);
  printf("probe done\n");
  return 0;
}
