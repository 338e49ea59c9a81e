/*
 * Emulated identity changes where the sandbox maps one id (proot; bubblewrap without a range):
 * the experiment must believe `setpriv --reuid=1000`, `su`, a daemon dropping root... happened.
 *
 * Why seccomp user notification (and not proot's `-i`/`-0`): it works at the system-call level
 * for static binaries too, under proot and under bubblewrap alike; proot 5.1.0's emulation leaves
 * statx untranslated and refuses setresgid after setresuid with PR_SET_KEEPCAPS (setpriv's order).
 *
 * How: `rpz-exec run --ids-socket` installs a filter (before the confinement's, which has no
 * listener) that notifies the id syscalls, capget/capset, prctl's capability options, the chown
 * family, the stat family, creations (open/openat with O_CREAT or write access, creat, mkdir,
 * mknod, symlink) and execve; it sends the listener to `rpz-exec emulate-ids`, its ancestor, which
 * answers:
 * - id calls from a table of emulated credentials per task (the kernel's ids are per thread; glibc
 *   applies set*id to every thread). A task first seen inherits its thread group leader's, else
 *   its parent's (/proc/TID/status), else the step's; before a task changes its credentials, the
 *   threads of its group and its children not seen yet are met, so that they keep what they had. Linux's rules: privileged with CAP_SETUID /
 *   CAP_SETGID in the emulated effective set; capabilities follow uid changes (keepcaps included)
 *   and execve, as commoncap.c does, without file capabilities or setuid bits.
 * - stat calls: the supervisor makes the same statx itself, from the task's cwd or descriptor
 *   (/proc/TID/cwd, /proc/TID/fd/N), and writes the answer back with the emulated owner: recorded
 *   for an inode (dev, ino, birth time) it chowned or saw created; else, for entries the sandbox's
 *   user owns, the package's common owner for entries born before the run and the step's for
 *   later ones; others as they are. A stat reveals nothing Landlock would hide (it has no right
 *   for stat), and the supervisor runs as the same user, so it does nothing the experiment could
 *   not; it opens no file for it (creations are continued, never performed here).
 * - chown: Linux's rules, against the emulated owner; recorded, answered 0 (nothing changes on
 *   disk: the sandbox's user owns everything).
 * - creations: continued; the path noted with its creator's fsuid/fsgid, bound to its inode at the
 *   next notification. Permissions are emulated for writes only: a task without CAP_DAC_OVERRIDE
 *   cannot create in, or open for writing, what its emulated ids may not write (EACCES); reads and
 *   path search are not checked (the kernel checks the real user, who owns everything).
 *
 * proot: with its seccomp acceleration (SECCOMP_RET_TRACE), a notified syscall would never reach
 * proot (RET_USER_NOTIF wins), so its path would stay untranslated; the server sets
 * PROOT_NO_SECCOMP=1, so proot stops at syscall entry, which comes before seccomp: the supervisor
 * sees host paths. proot does not translate statx: `--no-statx` makes it fail with ENOSYS (libc
 * falls back to newfstatat). The supervisor runs outside proot (paths are the host's).
 *
 * Bounds: every table has a maximum (tasks, inodes, pending creations, bytes of paths); when full,
 * new ids are not remembered (answers fall back to the defaults). The supervisor never waits on
 * the experiment: one notification at a time, each with bounded work.
 *
 * Known limits: a task whose parent is gone before its first notified call starts from the step's
 * ids; tid reuse within a run may give a new task stale ids; files created by other means
 * (openat2, rename, link) are owned per the defaults; chroot inside the sandbox is not followed.
 */
#define _GNU_SOURCE
#include "identity.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---------------------------------------------------------------- options (any architecture) */

int identity_parse(int argc, char **argv, int *at, int *socket_fd, int *no_statx) {
  *socket_fd = -1;
  *no_statx = 0;
  if (*at + 1 < argc && strcmp(argv[*at], "--ids-socket") == 0) {
    char *end = NULL;
    long fd = strtol(argv[*at + 1], &end, 10);
    if (*end != '\0' || fd < 3 || fd > 1023) {
      return -1;
    }
    *socket_fd = (int)fd;
    *at += 2;
    if (*at < argc && strcmp(argv[*at], "--no-statx") == 0) {
      *no_statx = 1;
      *at += 1;
    }
  }
  return 0;
}

#if defined(__x86_64__)
/* The filter and the supervisor know x86_64's system calls; elsewhere, the stubs at the end. */

#define MAX_TASKS 4096
#define MAX_INODES 65536
#define MAX_PENDING 256
#define MAX_PATH_BYTES (16 << 20)
#define MAX_GROUPS 64

#define CAP(n) (1ULL << (n))
/* Docker's default capabilities: what a root step holds there. */
#define DOCKER_CAPS                                                                           \
  (CAP(CAP_CHOWN) | CAP(CAP_DAC_OVERRIDE) | CAP(CAP_FOWNER) | CAP(CAP_FSETID) |             \
   CAP(CAP_KILL) | CAP(CAP_SETGID) | CAP(CAP_SETUID) | CAP(CAP_SETPCAP) |                    \
   CAP(CAP_NET_BIND_SERVICE) | CAP(CAP_NET_RAW) | CAP(CAP_SYS_CHROOT) | CAP(CAP_MKNOD) |     \
   CAP(CAP_AUDIT_WRITE) | CAP(CAP_SETFCAP))
/* What a change of fsuid to or from 0 takes or gives (cap_emulate_setxuid's fs set). */
#define FS_CAPS                                                                               \
  (CAP(CAP_CHOWN) | CAP(CAP_DAC_OVERRIDE) | CAP(CAP_DAC_READ_SEARCH) | CAP(CAP_FOWNER) |    \
   CAP(CAP_FSETID) | CAP(CAP_LINUX_IMMUTABLE) | CAP(CAP_MKNOD) | CAP(CAP_MAC_OVERRIDE))
#define NO_ID 0xffffffffU

/* ---------------------------------------------------------------- the filter (in `run`) */

#define ARG(n) (offsetof(struct seccomp_data, args) + 8 * (n)) /* low 32 bits: little endian */

static const int notified[] = {
    __NR_getuid,    __NR_geteuid,  __NR_getgid,   __NR_getegid,    __NR_getresuid,
    __NR_getresgid, __NR_getgroups, __NR_setuid,  __NR_setgid,     __NR_setreuid,
    __NR_setregid,  __NR_setresuid, __NR_setresgid, __NR_setfsuid, __NR_setfsgid,
    __NR_setgroups, __NR_capget,   __NR_capset,   __NR_chown,      __NR_fchown,
    __NR_lchown,    __NR_fchownat, __NR_stat,     __NR_lstat,      __NR_fstat,
    __NR_newfstatat, __NR_creat,   __NR_mkdir,    __NR_mkdirat,    __NR_mknod,
    __NR_mknodat,   __NR_symlink,  __NR_symlinkat, __NR_execve,    __NR_execveat};

