/*
 * rpz-exec: the one program ReproServer puts inside an experiment's container.
 *
 *   rpz-exec --idle
 *       Waits until it is killed: the container's main process while steps run through exec.
 *   rpz-exec oom-kills
 *       Prints how many processes the kernel's OOM killer has killed in this container's memory
 *       cgroup (v1 memory.oom_control or v2 memory.events), or -1 when it cannot tell. Docker only
 *       flags OOM kills of the container's main process; steps run through exec.
 *   rpz-exec owners PATH...
 *       Prints "UID GID" of each path (lstat), "- -" when it cannot be read: what the engine's
 *       archive API does not say on Podman, which gives every file the container's user.
 *   rpz-exec run [CONFINEMENT] BINARY N NAME=VALUE... -- ARGV0 ARG...
 *       Replaces the whole environment with the N given variables and executes BINARY with
 *       exactly the argv given after "--" (argv[0] included, as ReproZip recorded it). BINARY "-"
 *       means: look ARGV0 up in the new PATH, as a shell would. CONFINEMENT (`--confine`,
 *       `--read PATH`..., `--write PATH`...: confine.h) is applied right before the program is
 *       executed: no-new-privileges, Landlock and a seccomp filter.
 *       With `--ids-socket FD [--no-statx]` first, installs the filter of emulated ids and hands
 *       its listener to `emulate-ids` (identity.h) before anything else.
 *   rpz-exec emulate-ids UID GID COMMON-UID COMMON-GID SINCE-MS OWNERS REPORT-FD -- COMMAND...
 *       Runs COMMAND and answers the id, stat and ownership calls of the experiment it starts
 *       (identity.c), for sandboxes that map a single id.
 *   rpz-exec confine-probe [CONFINEMENT] [--try-tcp PORT] [--try-read PATH]... [--try-pid PID]
 *       Applies CONFINEMENT and reports what holds, from inside (confine-probe.c).
 *   rpz-exec as UID GID run BINARY N NAME=VALUE... -- ARGV0 ARG...
 *       Started as root (of its user namespace): becomes UID:GID as `step` does, then `run`.
 *   rpz-exec step DIR POSITION LIMIT UID GID [--deliver MAX COUNT PATH...] BINARY N NAME=VALUE...
 *                 -- ARGV0 ARG...
 *       Started as root. Claims the step: creates DIR (0700) if needed and DIR/POSITION.started
 *       with O_EXCL, so that a step is never run twice, and says so on stdout (record 7, started;
 *       or 8, already started, and does nothing else). Runs the program as `run` does, as user UID
 *       and group GID (supplementary groups: GID only, as Docker's "uid:gid" does), as a child
 *       whose stdout and stderr are pipes; a non-root UID keeps no capability at all (bounding,
 *       permitted, effective, inheritable, ambient). Appends what the child prints to
 *       DIR/POSITION.log as frames (1 byte: 1 stdout or 2 stderr; 4 bytes: length, big-endian,
 *       1 to 65536; the bytes), keeping at most LIMIT bytes of output and draining the rest, and
 *       copies each frame to stdout as long as that never blocks (when it would, it sends what
 *       it holds of the frame when it can, then record 9, gap: the rest is in the log only, for
 *       `follow` to read from the end of the last frame sent whole). When the child exits, writes
 *       its exit code (128 + N when killed by signal N) and a newline to DIR/POSITION.exit
 *       (atomically, by rename), releases the lock it held on the .started file from the start,
 *       and ends its stdout with record 3 (end) holding the exit code's text. With --deliver, and
 *       when every frame reached stdout, it then sends the COUNT paths' files of at most MAX
 *       bytes on it (deliver.c), so that the server need not ask the engine's archive API.
 *       RPZ_EXEC_NOFILE, RPZ_EXEC_FSIZE, RPZ_EXEC_AS and RPZ_EXEC_NPROC in the helper's own
 *       environment, when given, set those rlimits (soft = hard) on the step before it becomes
 *       UID: engines that drop a container's ulimits, or give it no cgroup (rootless Podman), get
 *       them this way.
 *   rpz-exec follow DIR POSITION OFFSET
 *       Writes to stdout the frames of DIR/POSITION.log from byte OFFSET on, as they come, then
 *       one last record: 3 (end) with the exit code's text once DIR/POSITION.exit exists;
 *       4 (lost) with a sentence when the step's helper is gone without an exit code (nobody holds
 *       the lock any more); 5 (not started) when DIR/POSITION.started does not exist; 6 (bad log)
 *       with a sentence when the log is not made of valid frames. Files are opened without
 *       following links or blocking, and only if they are regular files.
 *   rpz-exec hold [--map-self] [--no-nested-userns] [--overlay LOWER UPPER WORK MERGED]
 *       Run by the server on the host: holds a bubblewrap run's user namespace and, for an
 *       overlay, its mount namespace with the overlay mounted (hold.h).
 *   rpz-exec ids-check
 *       Becomes uid:gid 4242:4242 by raw system calls and says "ids-check ok" when the ids read
 *       back agree: run under `emulate-ids` by the server's probe of identity emulation.
 *
 * Why the steps' files live inside the container: no host folder may be writable from inside a
 * run. A step's process survives the server (it never blocks on its stdout, and goes on when the
 * server is gone); the server reads it live from its stdout and, when that stops (the server was
 * slower than the step, or restarted), through an attached `follow` from the byte it had. The files are root's, mode 0600, in a folder of mode 0700:
 * a non-root step cannot touch them; a root step can, but can only harm its own run, since the
 * server checks everything it reads (record kinds, frame sizes, exit codes).
 *
 * Why a program of our own: Docker adds variables (HOSTNAME, PATH) to every exec and has no way
 * to set argv[0] apart from the program path; `env -i` cannot either. The recorded run must see
 * exactly its recorded environment and argv. Built statically so it runs in any package's root.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <linux/capability.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "confine-probe.h"
#include "confine.h"
#include "identity.h"
#include "hold.h"
#include "deliver.h"
#include "frames.h"
#include "numbers.h"

static int usage(void) {
  fputs("usage: rpz-exec --idle | rpz-exec oom-kills | rpz-exec owners PATH...\n"
        "       rpz-exec emulate-ids UID GID COMMON-UID COMMON-GID SINCE-MS OWNERS REPORT-FD\n"
        "                    -- COMMAND...\n"
        "       rpz-exec run [--ids-socket FD [--no-statx]] [--confine [--read PATH]... [--write PATH]...]\n"
        "                    BINARY N NAME=VALUE... -- ARGV0 [ARG...]\n"
        "       rpz-exec confine-probe [--confine ...] [--try-tcp PORT] [--try-read PATH]...\n"
        "                    [--try-pid PID]\n"
        "       rpz-exec as UID GID run BINARY N NAME=VALUE... -- ARGV0 [ARG...]\n"
        "       rpz-exec step DIR POSITION LIMIT UID GID [--deliver MAX COUNT PATH...]\n"
        "                    BINARY N NAME=VALUE... -- ARGV0 [ARG...]\n"
        "       rpz-exec follow DIR POSITION OFFSET\n"
        "       rpz-exec hold [--map-self] [--no-nested-userns]\n"
        "                    [--overlay LOWER UPPER WORK MERGED]\n"
        "       rpz-exec ids-check\n",
        stderr);
  return 127;
}

static _Noreturn void idle(void) {
  /* Exit promptly on the signals `docker stop` and `docker kill` send. */
  signal(SIGTERM, SIG_DFL);
  signal(SIGINT, SIG_DFL);
  for (;;) {
    pause();
  }
}

