/*
 * rpz-exec: the one program ReproServer puts inside an experiment's container.
 *
 *   rpz-exec --idle
 *       Waits until it is killed: the container's main process while steps run through exec.
 *   rpz-exec oom-kills
 *       Prints how many processes the kernel's OOM killer has killed in this container's memory
 *       cgroup (v1 memory.oom_control or v2 memory.events), or -1 when it cannot tell. Docker only
 *       flags OOM kills of the container's main process; steps run through exec.
 *   rpz-exec run BINARY N NAME=VALUE... -- ARGV0 ARG...
 *       Replaces the whole environment with the N given variables and executes BINARY with
 *       exactly the argv given after "--" (argv[0] included, as ReproZip recorded it). BINARY "-"
 *       means: look ARGV0 up in the new PATH, as a shell would.
 *   rpz-exec step LOG EXIT LIMIT BINARY N NAME=VALUE... -- ARGV0 ARG...
 *       Runs the program as `run` does, as a child whose stdout and stderr are pipes, and appends
 *       what it prints to the file LOG as frames (1 byte: 1 stdout or 2 stderr; 4 bytes: length,
 *       big-endian; the bytes), keeping at most LIMIT bytes of output and draining the rest. When
 *       the child exits, writes its exit code (128 + N when killed by signal N) and a newline to
 *       the file EXIT. LOG and EXIT must exist (the server creates them).
 *
 * Why `step` writes files: the server starts a step as a detached exec, so the step survives the
 * server stopping (an attached exec is killed when its client goes), and reads the step's output
 * and exit code from those files, which live on the host. A restarted server reads them again
 * from the start, and goes on following the step where its predecessor stopped.
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
#include <sys/wait.h>
#include <unistd.h>

static int usage(void) {
  fputs("usage: rpz-exec --idle | rpz-exec oom-kills\n"
        "       rpz-exec run BINARY N NAME=VALUE... -- ARGV0 [ARG...]\n"
        "       rpz-exec step LOG EXIT LIMIT BINARY N NAME=VALUE... -- ARGV0 [ARG...]\n",
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

/* Replaces the environment and executes the program; returns only on failure, with the code. */
static int exec_program(const struct program *program) {
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
  if (parse_program(argc, argv, 2, &program) != 0) {
    return usage();
  }
  return exec_program(&program);
}

static int write_all(int fd, const char *data, size_t size) {
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

#define FRAME_HEADER 5
#define FRAME_DATA 65536

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
    frame[0] = (char)stream;
    frame[1] = (char)(size >> 24);
    frame[2] = (char)(size >> 16);
    frame[3] = (char)(size >> 8);
    frame[4] = (char)size;
    if (write_all(log_fd, frame, FRAME_HEADER + size) != 0) {
      perror("rpz-exec: writing the step's log");
      limit_bytes = kept_bytes; /* keep draining, so the program never blocks on a full pipe */
    } else {
      kept_bytes += size;
    }
  }
  return got;
}

static int step(int argc, char **argv) {
  struct program program;
  char *end = NULL;
  if (argc < 6 || parse_program(argc, argv, 5, &program) != 0) {
    return usage();
  }
  limit_bytes = strtoull(argv[4], &end, 10);
  if (*end != '\0') {
    return usage();
  }
  /* O_NOFOLLOW: the folder is shared with the step's processes, which must not redirect us. */
  int log_fd = open(argv[2], O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC);
  int exit_fd = open(argv[3], O_WRONLY | O_TRUNC | O_NOFOLLOW | O_CLOEXEC);
  if (log_fd < 0 || exit_fd < 0) {
    perror("rpz-exec: opening the step's log and exit files");
    return 127;
  }
  int out[2], err[2];
  if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) {
    perror("rpz-exec: pipe");
    return 127;
  }
  pid_t child = fork();
  if (child < 0) {
    perror("rpz-exec: fork");
    return 127;
  }
  if (child == 0) {
    if (dup2(out[1], STDOUT_FILENO) < 0 || dup2(err[1], STDERR_FILENO) < 0) {
      _exit(127);
    }
    _exit(exec_program(&program));
  }
  close(out[1]);
  close(err[1]);

  /* Until both pipes end. Processes the step left in the background may keep them open: once
   * the step's own process has exited, what is already in the pipes is taken, then we stop. */
  struct pollfd pipes[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  int open_pipes = 2;
  int status = 0;
  int exited = 0;
  while (open_pipes > 0) {
    int ready = poll(pipes, 2, exited ? 0 : 200);
    if (ready < 0 && errno != EINTR) {
      perror("rpz-exec: poll");
      break;
    }
    if (ready == 0) {
      if (exited) {
        break;
      }
      exited = waitpid(child, &status, WNOHANG) == child;
      continue;
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
    perror("rpz-exec: waitpid");
    return 127;
  }
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  char text[16];
  int length = snprintf(text, sizeof text, "%d\n", code);
  if (write_all(exit_fd, text, (size_t)length) != 0) {
    perror("rpz-exec: writing the step's exit code");
    return 127;
  }
  return code;
}

int main(int argc, char **argv) {
  if (argc == 2 && strcmp(argv[1], "--idle") == 0) {
    idle();
  }
  if (argc == 2 && strcmp(argv[1], "oom-kills") == 0) {
    return oom_kills();
  }
  if (argc >= 2 && strcmp(argv[1], "run") == 0) {
    return run(argc, argv);
  }
  if (argc >= 2 && strcmp(argv[1], "step") == 0) {
    return step(argc, argv);
  }
  return usage();
}