static const int prctl_options[] = {PR_GET_KEEPCAPS,  PR_SET_KEEPCAPS,   PR_CAPBSET_READ,
                                    PR_CAPBSET_DROP,  PR_GET_SECUREBITS, PR_SET_SECUREBITS,
                                    PR_CAP_AMBIENT};

#define OPEN_NOTIFIED (O_CREAT | O_WRONLY | O_RDWR | O_TRUNC)

int identity_install(int socket_fd, int no_statx) {
  struct sock_filter prog[200];
  unsigned short n = 0;
#define PUT(code, k, jt, jf) prog[n++] = (struct sock_filter)BPF_JUMP(code, k, jt, jf)
  PUT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch), 0, 0);
  PUT(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0);
  PUT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW, 0, 0);
  PUT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr), 0, 0);
  PUT(BPF_JMP | BPF_JSET | BPF_K, 0x40000000, 0, 1); /* x32: not ours */
  PUT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW, 0, 0);
  for (size_t i = 0; i < sizeof notified / sizeof notified[0]; i++) {
    PUT(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)notified[i], 0, 1);
    PUT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF, 0, 0);
  }
  PUT(BPF_JMP | BPF_JEQ | BPF_K, __NR_statx, 0, 1);
  PUT(BPF_RET | BPF_K, no_statx ? SECCOMP_RET_ERRNO | ENOSYS : SECCOMP_RET_USER_NOTIF, 0, 0);
  /* open(path, flags) and openat(dir, path, flags): only creations and writes. */
  const int opens[2][2] = {{__NR_open, 1}, {__NR_openat, 2}};
  for (int i = 0; i < 2; i++) {
    PUT(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)opens[i][0], 0, 4);
    PUT(BPF_LD | BPF_W | BPF_ABS, (unsigned)ARG(opens[i][1]), 0, 0);
    PUT(BPF_JMP | BPF_JSET | BPF_K, OPEN_NOTIFIED, 0, 1);
    PUT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF, 0, 0);
    PUT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW, 0, 0);
  }
  const unsigned options = sizeof prctl_options / sizeof prctl_options[0];
  PUT(BPF_JMP | BPF_JEQ | BPF_K, __NR_prctl, 0, (unsigned char)(2 * options + 2));
  PUT(BPF_LD | BPF_W | BPF_ABS, (unsigned)ARG(0), 0, 0);
  for (unsigned i = 0; i < options; i++) {
    PUT(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)prctl_options[i], 0, 1);
    PUT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF, 0, 0);
  }
  PUT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW, 0, 0);
  PUT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW, 0, 0);
#undef PUT
  struct sock_fprog fprog = {n, prog};
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    perror("rpz-exec: no-new-privileges");
    return -1;
  }
  int listener = (int)syscall(__NR_seccomp, SECCOMP_SET_MODE_FILTER,
                              SECCOMP_FILTER_FLAG_NEW_LISTENER, &fprog);
  if (listener < 0) {
    perror("rpz-exec: installing the identity filter");
    return -1;
  }
  char byte = 'L';
  struct iovec iov = {&byte, 1};
  union {
    char buffer[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } control;
  memset(&control, 0, sizeof control);
  struct msghdr message = {.msg_iov = &iov, .msg_iovlen = 1,
                           .msg_control = control.buffer, .msg_controllen = sizeof control.buffer};
  struct cmsghdr *cmsg = CMSG_FIRSTHDR(&message);
  cmsg->cmsg_level = SOL_SOCKET;
  cmsg->cmsg_type = SCM_RIGHTS;
  cmsg->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(cmsg), &listener, sizeof(int));
  ssize_t sent;
  do {
    sent = sendmsg(socket_fd, &message, MSG_NOSIGNAL);
  } while (sent < 0 && errno == EINTR);
  close(listener);
  close(socket_fd);
  if (sent != 1) {
    perror("rpz-exec: handing over the identity listener");
    return -1;
  }
  return 0;
}

/* ---------------------------------------------------------------- emulated credentials */

struct creds {
  uint32_t ruid, euid, suid, fsuid, rgid, egid, sgid, fsgid;
  uint32_t ngroups;
  uint32_t groups[MAX_GROUPS];
  uint64_t eff, perm, inh, bound;
  uint32_t securebits;
  int keepcaps;
};

struct task {
  pid_t tid; /* 0: free slot */
  uint32_t seq;
  struct creds c;
};

static struct task tasks[MAX_TASKS];
static unsigned task_count;
static struct creds initial;

static unsigned slot_of(pid_t tid) { return ((uint32_t)tid * 2654435761U) % MAX_TASKS; }

static struct task *find_task(pid_t tid) {
  for (unsigned i = 0, s = slot_of(tid); i < MAX_TASKS; i++, s = (s + 1) % MAX_TASKS) {
    if (tasks[s].tid == tid) {
      return &tasks[s];
    }
    if (tasks[s].tid == 0) {
      return NULL;
    }
  }
  return NULL;
}

/* Forgets tasks that are gone (no /proc entry), rebuilding the table. */
static void collect_tasks(void) {
  static struct task old[MAX_TASKS];
  memcpy(old, tasks, sizeof tasks);
  memset(tasks, 0, sizeof tasks);
  task_count = 0;
  for (unsigned i = 0; i < MAX_TASKS; i++) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d", (int)old[i].tid);
    if (old[i].tid != 0 && access(path, F_OK) == 0) {
      unsigned s = slot_of(old[i].tid);
      while (tasks[s].tid != 0) {
        s = (s + 1) % MAX_TASKS;
      }
      tasks[s] = old[i];
      task_count++;
    }
  }
}

/* Tgid and PPid of a task, from /proc/TID/status; 0 when unknown. */
static void task_family(pid_t tid, pid_t *tgid, pid_t *ppid) {
  char path[64], text[2048];
  *tgid = *ppid = 0;
  snprintf(path, sizeof path, "/proc/%d/status", (int)tid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return;
  }
  ssize_t got = read(fd, text, sizeof text - 1);
  close(fd);
  if (got <= 0) {
    return;
  }
  text[got] = '\0';
  char *at = strstr(text, "\nTgid:");
  if (at) *tgid = (pid_t)strtol(at + 6, NULL, 10);
  at = strstr(text, "\nPPid:");
  if (at) *ppid = (pid_t)strtol(at + 6, NULL, 10);
}

/* The task's entry, made (inheriting) when first seen; a scratch entry when the table is full. */
static struct task *task_of(pid_t tid) {
  struct task *task = find_task(tid);
  if (task) {
    return task;
  }
  pid_t tgid, ppid;
  task_family(tid, &tgid, &ppid);
  struct task *from = tgid != 0 && tgid != tid ? find_task(tgid) : NULL;
  if (!from && ppid > 0) {
    from = find_task(ppid);
  }
  struct creds c = from ? from->c : initial;
  if (task_count >= MAX_TASKS * 3 / 4) {
    collect_tasks();
  }
  if (task_count >= MAX_TASKS * 3 / 4) {
    static struct task scratch;
    scratch = (struct task){tid, 0, c};
    return &scratch;
  }
  unsigned s = slot_of(tid);
  while (tasks[s].tid != 0) {
    s = (s + 1) % MAX_TASKS;
  }
  tasks[s] = (struct task){tid, 0, c};
  task_count++;
  return &tasks[s];
}