/* Reads the number after "oom_kill " in a cgroup file; -1 when absent. */
static long oom_kill_count(const char *path) {
  FILE *file = fopen(path, "r");
  if (file == NULL) {
    return -1;
  }
  char key[64];
  long value;
  long found = -1;
  while (fscanf(file, "%63s %ld", key, &value) == 2) {
    if (strcmp(key, "oom_kill") == 0) {
      found = value;
    }
  }
  fclose(file);
  return found;
}

/* `owners PATH...`: the owner of each path as this container sees it (not following a link), one
 * "UID GID" line each, "- -" when it cannot be read. For engines whose archive API gives every
 * file the container's user instead of its owner (Podman copies out as `podman cp` does). */
static int owners(int argc, char **argv) {
  for (int i = 2; i < argc; i++) {
    struct stat info;
    if (lstat(argv[i], &info) == 0) {
      printf("%lu %lu\n", (unsigned long)info.st_uid, (unsigned long)info.st_gid);
    } else {
      fputs("- -\n", stdout);
    }
  }
  return fflush(stdout) == 0 ? 0 : 1;
}

static int oom_kills(void) {
  long count = oom_kill_count("/sys/fs/cgroup/memory/memory.oom_control");
  if (count < 0) {
    count = oom_kill_count("/sys/fs/cgroup/memory.events");
  }
  printf("%ld\n", count);
  return 0;
}

