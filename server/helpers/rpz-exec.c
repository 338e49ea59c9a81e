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
 *
 * Why a program of our own: Docker adds variables (HOSTNAME, PATH) to every exec and has no way
 * to set argv[0] apart from the program path; `env -i` cannot either. The recorded run must see
 * exactly its recorded environment and argv. Built statically so it runs in any package's root.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int usage(void) {
  fputs("usage: rpz-exec --idle | rpz-exec oom-kills | rpz-exec run BINARY N NAME=VALUE... -- ARGV0 [ARG...]\n", stderr);
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

static int run(int argc, char **argv) {
  if (argc < 5) {
    return usage();
  }
  const char *binary = argv[2];
  char *end = NULL;
  long count = strtol(argv[3], &end, 10);
  if (*end != '\0' || count < 0 || 4 + count >= argc || strcmp(argv[4 + count], "--") != 0) {
    return usage();
  }
  char **program_argv = &argv[5 + count];
  if (program_argv[0] == NULL) {
    return usage();
  }
  if (clearenv() != 0) {
    perror("rpz-exec: clearenv");
    return 127;
  }
  for (long i = 0; i < count; i++) {
    if (putenv(argv[4 + i]) != 0) {
      perror("rpz-exec: putenv");
      return 127;
    }
  }
  if (strcmp(binary, "-") == 0) {
    execvp(program_argv[0], program_argv);
  } else {
    execv(binary, program_argv);
  }
  int error = errno;
  fprintf(stderr, "rpz-exec: cannot execute %s: %s\n",
          strcmp(binary, "-") == 0 ? program_argv[0] : binary, strerror(error));
  return error == ENOENT ? 127 : 126;
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
  return usage();
}