/*
 * Adds the task that `text` names (from /proc) as task_of would, unless known or not a task. Not
 * when the table is nearly full: task_of would then rebuild it (moving the entry of the task being
 * answered) or hand out its one scratch entry.
 */
static void meet(const char *text, pid_t changing) {
  char *end;
  long tid = strtol(text, &end, 10);
  if (end != text && tid > 0 && tid <= INT_MAX && (pid_t)tid != changing &&
      task_count < MAX_TASKS * 3 / 4 - 1 && !find_task((pid_t)tid)) {
    task_of((pid_t)tid);
  }
}

/*
 * Before task `tid` changes its credentials: the tasks that would inherit them and that the
 * supervisor has not seen yet (they made no notified call since they were created) are met now,
 * with what they would inherit now. Linux gave them the credentials of their creation; met after
 * the change, they would take the new ones (a thread created, then its creator's setresuid, then
 * the thread's first getuid). They are the other threads of its thread group (/proc/TID/task) and
 * its children (/proc/TID/task/TID/children, where the kernel has it). Bounded by MAX_TASKS.
 */
static void meet_inheritors(pid_t tid) {
  char path[96];
  unsigned met = 0;
  snprintf(path, sizeof path, "/proc/%d/task", (int)tid);
  DIR *threads = opendir(path);
  if (threads) {
    struct dirent *entry;
    while (met < MAX_TASKS && (entry = readdir(threads)) != NULL) {
      meet(entry->d_name, tid);
      met++;
    }
    closedir(threads);
  }
  snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int)tid, (int)tid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return;
  }
  char text[4096];
  ssize_t got = read(fd, text, sizeof text - 1);
  close(fd);
  if (got <= 0) {
    return;
  }
  text[got] = '\0';
  for (char *at = strtok(text, " \n"); at && met < MAX_TASKS; at = strtok(NULL, " \n")) {
    meet(at, tid);
    met++;
  }
}

static int capable(const struct creds *c, int cap) { return (c->eff & CAP(cap)) != 0; }

static int in_groups(const struct creds *c, uint32_t gid) {
  if (gid == c->fsgid) {
    return 1;
  }
  for (uint32_t i = 0; i < c->ngroups; i++) {
    if (c->groups[i] == gid) return 1;
  }
  return 0;
}

/* What a uid change does to capabilities (security/commoncap.c, cap_emulate_setxuid). */
static void after_uid_change(struct creds *c, const struct creds *old) {
  int was_root = old->ruid == 0 || old->euid == 0 || old->suid == 0;
  int is_root = c->ruid == 0 || c->euid == 0 || c->suid == 0;
  if (was_root && !is_root && !c->keepcaps) {
    c->perm = c->eff = 0;
  }
  if (old->euid == 0 && c->euid != 0) {
    c->eff = 0;
  }
  if (old->euid != 0 && c->euid == 0) {
    c->eff = c->perm;
  }
  if (old->fsuid == 0 && c->fsuid != 0) {
    c->eff &= ~FS_CAPS;
  }
  if (old->fsuid != 0 && c->fsuid == 0) {
    c->eff |= c->perm & FS_CAPS;
  }
}

static int one_of(uint32_t id, uint32_t a, uint32_t b, uint32_t c) {
  return id == a || id == b || id == c;
}

/* Sets the real, effective and saved ids (NO_ID: unchanged), fs = effective; no check. */
static void apply_res(struct creds *c, int gid, uint32_t r, uint32_t e, uint32_t s) {
  struct creds old = *c;
  uint32_t *ids = gid ? &c->rgid : &c->ruid; /* r, e, s, fs in order */
  uint32_t want[3] = {r, e, s};
  for (int i = 0; i < 3; i++) {
    if (want[i] != NO_ID) ids[i] = want[i];
  }
  ids[3] = ids[1];
  if (!gid) {
    after_uid_change(c, &old);
  }
}

static int privileged(const struct creds *c, int gid) {
  return capable(c, gid ? CAP_SETGID : CAP_SETUID);
}

/* setresuid/setresgid: without privilege, each new id must be one of the current three. */
static long set_res(struct creds *c, int gid, uint32_t r, uint32_t e, uint32_t s) {
  uint32_t *ids = gid ? &c->rgid : &c->ruid;
  uint32_t want[3] = {r, e, s};
  for (int i = 0; i < 3 && !privileged(c, gid); i++) {
    if (want[i] != NO_ID && !one_of(want[i], ids[0], ids[1], ids[2])) return -EPERM;
  }
  apply_res(c, gid, r, e, s);
  return 0;
}

/* setuid/setgid: privileged, all three; else the effective one, to the real or saved id. */
static long set_one(struct creds *c, int gid, uint32_t id) {
  uint32_t *ids = gid ? &c->rgid : &c->ruid;
  if (id == NO_ID) return -EINVAL;
  if (privileged(c, gid)) {
    apply_res(c, gid, id, id, id);
  } else if (id == ids[0] || id == ids[2]) {
    apply_res(c, gid, NO_ID, id, NO_ID);
  } else {
    return -EPERM;
  }
  return 0;
}

/* setreuid/setregid: the saved id follows the effective one when the real one is set or the
 * effective one differs from the old real one. */
static long set_re(struct creds *c, int gid, uint32_t r, uint32_t e) {
  uint32_t *ids = gid ? &c->rgid : &c->ruid;
  if (!privileged(c, gid) && ((r != NO_ID && r != ids[0] && r != ids[1]) ||
                              (e != NO_ID && !one_of(e, ids[0], ids[1], ids[2])))) {
    return -EPERM;
  }
  uint32_t s = NO_ID;
  if (r != NO_ID || (e != NO_ID && e != ids[0])) {
    s = e != NO_ID ? e : ids[1];
  }
  apply_res(c, gid, r, e, s);
  return 0;
}

/* setfsuid/setfsgid: always the old value; changed when privileged or one of the others. */
static long set_fs(struct creds *c, int gid, uint32_t id) {
  uint32_t *ids = gid ? &c->rgid : &c->ruid;
  uint32_t old = ids[3];
  if (id != NO_ID && (privileged(c, gid) || one_of(id, ids[0], ids[1], ids[2]))) {
    struct creds before = *c;
    ids[3] = id;
    if (!gid) {
      after_uid_change(c, &before);
    }
  }
  return old;
}

/* What execve does to capabilities (no file capabilities, no ambient set, no setuid bits). */
static void after_exec(struct creds *c) {
  if (c->ruid == 0 || c->euid == 0) {
    c->perm = c->bound;
    c->eff = c->euid == 0 ? c->perm : 0;
  } else {
    c->perm = c->eff = 0;
  }
  c->keepcaps = 0;
}