/* The program of `run` and `step`: BINARY N NAME=VALUE... -- ARGV0 ARG..., from argv[at]. */
struct program {
  const char *binary;
  char **environ;
  long environ_count;
  char **argv;
};

static int parse_program(int argc, char **argv, int at, struct program *program) {
  if (argc < at + 4) {
    return -1;
  }
  char *end = NULL;
  long count = strtol(argv[at + 1], &end, 10);
  if (*end != '\0' || count < 0 || at + 2 + count >= argc ||
      strcmp(argv[at + 2 + count], "--") != 0 || argv[at + 3 + count] == NULL) {
    return -1;
  }
  program->binary = argv[at];
  program->environ_count = count;
  program->environ = &argv[at + 2];
  program->argv = &argv[at + 3 + count];
  return 0;
}

/*
 * Replaces the environment, confines this process (`confinement` may be NULL: not at all), and
 * executes the program; returns only on failure, with the code.
 */
static int exec_program(const struct program *program, const struct confinement *confinement) {
  struct confine_report report;
  if (confinement != NULL && confine_apply(confinement, &report) != 0) {
    return 127;
  }
  if (clearenv() != 0) {
    perror("rpz-exec: clearenv");
    return 127;
  }
  for (long i = 0; i < program->environ_count; i++) {
    if (putenv(program->environ[i]) != 0) {
      perror("rpz-exec: putenv");
      return 127;
    }
  }
  int search = strcmp(program->binary, "-") == 0;
  if (search) {
    execvp(program->argv[0], program->argv);
  } else {
    execv(program->binary, program->argv);
  }
  int error = errno;
  fprintf(stderr, "rpz-exec: cannot execute %s: %s\n",
          search ? program->argv[0] : program->binary, strerror(error));
  return error == ENOENT ? 127 : 126;
}

static int run(int argc, char **argv) {
  struct program program;
  struct confinement confinement;
  int at = 2, ids_socket, no_statx;
  if (identity_parse(argc, argv, &at, &ids_socket, &no_statx) != 0 ||
      confine_parse(argc, argv, &at, &confinement) != 0 ||
      parse_program(argc, argv, at, &program) != 0) {
    return usage();
  }
  /* Emulated ids (identity.c): the listener's filter goes first, the confinement's after it. */
  if (ids_socket >= 0 && identity_install(ids_socket, no_statx) != 0) {
    return 127;
  }
  return exec_program(&program, &confinement);
}

static int record(int kind, const char *text);

/* Whether `step` still copies its frames to its stdout (the server, live). */
static int forwarding;

/* What stdout could not take at once (the rest of a frame, then a gap record), while `stalled`.
 * Frames logged meanwhile are not forwarded: after the gap, the server reads the log through
 * `follow`, from the end of the last frame it got. */
