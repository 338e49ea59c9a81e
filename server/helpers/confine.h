/*
 * Confinement without namespaces, applied by rpz-exec right before it executes an experiment's
 * program (so before the program's first instruction): no-new-privileges, Landlock (file access,
 * TCP, signals and abstract unix sockets) and a seccomp filter (sockets other than AF_UNIX,
 * ptrace, keyctl, mounts, namespaces, io_uring, bpf...). See confine.c.
 *
 * Command line (before the program, in `run` and `confine-probe`):
 *   --confine             turn confinement on (without it, the options below are refused)
 *   --read PATH           read and execute beneath PATH (a folder) or PATH (a file)
 *   --write PATH          read, write, create, remove, execute beneath PATH
 * A PATH that does not exist is skipped (e.g. /sys where it is not mounted).
 */
#ifndef RPZ_CONFINE_H
#define RPZ_CONFINE_H

#define CONFINE_MAX_PATHS 32

struct confinement {
  int enabled;
  int read_count;
  int write_count;
  const char *read[CONFINE_MAX_PATHS];
  const char *write[CONFINE_MAX_PATHS];
};

/* What holds after confine_apply. */
struct confine_report {
  int landlock_abi; /* the Landlock ABI whose rights are in force; 0: none */
  int seccomp;      /* 1: the filter is installed */
};

/*
 * Parses the options at argv[*at]... and moves *at past them. Returns 0, or -1 with a message on
 * stderr for a bad option (missing PATH, too many paths, a path option without --confine).
 */
int confine_parse(int argc, char **argv, int *at, struct confinement *confinement);

/*
 * Applies the confinement to this process (and so to everything it executes). Landlock degrades to
 * the kernel's ABI, or to nothing where the kernel has none; no-new-privileges and seccomp must
 * hold. Returns 0, or -1 with a message on stderr.
 */
int confine_apply(const struct confinement *confinement, struct confine_report *report);

#endif