/* ---------------------------------------------------------------- the experiment's memory */

static int listener_fd = -1;

static int still_valid(uint64_t id) {
  return ioctl(listener_fd, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) == 0;
}

static int read_memory(pid_t tid, uint64_t address, void *buffer, size_t size) {
  struct iovec local = {buffer, size}, remote = {(void *)(uintptr_t)address, size};
  return process_vm_readv(tid, &local, 1, &remote, 1, 0) == (ssize_t)size ? 0 : -1;
}

static int write_memory(pid_t tid, uint64_t address, const void *buffer, size_t size) {
  struct iovec local = {(void *)buffer, size}, remote = {(void *)(uintptr_t)address, size};
  return process_vm_writev(tid, &local, 1, &remote, 1, 0) == (ssize_t)size ? 0 : -1;
}

/* A NUL-terminated path from the experiment (page by page). 0, or -errno. */
static int read_path(pid_t tid, uint64_t address, char *path) {
  if (address == 0) {
    return -EFAULT;
  }
  size_t have = 0;
  while (have < PATH_MAX) {
    size_t page_left = 4096 - ((address + have) & 4095);
    size_t chunk = page_left < PATH_MAX - have ? page_left : PATH_MAX - have;
    if (read_memory(tid, address + have, path + have, chunk) != 0) {
      return -EFAULT;
    }
    void *nul = memchr(path + have, '\0', chunk);
    if (nul) {
      return 0;
    }
    have += chunk;
  }
  return -ENAMETOOLONG;
}

/* ---------------------------------------------------------------- emulated ownership */

struct inode {
  uint64_t dev, ino; /* ino 0: free */
  int64_t birth;     /* birth (or 0: unknown) in ns, to tell a reused inode number */
  uint32_t uid, gid;
  char *path; /* where it was last seen, for the report; may be NULL */
};

static struct inode inodes[MAX_INODES];
static unsigned inode_count;
static size_t path_bytes;
static uint32_t real_uid, real_gid, common_uid, common_gid;
static int64_t since_ns;

static int64_t birth_of(const struct statx *sx) {
  const struct statx_timestamp *t = (sx->stx_mask & STATX_BTIME) ? &sx->stx_btime : &sx->stx_ctime;
  return t->tv_sec * 1000000000LL + t->tv_nsec;
}

static uint64_t dev_of(const struct statx *sx) {
  return makedev(sx->stx_dev_major, sx->stx_dev_minor);
}

static struct inode *find_inode(const struct statx *sx, int make) {
  uint64_t dev = dev_of(sx), ino = sx->stx_ino;
  unsigned s = (unsigned)((ino * 0x9E3779B97F4A7C15ULL ^ dev) % MAX_INODES);
  for (unsigned i = 0; i < MAX_INODES; i++, s = (s + 1) % MAX_INODES) {
    if (inodes[s].ino == ino && inodes[s].dev == dev) {
      return &inodes[s];
    }
    if (inodes[s].ino == 0) {
      if (!make || inode_count >= MAX_INODES * 3 / 4) {
        return NULL;
      }
      inodes[s].dev = dev;
      inodes[s].ino = ino;
      inode_count++;
      return &inodes[s];
    }
  }
  return NULL;
}

/* The owner the experiment sees (see the header). */
static void owner_of(const struct statx *sx, const struct creds *step, uint32_t *uid,
                     uint32_t *gid) {
  struct inode *known = find_inode(sx, 0);
  if (known && (known->birth == 0 || known->birth == birth_of(sx))) {
    *uid = known->uid;
    *gid = known->gid;
    return;
  }
  int new = birth_of(sx) >= since_ns;
  *uid = sx->stx_uid == real_uid ? (new ? step->ruid : common_uid) : sx->stx_uid;
  *gid = sx->stx_gid == real_gid ? (new ? step->rgid : common_gid) : sx->stx_gid;
}

static void remember(const struct statx *sx, uint32_t uid, uint32_t gid, const char *path) {
  struct inode *entry = find_inode(sx, 1);
  if (!entry) {
    return; /* full: the defaults apply */
  }
  entry->birth = birth_of(sx);
  entry->uid = uid;
  entry->gid = gid;
  if (path && (!entry->path || strcmp(entry->path, path) != 0)) {
    size_t length = strlen(path);
    if (path_bytes + length + 1 <= MAX_PATH_BYTES) {
      if (entry->path) path_bytes -= strlen(entry->path) + 1;
      free(entry->path);
      entry->path = strdup(path);
      if (entry->path) path_bytes += length + 1;
    }
  }
}

/* Creations continued, to be bound to their inode once they exist. */
struct pending {
  char *path;
  pid_t tid;
  uint32_t seq, uid, gid;
};
static struct pending pendings[MAX_PENDING];
static unsigned pending_count;

static void drop_pending(unsigned i) {
  free(pendings[i].path);
  pendings[i] = pendings[--pending_count];
}

/* Binds the creations that now exist; forgets those whose creator has moved on without one. */
static void settle_pending(void) {
  for (unsigned i = 0; i < pending_count;) {
    struct statx sx;
    struct pending *p = &pendings[i];
    if (statx(AT_FDCWD, p->path, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS | STATX_BTIME, &sx) == 0) {
      remember(&sx, p->uid, p->gid, p->path);
      drop_pending(i);
      continue;
    }
    struct task *creator = find_task(p->tid);
    if (!creator || creator->seq != p->seq) {
      drop_pending(i);
      continue;
    }
    i++;
  }
}

static void add_pending(const char *path, pid_t tid, uint32_t seq, uint32_t uid, uint32_t gid) {
  if (pending_count == MAX_PENDING) {
    drop_pending(0);
  }
  char *copy = strdup(path);
  if (copy) {
    pendings[pending_count++] = (struct pending){copy, tid, seq, uid, gid};
  }
}

/* ---------------------------------------------------------------- resolving the experiment's paths */

/*
 * Where a path of the experiment starts: its cwd, its descriptor DIRFD, or "/" (absolute paths:
 * the supervisor shares the experiment's root). *base is AT_FDCWD or a descriptor to close.
 */
static int open_base(pid_t tid, int dirfd, const char *path, int *base) {
  *base = AT_FDCWD;
  if (path[0] == '/') {
    return 0;
  }
  char proc[64];
  if (dirfd == AT_FDCWD) {
    snprintf(proc, sizeof proc, "/proc/%d/cwd", (int)tid);
  } else if (dirfd >= 0) {
    snprintf(proc, sizeof proc, "/proc/%d/fd/%d", (int)tid, dirfd);
  } else {
    return -EBADF;
  }
  *base = open(proc, O_PATH | O_CLOEXEC);
  if (*base < 0) {
    int error = errno;
    *base = AT_FDCWD;
    return error == ENOENT ? -EBADF : -error;
  }
  return 0;
}