static char unsent[FRAME_HEADER + FRAME_DATA + FRAME_HEADER];
static size_t unsent_bytes, unsent_at;
static int stalled;

static void stop_forwarding(void) {
  forwarding = 0;
  stalled = 0;
  int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
  if (null >= 0) {
    dup2(null, STDOUT_FILENO);
    close(null);
  }
}

/* Copies a frame to stdout (non-blocking): the step never waits for the server. */
static void forward(const char *data, size_t size) {
  if (!forwarding || stalled) {
    return;
  }
  ssize_t written;
  do {
    written = write(STDOUT_FILENO, data, size);
  } while (written < 0 && errno == EINTR);
  if (written == (ssize_t)size) {
    return;
  }
  if (written < 0 && errno != EAGAIN) {
    stop_forwarding(); /* the server is gone */
    return;
  }
  size_t sent = written < 0 ? 0 : (size_t)written;
  memcpy(unsent, data + sent, size - sent);
  put_header(unsent + size - sent, GAP, 0);
  unsent_bytes = size - sent + FRAME_HEADER;
  unsent_at = 0;
  stalled = 1;
}

/* Stdout can take more while stalled: sends the rest; once the gap record is out, stops. */
static void flush_unsent(void) {
  ssize_t written = write(STDOUT_FILENO, unsent + unsent_at, unsent_bytes - unsent_at);
  if (written < 0) {
    if (errno != EAGAIN && errno != EINTR) {
      stop_forwarding();
    }
    return;
  }
  unsent_at += (size_t)written;
  if (unsent_at == unsent_bytes) {
    stop_forwarding();
  }
}

/* "N.kind" in the steps' folder. */
static void step_file(char *name, size_t size, unsigned long long position, const char *kind) {
  snprintf(name, size, "%llu.%s", position, kind);
}

/* Output kept so far, and the most that may be kept. */
static unsigned long long kept_bytes;
static unsigned long long limit_bytes;

/* Reads what one pipe has and appends it to the log as one frame. 0 at end of file. */
static ssize_t pump(int pipe_fd, int stream, int log_fd) {
  static char frame[FRAME_HEADER + FRAME_DATA];
  ssize_t got;
  do {
    got = read(pipe_fd, frame + FRAME_HEADER, FRAME_DATA);
  } while (got < 0 && errno == EINTR);
  if (got <= 0) {
    return got;
  }
  unsigned long long room = limit_bytes - kept_bytes;
  uint32_t size = (unsigned long long)got < room ? (uint32_t)got : (uint32_t)room;
  if (size > 0) {
    put_header(frame, stream, size);
    if (write_all(log_fd, frame, FRAME_HEADER + size) != 0) {
      limit_bytes = kept_bytes; /* keep draining, so the program never blocks on a full pipe */
    } else {
      kept_bytes += size;
      forward(frame, FRAME_HEADER + size);
    }
  }
  return got;
}

/* Empties every capability set for good: what a non-root step keeps. Needs CAP_SETPCAP. */
static int drop_all_capabilities(void) {
  for (int cap = 0; cap <= 63; cap++) {
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL) {
      return -1;
    }
  }
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) {
    return -1;
  }
  return 0;
}

static int clear_capability_sets(void) {
  struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[2];
  memset(data, 0, sizeof data);
  return (int)syscall(SYS_capset, &header, data);
}

/* In the child: becomes the step's user, with no capability left unless it is root. */
static int become(uid_t uid, gid_t gid) {
  if (getuid() != 0 && uid == getuid() && gid == getgid()) {
    return 0; /* not root, and already the step's user: nothing to change (tests on a host) */
  }
  if (setgroups(1, &gid) != 0 || setgid(gid) != 0) {
    perror("rpz-exec: setting the step's group");
    return -1;
  }
  if (uid != 0 && drop_all_capabilities() != 0) {
    perror("rpz-exec: dropping capabilities");
    return -1;
  }
  if (setuid(uid) != 0) {
    perror("rpz-exec: setting the step's user");
    return -1;
  }
  if (uid != 0 && clear_capability_sets() != 0) {
    perror("rpz-exec: clearing capabilities");
    return -1;
  }
  return 0;
}