static void close_base(int base) {
  if (base >= 0) close(base);
}

/* The absolute path of `path` from `base` (for the report and pending creations). */
static int absolute(pid_t tid, int dirfd, const char *path, char *out, size_t size) {
  if (path[0] == '/') {
    return snprintf(out, size, "%s", path) < (int)size ? 0 : -1;
  }
  char proc[64], dir[PATH_MAX];
  if (dirfd == AT_FDCWD) {
    snprintf(proc, sizeof proc, "/proc/%d/cwd", (int)tid);
  } else {
    snprintf(proc, sizeof proc, "/proc/%d/fd/%d", (int)tid, dirfd);
  }
  ssize_t length = readlink(proc, dir, sizeof dir - 1);
  if (length <= 0 || dir[0] != '/') {
    return -1;
  }
  dir[length] = '\0';
  int written = path[0] ? snprintf(out, size, "%s/%s", strcmp(dir, "/") == 0 ? "" : dir, path)
                        : snprintf(out, size, "%s", dir);
  return written < (int)size ? 0 : -1;
}

/* ---------------------------------------------------------------- handlers */

struct request {
  struct seccomp_notif *n;
  struct task *task;
  pid_t tid;
};

#define CONTINUE_CALL LONG_MIN /* a handler's answer: let the kernel run the call */

static uint64_t arg(const struct request *r, int i) { return r->n->data.args[i]; }

static long put_ids(const struct request *r, const uint32_t ids[3]) {
  for (int i = 0; i < 3; i++) {
    if (write_memory(r->tid, arg(r, i), &ids[i], sizeof ids[i]) != 0) return -EFAULT;
  }
  return 0;
}

static long do_getgroups(const struct request *r) {
  const struct creds *c = &r->task->c;
  int size = (int)arg(r, 0);
  if (size < 0) return -EINVAL;
  if (size == 0) return c->ngroups;
  if ((uint32_t)size < c->ngroups) return -EINVAL;
  if (c->ngroups && write_memory(r->tid, arg(r, 1), c->groups, 4 * c->ngroups) != 0) {
    return -EFAULT;
  }
  return c->ngroups;
}

static long do_setgroups(const struct request *r) {
  struct creds *c = &r->task->c;
  long size = (long)(int)arg(r, 0);
  if (!capable(c, CAP_SETGID)) return -EPERM;
  if (size < 0 || size > 65536) return -EINVAL;
  if (size > MAX_GROUPS) return -ENOMEM; /* more than this emulation keeps */
  uint32_t groups[MAX_GROUPS];
  if (size && read_memory(r->tid, arg(r, 1), groups, 4 * (size_t)size) != 0) return -EFAULT;
  memcpy(c->groups, groups, 4 * (size_t)size);
  c->ngroups = (uint32_t)size;
  return 0;
}

#define CAP_V1 0x19980330
#define CAP_V2 0x20071026
#define CAP_V3 0x20080522

static long do_capget(const struct request *r, int set) {
  struct __user_cap_header_struct header;
  if (read_memory(r->tid, arg(r, 0), &header, sizeof header) != 0) return -EFAULT;
  int words = header.version == CAP_V1 ? 1 : (header.version == CAP_V2 || header.version == CAP_V3) ? 2 : 0;
  if (words == 0) {
    uint32_t v3 = CAP_V3;
    if (write_memory(r->tid, arg(r, 0), &v3, sizeof v3) != 0) return -EFAULT;
    return arg(r, 1) == 0 && !set ? 0 : -EINVAL;
  }
  struct creds *c = &r->task->c;
  struct __user_cap_data_struct data[2];
  if (!set) {
    if (header.pid < 0) return -EINVAL;
    if (header.pid != 0 && header.pid != r->tid) {
      struct task *other = find_task(header.pid);
      c = other ? &other->c : c;
    }
    if (arg(r, 1) == 0) return 0;
    for (int i = 0; i < words; i++) {
      data[i].effective = (uint32_t)(c->eff >> (32 * i));
      data[i].permitted = (uint32_t)(c->perm >> (32 * i));
      data[i].inheritable = (uint32_t)(c->inh >> (32 * i));
    }
    return write_memory(r->tid, arg(r, 1), data, sizeof data[0] * (size_t)words) ? -EFAULT : 0;
  }
  if (header.pid != 0 && header.pid != r->tid) return -EPERM;
  memset(data, 0, sizeof data);
  if (read_memory(r->tid, arg(r, 1), data, sizeof data[0] * (size_t)words) != 0) return -EFAULT;
  uint64_t eff = data[0].effective | ((uint64_t)data[1].effective << 32);
  uint64_t perm = data[0].permitted | ((uint64_t)data[1].permitted << 32);
  uint64_t inh = data[0].inheritable | ((uint64_t)data[1].inheritable << 32);
  if (words == 1) { /* v1 keeps the high half as it was */
    eff |= c->eff & ~0xffffffffULL;
    perm |= c->perm & ~0xffffffffULL;
    inh |= c->inh & ~0xffffffffULL;
  }
  uint64_t inh_limit = c->inh | (capable(c, CAP_SETPCAP) ? c->perm : 0);
  if ((perm & ~c->perm) || (eff & ~perm) || (inh & ~(inh_limit & c->bound) & ~c->inh)) {
    return -EPERM;
  }
  c->eff = eff;
  c->perm = perm;
  c->inh = inh;
  return 0;
}

static long do_prctl(const struct request *r) {
  struct creds *c = &r->task->c;
  uint64_t value = arg(r, 1);
  switch ((int)arg(r, 0)) {
  case PR_GET_KEEPCAPS:
    return c->keepcaps;
  case PR_SET_KEEPCAPS:
    if (value > 1) return -EINVAL;
    c->keepcaps = (int)value;
    return 0;
  case PR_CAPBSET_READ:
    return value > 63 ? -EINVAL : (long)((c->bound >> value) & 1);
  case PR_CAPBSET_DROP:
    if (value > 63) return -EINVAL;
    if (!capable(c, CAP_SETPCAP)) return -EPERM;
    c->bound &= ~CAP(value);
    return 0;
  case PR_GET_SECUREBITS:
    return c->securebits;
  case PR_SET_SECUREBITS:
    if (!capable(c, CAP_SETPCAP)) return -EPERM;
    c->securebits = (uint32_t)value;
    return 0;
  case PR_CAP_AMBIENT:
    if (value == PR_CAP_AMBIENT_IS_SET) return 0;
    if (value == PR_CAP_AMBIENT_CLEAR_ALL || value == PR_CAP_AMBIENT_LOWER) return 0;
    return -EPERM; /* raising: the emulation keeps no ambient set */
  }
  return -EINVAL;
}

/* statx of the experiment's path (or descriptor: path ""), in the experiment's place. */
static long stat_for(const struct request *r, int dirfd, uint64_t path_address, int flags,
                     struct statx *sx, char *path) {
  if (path_address == 0 && !(flags & AT_EMPTY_PATH)) return -EFAULT;
  long error = path_address ? read_path(r->tid, path_address, path) : (path[0] = '\0', 0);
  if (error) return error;
  if (path[0] == '\0' && !(flags & AT_EMPTY_PATH)) return -ENOENT;
  int base;
  error = open_base(r->tid, path[0] == '\0' && dirfd == AT_FDCWD ? AT_FDCWD : dirfd, path, &base);
  if (error) return error;
  if (!still_valid(r->n->id)) {
    close_base(base);
    return -ESRCH;
  }
  int at_flags = flags & (AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT | AT_STATX_SYNC_TYPE);
  if (path[0] == '\0') at_flags |= AT_EMPTY_PATH;
  error = statx(base, path, at_flags, STATX_BASIC_STATS | STATX_BTIME, sx) == 0 ? 0 : -errno;
  close_base(base);
  return error;
}

static long do_stat(const struct request *r) {
  int nr = r->n->data.nr;
  int dirfd = AT_FDCWD, flags = 0, out = 1;
  uint64_t path = arg(r, 0);
  if (nr == __NR_lstat) flags = AT_SYMLINK_NOFOLLOW;
  if (nr == __NR_fstat) dirfd = (int)arg(r, 0), path = 0, flags = AT_EMPTY_PATH;
  if (nr == __NR_newfstatat) dirfd = (int)arg(r, 0), path = arg(r, 1), out = 2, flags = (int)arg(r, 3);
  if (nr == __NR_statx) dirfd = (int)arg(r, 0), path = arg(r, 1), flags = (int)arg(r, 2), out = 4;
  if (nr == __NR_fstat && dirfd < 0) return -EBADF;
  static char text[PATH_MAX];
  struct statx sx;
  long error = stat_for(r, dirfd, path, flags, &sx, text);
  if (error) return error;
  uint32_t uid, gid;
  owner_of(&sx, &r->task->c, &uid, &gid);
  if (nr == __NR_statx) {
    sx.stx_uid = uid;
    sx.stx_gid = gid;
    return write_memory(r->tid, arg(r, out), &sx, sizeof sx) ? -EFAULT : 0;
  }
  struct stat st;
  memset(&st, 0, sizeof st);
  st.st_dev = dev_of(&sx);
  st.st_ino = sx.stx_ino;
  st.st_nlink = sx.stx_nlink;
  st.st_mode = sx.stx_mode;
  st.st_uid = uid;
  st.st_gid = gid;
  st.st_rdev = makedev(sx.stx_rdev_major, sx.stx_rdev_minor);
  st.st_size = (off_t)sx.stx_size;
  st.st_blksize = sx.stx_blksize;
  st.st_blocks = (blkcnt_t)sx.stx_blocks;
  st.st_atim = (struct timespec){sx.stx_atime.tv_sec, sx.stx_atime.tv_nsec};
  st.st_mtim = (struct timespec){sx.stx_mtime.tv_sec, sx.stx_mtime.tv_nsec};
  st.st_ctim = (struct timespec){sx.stx_ctime.tv_sec, sx.stx_ctime.tv_nsec};
  return write_memory(r->tid, arg(r, out), &st, sizeof st) ? -EFAULT : 0;
}

static long do_chown(const struct request *r) {
  int nr = r->n->data.nr;
  int dirfd = AT_FDCWD, flags = 0;
  uint64_t path = arg(r, 0);
  uint32_t uid = (uint32_t)arg(r, 1), gid = (uint32_t)arg(r, 2);
  if (nr == __NR_lchown) flags = AT_SYMLINK_NOFOLLOW;
  if (nr == __NR_fchown) {
    dirfd = (int)arg(r, 0), path = 0, flags = AT_EMPTY_PATH;
    if (dirfd < 0) return -EBADF;
  }
  if (nr == __NR_fchownat) {
    dirfd = (int)arg(r, 0), path = arg(r, 1), uid = (uint32_t)arg(r, 2), gid = (uint32_t)arg(r, 3);
    flags = (int)arg(r, 4);
    if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) return -EINVAL;
  }
  static char text[PATH_MAX], where[PATH_MAX];
  struct statx sx;
  long error = stat_for(r, dirfd, path, flags, &sx, text);
  if (error) return error;
  const struct creds *c = &r->task->c;
  uint32_t owner, group;
  owner_of(&sx, c, &owner, &group);
  int cap = capable(c, CAP_CHOWN);
  int uid_ok = uid == NO_ID || cap || (c->fsuid == owner && uid == owner);
  int gid_ok = gid == NO_ID || cap || (c->fsuid == owner && (gid == group || in_groups(c, gid)));
  if (!uid_ok || !gid_ok) return -EPERM;
  int located = absolute(r->tid, dirfd, text, where, sizeof where) == 0;
  remember(&sx, uid == NO_ID ? owner : uid, gid == NO_ID ? group : gid, located ? where : NULL);
  return 0;
}

/* Whether the emulated ids may access (mask of 4 read, 2 write, 1 search) an inode. */
static int may(const struct creds *c, const struct statx *sx, int mask) {
  if (capable(c, CAP_DAC_OVERRIDE)) return 1;
  uint32_t uid, gid;
  owner_of(sx, c, &uid, &gid);
  int bits = c->fsuid == uid ? (sx->stx_mode >> 6) & 7
             : in_groups(c, gid) ? (sx->stx_mode >> 3) & 7
                                 : sx->stx_mode & 7;
  return (bits & mask) == mask;
}

/* open/openat/creat with O_CREAT or for writing, mkdir, mknod, symlink. */
static long do_create(const struct request *r) {
  int nr = r->n->data.nr;
  int dirfd = AT_FDCWD, open_flags = O_CREAT | O_EXCL;
  uint64_t path = arg(r, 0);
  switch (nr) {
  case __NR_open: open_flags = (int)arg(r, 1); break;
  case __NR_openat: dirfd = (int)arg(r, 0), path = arg(r, 1), open_flags = (int)arg(r, 2); break;
  case __NR_creat: open_flags = O_CREAT | O_WRONLY | O_TRUNC; break;
  case __NR_mkdirat: case __NR_mknodat: dirfd = (int)arg(r, 0), path = arg(r, 1); break;
  case __NR_symlink: path = arg(r, 1); break;
  case __NR_symlinkat: dirfd = (int)arg(r, 1), path = arg(r, 2); break;
  }
  static char text[PATH_MAX], where[PATH_MAX];
  int follow = (open_flags & (O_NOFOLLOW | O_EXCL)) ? AT_SYMLINK_NOFOLLOW : 0;
  struct statx sx;
  long error = stat_for(r, dirfd, path, follow, &sx, text);
  if (error == -ESRCH) return error;
  struct creds *c = &r->task->c;
  if (error == 0) {
    int writes = (open_flags & O_ACCMODE) != O_RDONLY || (open_flags & O_TRUNC);
    if ((open_flags & O_EXCL) || !writes || S_ISDIR(sx.stx_mode)) return CONTINUE_CALL;
    return may(c, &sx, 2) ? CONTINUE_CALL : -EACCES;
  }
  if (error != -ENOENT || !(open_flags & O_CREAT)) return CONTINUE_CALL; /* the kernel says */
  /* A new entry: its folder must be writable by the emulated ids. */
  char parent[PATH_MAX];
  snprintf(parent, sizeof parent, "%s", text);
  size_t length = strlen(parent);
  while (length > 1 && parent[length - 1] == '/') parent[--length] = '\0';
  char *slash = strrchr(parent, '/');
  if (!slash) snprintf(parent, sizeof parent, ".");
  else if (slash == parent) parent[1] = '\0';
  else *slash = '\0';
  int base;
  if (open_base(r->tid, dirfd, parent, &base) != 0) return CONTINUE_CALL;
  struct statx dir;
  int found = statx(base, parent, 0, STATX_BASIC_STATS | STATX_BTIME, &dir) == 0;
  close_base(base);
  if (!found) return CONTINUE_CALL;
  if (!may(c, &dir, 3)) return -EACCES;
  uint32_t dir_uid, dir_gid;
  owner_of(&dir, c, &dir_uid, &dir_gid);
  if (absolute(r->tid, dirfd, text, where, sizeof where) == 0) {
    add_pending(where, r->tid, r->task->seq, c->fsuid,
                (dir.stx_mode & S_ISGID) ? dir_gid : c->fsgid);
  }
  return CONTINUE_CALL;
}