/* The steps' folder, made if needed (0700, root's), opened without following a link. */
static int open_steps_dir(const char *path, int create) {
  if (create && mkdir(path, 0700) != 0 && errno != EEXIST) {
    return -1;
  }
  return open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

/* A limit the server gives in the helper's own environment (NAME=number: soft and hard alike),
 * set on the step's process before it becomes its user, so that it cannot raise it again. For
 * engines that do not apply a container's ulimits to its execs: Podman's Docker-compatible API
 * ignores them in rootless mode (before Podman 5.5). On Docker the container has them already
 * and no such variable is given. The step never sees these variables: its environment is the one
 * in its argv. */
static int limit_from_environment(const char *name, int resource) {
  const char *text = getenv(name);
  unsigned long long value;
  if (text == NULL) {
    return 0;
  }
  if (parse_number(text, ~0ULL >> 1, &value) != 0) {
    errno = EINVAL;
    return -1;
  }
  struct rlimit limit = {(rlim_t)value, (rlim_t)value};
  return setrlimit(resource, &limit);
}

static int step(int argc, char **argv) {
  struct program program;
  struct delivery delivery;
  unsigned long long position, uid, gid;
  int at = 7;
  if (argc < 9 || deliver_parse(argc, argv, &at, &delivery) != 0 ||
      parse_program(argc, argv, at, &program) != 0 ||
      parse_number(argv[3], 1000000, &position) != 0 ||
      parse_number(argv[4], ~0ULL, &limit_bytes) != 0 ||
      parse_number(argv[5], 0xfffffffeULL, &uid) != 0 ||
      parse_number(argv[6], 0xfffffffeULL, &gid) != 0) {
    return usage();
  }
  /* The server may be gone by the time we say whether we started. */
  signal(SIGPIPE, SIG_IGN);
  char name[64];
  int dir = open_steps_dir(argv[2], 1);
  if (dir < 0) {
    perror("rpz-exec: opening the steps' folder");
    return 127;
  }
  step_file(name, sizeof name, position, "started");
  int marker = openat(dir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (marker < 0 && errno == EEXIST) {
    return record(ALREADY_STARTED, "");
  }
  if (marker < 0 || flock(marker, LOCK_EX) != 0) {
    perror("rpz-exec: claiming the step");
    return 127;
  }
  step_file(name, sizeof name, position, "log");
  int log_fd = openat(dir, name, O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                      0600);
  if (log_fd < 0) {
    perror("rpz-exec: creating the step's log");
    return 127;
  }
  int out[2], err[2];
  if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) {
    perror("rpz-exec: pipe");
    return 127;
  }
  /* From here on the step goes on alone: what goes wrong is said in its log. Its frames are also
   * copied to stdout, never blocking (see `forward`), for the server to read live. */
  forwarding = 1;
  if (record(STARTED, "") != 0 ||
      fcntl(STDOUT_FILENO, F_SETFL, fcntl(STDOUT_FILENO, F_GETFL) | O_NONBLOCK) != 0) {
    stop_forwarding();
  }
  int null = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null >= 0) {
    dup2(null, STDIN_FILENO);
    dup2(null, STDERR_FILENO);
  } else {
    close(STDERR_FILENO);
  }
  pid_t child = fork();
  if (child < 0) {
    return 127;
  }
  if (child == 0) {
    if (dup2(out[1], STDOUT_FILENO) < 0 || dup2(err[1], STDERR_FILENO) < 0) {
      _exit(127);
    }
    signal(SIGPIPE, SIG_DFL);
    if (limit_from_environment("RPZ_EXEC_NOFILE", RLIMIT_NOFILE) != 0 ||
        limit_from_environment("RPZ_EXEC_FSIZE", RLIMIT_FSIZE) != 0 ||
        limit_from_environment("RPZ_EXEC_AS", RLIMIT_AS) != 0 ||
        limit_from_environment("RPZ_EXEC_NPROC", RLIMIT_NPROC) != 0) {
      perror("rpz-exec: setting the step's limits");
      _exit(127);
    }
    if (become((uid_t)uid, (gid_t)gid) != 0) {
      _exit(127);
    }
    _exit(exec_program(&program, NULL));
  }
  close(out[1]);
  close(err[1]);

  /* Until both pipes end. Processes the step left in the background may keep them open: once
   * the step's own process has exited, what is already in the pipes is taken, then we stop. */
  struct pollfd pipes[3] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}, {-1, POLLOUT, 0}};
  int open_pipes = 2;
  int status = 0;
  int exited = 0;
  while (open_pipes > 0) {
    pipes[2].fd = stalled ? STDOUT_FILENO : -1;
    int ready = poll(pipes, 3, exited ? 0 : 200);
    if (ready < 0 && errno != EINTR) {
      break;
    }
    if (ready <= 0) {
      if (exited) {
        break;
      }
      exited = waitpid(child, &status, WNOHANG) == child;
      continue;
    }
    if (pipes[2].fd >= 0 && pipes[2].revents != 0) {
      if (pipes[2].revents & POLLOUT) {
        flush_unsent();
      } else {
        stop_forwarding();
      }
    }
    for (int i = 0; i < 2 && ready > 0; i++) {
      if (pipes[i].fd >= 0 && pipes[i].revents != 0) {
        if (pump(pipes[i].fd, i + 1, log_fd) <= 0) {
          close(pipes[i].fd);
          pipes[i].fd = -1;
          open_pipes--;
        }
      }
    }
  }
  if (!exited && waitpid(child, &status, 0) != child) {
    return 127;
  }
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  char text[16];
  int length = snprintf(text, sizeof text, "%d\n", code);
  char temporary[64];
  step_file(temporary, sizeof temporary, position, "exit.tmp");
  step_file(name, sizeof name, position, "exit");
  unlinkat(dir, temporary, 0);
  int exit_fd =
      openat(dir, temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (exit_fd < 0 || write_all(exit_fd, text, (size_t)length) != 0 || close(exit_fd) != 0 ||
      renameat(dir, temporary, dir, name) != 0) {
    return 127;
  }
  close(marker); /* releases the lock: the follower knows we are done */
  if (forwarding && !stalled) {
    char header[FRAME_HEADER];
    put_header(header, END, (uint32_t)length);
    memcpy(temporary, header, FRAME_HEADER);
    memcpy(temporary + FRAME_HEADER, text, (size_t)length);
    forward(temporary, FRAME_HEADER + (size_t)length);
  }
  /* The step is over: the server may take its time, so from here writes block. */
  int flags = fcntl(STDOUT_FILENO, F_GETFL);
  if (delivery.count > 0 && forwarding && !stalled && flags >= 0 &&
      fcntl(STDOUT_FILENO, F_SETFL, flags & ~O_NONBLOCK) == 0) {
    deliver_outputs(STDOUT_FILENO, &delivery);
  }
  return code;
}