/* The calls that change the calling task's credentials (prctl: some of its options). */
static int changes_credentials(const struct request *r) {
  switch (r->n->data.nr) {
  case __NR_setgroups: case __NR_setuid: case __NR_setgid: case __NR_setreuid:
  case __NR_setregid: case __NR_setresuid: case __NR_setresgid: case __NR_setfsuid:
  case __NR_setfsgid: case __NR_capset: case __NR_execve: case __NR_execveat:
    return 1;
  case __NR_prctl:
    switch ((int)arg(r, 0)) {
    case PR_SET_KEEPCAPS: case PR_CAPBSET_DROP: case PR_SET_SECUREBITS: return 1;
    }
  }
  return 0;
}

static long handle(struct request *r) {
  if (changes_credentials(r)) {
    meet_inheritors(r->tid);
  }
  struct creds *c = &r->task->c;
  uint32_t a0 = (uint32_t)arg(r, 0), a1 = (uint32_t)arg(r, 1), a2 = (uint32_t)arg(r, 2);
  switch (r->n->data.nr) {
  case __NR_getuid: return c->ruid;
  case __NR_geteuid: return c->euid;
  case __NR_getgid: return c->rgid;
  case __NR_getegid: return c->egid;
  case __NR_getresuid: return put_ids(r, (uint32_t[3]){c->ruid, c->euid, c->suid});
  case __NR_getresgid: return put_ids(r, (uint32_t[3]){c->rgid, c->egid, c->sgid});
  case __NR_getgroups: return do_getgroups(r);
  case __NR_setgroups: return do_setgroups(r);
  case __NR_setuid: return set_one(c, 0, a0);
  case __NR_setgid: return set_one(c, 1, a0);
  case __NR_setreuid: return set_re(c, 0, a0, a1);
  case __NR_setregid: return set_re(c, 1, a0, a1);
  case __NR_setresuid: return set_res(c, 0, a0, a1, a2);
  case __NR_setresgid: return set_res(c, 1, a0, a1, a2);
  case __NR_setfsuid: return set_fs(c, 0, a0);
  case __NR_setfsgid: return set_fs(c, 1, a0);
  case __NR_capget: return do_capget(r, 0);
  case __NR_capset: return do_capget(r, 1);
  case __NR_prctl: return do_prctl(r);
  case __NR_chown: case __NR_fchown: case __NR_lchown: case __NR_fchownat: return do_chown(r);
  case __NR_stat: case __NR_lstat: case __NR_fstat: case __NR_newfstatat: case __NR_statx:
    return do_stat(r);
  case __NR_execve: case __NR_execveat:
    after_exec(c); /* a failed exec changes nothing in the kernel: an approximation */
    return CONTINUE_CALL;
  default: return do_create(r);
  }
}

/* ---------------------------------------------------------------- the supervisor */

static int parse_id(const char *text, uint32_t *id) {
  char *end = NULL;
  errno = 0;
  unsigned long value = strtoul(text, &end, 10);
  if (text[0] < '0' || text[0] > '9' || *end != '\0' || errno || value >= NO_ID) return -1;
  *id = (uint32_t)value;
  return 0;
}

/* OWNERS: "UID GID PATH\0" records; bad ones skipped, at most what the table holds. */
static void load_owners(const char *file) {
  FILE *in = fopen(file, "re");
  if (!in) {
    return;
  }
  char *record = NULL;
  size_t size = 0;
  while (getdelim(&record, &size, '\0', in) > 0) {
    char *space1 = strchr(record, ' ');
    char *space2 = space1 ? strchr(space1 + 1, ' ') : NULL;
    if (!space2) continue;
    *space1 = *space2 = '\0';
    uint32_t uid, gid;
    struct statx sx;
    if (parse_id(record, &uid) || parse_id(space1 + 1, &gid) || space2[1] != '/' ||
        statx(AT_FDCWD, space2 + 1, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS | STATX_BTIME, &sx)) {
      continue;
    }
    remember(&sx, uid, gid, space2 + 1);
  }
  free(record);
  fclose(in);
}

/* Writes "UID GID PATH\0" for what the run's ids own where the supervisor last saw it. */
static void report(int fd) {
  FILE *out = fd >= 0 ? fdopen(fd, "w") : NULL;
  if (!out) return;
  for (unsigned i = 0; i < MAX_INODES; i++) {
    struct statx sx;
    if (inodes[i].ino == 0 || !inodes[i].path ||
        statx(AT_FDCWD, inodes[i].path, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &sx) != 0 ||
        sx.stx_ino != inodes[i].ino || dev_of(&sx) != inodes[i].dev) {
      continue;
    }
    fprintf(out, "%u %u %s%c", inodes[i].uid, inodes[i].gid, inodes[i].path, '\0');
  }
  fclose(out);
}

static int receive_listener(int socket_fd, pid_t child) {
  for (;;) {
    struct pollfd wait = {socket_fd, POLLIN, 0};
    int ready = poll(&wait, 1, 200);
    if (ready < 0 && errno != EINTR) return -1;
    if (ready <= 0) {
      int status;
      if (waitpid(child, &status, WNOHANG | __WNOTHREAD) != 0) {
        /* Gone without a listener: put its status back for the caller's wait. */
        return -2 - (status & 0xffff);
      }
      continue;
    }
    char byte;
    struct iovec iov = {&byte, 1};
    union {
      char buffer[CMSG_SPACE(sizeof(int))];
      struct cmsghdr align;
    } control;
    struct msghdr message = {.msg_iov = &iov, .msg_iovlen = 1,
                             .msg_control = control.buffer,
                             .msg_controllen = sizeof control.buffer};
    ssize_t got = recvmsg(socket_fd, &message, MSG_CMSG_CLOEXEC);
    if (got <= 0) return -1;
    struct cmsghdr *cmsg = CMSG_FIRSTHDR(&message);
    if (cmsg && cmsg->cmsg_level == SOL_SOCKET && cmsg->cmsg_type == SCM_RIGHTS &&
        cmsg->cmsg_len == CMSG_LEN(sizeof(int))) {
      int fd;
      memcpy(&fd, CMSG_DATA(cmsg), sizeof fd);
      return fd;
    }
  }
}

/* Exits as the child did (killed by a signal: by the same signal). */
static int exit_as(int status) {
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    struct rlimit none = {0, 0};
    setrlimit(RLIMIT_CORE, &none);
    signal(sig, SIG_DFL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, sig);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    raise(sig);
    return 128 + sig;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 127;
}

static void serve(pid_t child, int *status) {
  struct seccomp_notif_sizes sizes;
  if (syscall(__NR_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) != 0) {
    sizes.seccomp_notif = sizeof(struct seccomp_notif);
    sizes.seccomp_notif_resp = sizeof(struct seccomp_notif_resp);
  }
  size_t notif_size = sizes.seccomp_notif > sizeof(struct seccomp_notif)
                          ? sizes.seccomp_notif : sizeof(struct seccomp_notif);
  size_t resp_size = sizes.seccomp_notif_resp > sizeof(struct seccomp_notif_resp)
                         ? sizes.seccomp_notif_resp : sizeof(struct seccomp_notif_resp);
  struct seccomp_notif *notif = calloc(1, notif_size);
  struct seccomp_notif_resp *resp = calloc(1, resp_size);
  int exited = (int)syscall(__NR_pidfd_open, child, 0);
  for (;;) {
    struct pollfd wait[2] = {{listener_fd, POLLIN, 0}, {exited, POLLIN, 0}};
    int ready = poll(wait, 2, exited >= 0 ? -1 : 200);
    if (ready < 0 && errno != EINTR) break;
    if (waitpid(child, status, WNOHANG | __WNOTHREAD) == child) {
      return;
    }
    if (ready <= 0 || !(wait[0].revents & POLLIN)) {
      if (wait[0].revents & (POLLHUP | POLLERR)) break;
      continue;
    }
    memset(notif, 0, notif_size);
    if (ioctl(listener_fd, SECCOMP_IOCTL_NOTIF_RECV, notif) != 0) {
      continue; /* the task went away meanwhile (ENOENT), or EINTR */
    }
    struct request request = {notif, task_of((pid_t)notif->pid), (pid_t)notif->pid};
    request.task->seq++;
    settle_pending();
    long answer = handle(&request);
    memset(resp, 0, resp_size);
    resp->id = notif->id;
    if (answer == CONTINUE_CALL) {
      resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
    } else if (answer < 0 && answer >= -4095) {
      resp->error = (int)answer;
    } else {
      resp->val = answer;
    }
    ioctl(listener_fd, SECCOMP_IOCTL_NOTIF_SEND, resp); /* ENOENT: it is gone; nothing to do */
  }
  waitpid(child, status, __WNOTHREAD);
}

int identity_supervise(int argc, char **argv, int at) {
  /* UID GID COMMON-UID COMMON-GID SINCE OWNERS REPORT-FD -- COMMAND... */
  if (argc < at + 9 || strcmp(argv[at + 7], "--") != 0) {
    fputs("usage: rpz-exec emulate-ids UID GID COMMON-UID COMMON-GID SINCE-MS OWNERS REPORT-FD"
          " -- COMMAND...\n", stderr);
    return 127;
  }
  uint32_t uid, gid;
  char *end = NULL;
  unsigned long long since_ms = strtoull(argv[at + 4], &end, 10);
  int report_fd = -1;
  if (strcmp(argv[at + 6], "-") != 0) {
    uint32_t value;
    if (parse_id(argv[at + 6], &value) || value < 3 || value == IDS_SOCKET_FD || value > 1023) {
      fputs("rpz-exec: bad REPORT-FD\n", stderr);
      return 127;
    }
    report_fd = (int)value;
    fcntl(report_fd, F_SETFD, FD_CLOEXEC);
  }
  if (parse_id(argv[at], &uid) || parse_id(argv[at + 1], &gid) ||
      parse_id(argv[at + 2], &common_uid) || parse_id(argv[at + 3], &common_gid) || *end != '\0') {
    fputs("rpz-exec: bad ids or SINCE\n", stderr);
    return 127;
  }
  since_ns = (int64_t)since_ms * 1000000LL;
  real_uid = (uint32_t)getuid();
  real_gid = (uint32_t)getgid();
  initial = (struct creds){uid, uid, uid, uid, gid, gid, gid, gid, 1, {gid}, 0, 0, 0,
                           DOCKER_CAPS, 0, 0};
  if (uid == 0) {
    initial.eff = initial.perm = DOCKER_CAPS;
  }
  if (strcmp(argv[at + 5], "-") != 0) {
    load_owners(argv[at + 5]);
  }
  int pair[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) {
    perror("rpz-exec: socketpair");
    return 127;
  }
  pid_t child = fork();
  if (child < 0) {
    perror("rpz-exec: fork");
    return 127;
  }
  if (child == 0) {
    if (dup2(pair[1], IDS_SOCKET_FD) < 0) _exit(127);
    execvp(argv[at + 8], &argv[at + 8]);
    fprintf(stderr, "rpz-exec: cannot execute %s: %s\n", argv[at + 8], strerror(errno));
    _exit(127);
  }
  close(pair[1]);
  /* The experiment's signals from a terminal are its own: the supervisor ends with it. */
  signal(SIGINT, SIG_IGN);
  signal(SIGQUIT, SIG_IGN);
  signal(SIGPIPE, SIG_IGN);
  int status = 0;
  listener_fd = receive_listener(pair[0], child);
  close(pair[0]);
  if (listener_fd <= -2) {
    status = -2 - listener_fd;
  } else if (listener_fd < 0) {
    waitpid(child, &status, 0);
  } else {
    serve(child, &status);
    settle_pending();
  }
  report(report_fd);
  return exit_as(status);
}

#else /* not x86_64 */

/*
 * No emulation: the server's probe at start (`ids-check`) finds it missing, says so, and runs
 * steps with one id (changes of user fail, as without emulation).
 */
int identity_install(int socket_fd, int no_statx) {
  (void)socket_fd;
  (void)no_statx;
  fputs("rpz-exec: identity emulation is not built for this architecture\n", stderr);
  return -1;
}

int identity_supervise(int argc, char **argv, int at) {
  (void)argc;
  (void)argv;
  (void)at;
  fputs("rpz-exec: identity emulation is not built for this architecture\n", stderr);
  return 125;
}

#endif