/* Writes one record of the follower's own (end, lost, ...) and returns the follower's status. */
static int record(int kind, const char *text) {
  char header[FRAME_HEADER];
  size_t size = strlen(text);
  put_header(header, kind, (uint32_t)size);
  if (write_all(STDOUT_FILENO, header, FRAME_HEADER) != 0 ||
      write_all(STDOUT_FILENO, text, size) != 0) {
    return 1;
  }
  return 0;
}

/* Opens a file of the steps' folder for reading, only if it is a regular file. -1 with errno. */
static int open_regular(int dir, const char *name) {
  int fd = openat(dir, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  struct stat info;
  if (fd >= 0 && (fstat(fd, &info) != 0 || !S_ISREG(info.st_mode))) {
    close(fd);
    errno = EINVAL;
    return -1;
  }
  return fd;
}

/* The exit file's text (at most 15 bytes), or "" while it does not exist. */
static int read_exit(int dir, unsigned long long position, char *text, size_t size) {
  char name[64];
  step_file(name, sizeof name, position, "exit");
  text[0] = '\0';
  int fd = open_regular(dir, name);
  if (fd < 0) {
    return errno == ENOENT ? 0 : -1;
  }
  ssize_t got = pread(fd, text, size - 1, 0);
  close(fd);
  if (got < 0) {
    return -1;
  }
  text[got] = '\0';
  return got > 0 ? 1 : 0;
}

/* Copies the complete frames of the log from *offset on to stdout; -1 when the log is bad. */
static int copy_frames(int log_fd, unsigned long long *offset) {
  static char buffer[FRAME_HEADER + FRAME_DATA];
  for (;;) {
    struct stat info;
    if (fstat(log_fd, &info) != 0) {
      return -1;
    }
    unsigned long long size = (unsigned long long)info.st_size;
    if (size < *offset + FRAME_HEADER) {
      return 0;
    }
    if (pread(log_fd, buffer, FRAME_HEADER, (off_t)*offset) != FRAME_HEADER) {
      return -1;
    }
    uint32_t length = ((uint32_t)(unsigned char)buffer[1] << 24) |
                      ((uint32_t)(unsigned char)buffer[2] << 16) |
                      ((uint32_t)(unsigned char)buffer[3] << 8) | (unsigned char)buffer[4];
    if ((buffer[0] != OUT && buffer[0] != ERR) || length > FRAME_DATA) {
      return -1;
    }
    if (size < *offset + FRAME_HEADER + length) {
      return 0;
    }
    if (pread(log_fd, buffer + FRAME_HEADER, length, (off_t)(*offset + FRAME_HEADER)) !=
            (ssize_t)length ||
        write_all(STDOUT_FILENO, buffer, FRAME_HEADER + length) != 0) {
      return -1;
    }
    *offset += FRAME_HEADER + length;
  }
}

static int follow(int argc, char **argv) {
  unsigned long long position, offset;
  if (argc != 5 || parse_number(argv[3], 1000000, &position) != 0 ||
      parse_number(argv[4], ~0ULL >> 2, &offset) != 0) {
    return usage();
  }
  char name[64];
  int dir = open_steps_dir(argv[2], 0);
  step_file(name, sizeof name, position, "started");
  int marker = dir < 0 ? -1 : open_regular(dir, name);
  if (marker < 0) {
    return errno == ENOENT ? record(NOT_STARTED, "")
                           : record(LOST, "its files in the container are damaged");
  }
  step_file(name, sizeof name, position, "log");
  int log_fd = open_regular(dir, name);
  if (log_fd < 0) {
    return record(LOST, "its log in the container is damaged");
  }
  /* Woken when something in the folder changes; a timeout covers what inotify misses. */
  int changes = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (changes >= 0) {
    inotify_add_watch(changes, argv[2], IN_MODIFY | IN_MOVED_TO | IN_CREATE | IN_CLOSE_WRITE);
  }
  char exit_text[16];
  for (;;) {
    int ended = read_exit(dir, position, exit_text, sizeof exit_text);
    /* The exit file is written after the log's last frame: read on until the end. */
    if (copy_frames(log_fd, &offset) != 0) {
      return record(BAD_LOG, "its log is not made of frames of at most 64 KiB");
    }
    if (ended != 0) {
      return ended > 0 ? record(END, exit_text) : record(LOST, "its exit file is damaged");
    }
    if (flock(marker, LOCK_SH | LOCK_NB) == 0) {
      /* Nobody holds the step's lock: its helper is gone. It may have ended just now. */
      ended = read_exit(dir, position, exit_text, sizeof exit_text);
      if (copy_frames(log_fd, &offset) != 0) {
        return record(BAD_LOG, "its log is not made of frames of at most 64 KiB");
      }
      return ended > 0 ? record(END, exit_text)
                       : record(LOST, "its helper was killed before the step ended");
    }
    struct pollfd wait = {changes, POLLIN, 0};
    if (changes >= 0 && poll(&wait, 1, 500) > 0) {
      char events[4096];
      while (read(changes, events, sizeof events) > 0) {
      }
    } else if (changes < 0) {
      usleep(100000);
    }
  }
}

/*
 * `as UID GID run ...`: becomes UID:GID (as `step` does: supplementary groups GID only, no
 * capability left unless root), then `run`. For sandboxes whose own tool cannot switch to a
 * user of a mapped range (bubblewrap 0.8 joining a user namespace sets the uid before the gid).
 */
static int run_as(int argc, char **argv) {
  unsigned long long uid, gid;
  if (parse_number(argv[2], 0xfffffffeULL, &uid) != 0 ||
      parse_number(argv[3], 0xfffffffeULL, &gid) != 0) {
    return usage();
  }
  if (become((uid_t)uid, (gid_t)gid) != 0) {
    return 127;
  }
  if (uid == 0) {
    /* A root step's bounding set is what it holds (the sandbox's short list), no more. */
    struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2];
    if (syscall(SYS_capget, &header, data) != 0) {
      perror("rpz-exec: reading capabilities");
      return 127;
    }
    for (int cap = 0; cap <= 63; cap++) {
      int held = (data[cap / 32].permitted & (1U << (cap % 32))) != 0;
      if (!held && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL) {
        perror("rpz-exec: limiting capabilities");
        return 127;
      }
    }
  }
  return run(argc - 3, argv + 3);
}

/*
 * `ids-check`: what the server's probe runs under `emulate-ids` (as a step would run): becomes
 * uid:gid 4242:4242 by raw system calls, as a static program does, and says whether the ids it
 * then reads back agree. Under the supervisor this works for any user; without it, only for root.
 */
static int ids_check(void) {
  const long id = 4242;
  if (syscall(SYS_setgroups, 0, NULL) != 0 || syscall(SYS_setresgid, id, id, id) != 0 ||
      syscall(SYS_setresuid, id, id, id) != 0) {
    printf("ids-check refused %s\n", strerror(errno));
    return 1;
  }
  long uid = syscall(SYS_getuid), euid = syscall(SYS_geteuid), gid = syscall(SYS_getgid);
  if (uid != id || euid != id || gid != id) {
    printf("ids-check inconsistent uid=%ld euid=%ld gid=%ld\n", uid, euid, gid);
    return 1;
  }
  printf("ids-check ok\n");
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 2 && strcmp(argv[1], "--idle") == 0) {
    idle();
  }
  if (argc == 2 && strcmp(argv[1], "oom-kills") == 0) {
    return oom_kills();
  }
  if (argc >= 2 && strcmp(argv[1], "owners") == 0) {
    return owners(argc, argv);
  }
  if (argc >= 2 && strcmp(argv[1], "run") == 0) {
    return run(argc, argv);
  }
  if (argc >= 2 && strcmp(argv[1], "confine-probe") == 0) {
    return confine_probe(argc, argv, 2);
  }
  if (argc >= 2 && strcmp(argv[1], "step") == 0) {
    return step(argc, argv);
  }
  if (argc >= 5 && strcmp(argv[1], "as") == 0 && strcmp(argv[4], "run") == 0) {
    return run_as(argc, argv);
  }
  if (argc >= 2 && strcmp(argv[1], "emulate-ids") == 0) {
    return identity_supervise(argc, argv, 2);
  }
  if (argc >= 2 && strcmp(argv[1], "hold") == 0) {
    return hold(argc, argv, 2);
  }
  if (argc == 2 && strcmp(argv[1], "ids-check") == 0) {
    return ids_check();
  }
  if (argc >= 2 && strcmp(argv[1], "follow") == 0) {
    return follow(argc, argv);
  }
  return usage();
}
