/*
 * userns-refused: runs a command where new namespaces are refused, as in a container started with
 * Docker's default seccomp profile (so likely on mybinder.org), for scripts/binder-check.sh.
 *
 *   userns-refused COMMAND [ARG...]   installs the filter, then execs COMMAND (found in PATH)
 *   userns-refused --probe            installs the filter, then checks that it refuses what it
 *                                     should and allows a plain fork; exits 1 if not
 *
 * What Docker's profile does to a process without CAP_SYS_ADMIN in the container (moby
 * profiles/seccomp/default.json), and what this filter does, for every process the command starts:
 *   unshare, setns                     -> EPERM  (not in the allow list without CAP_SYS_ADMIN)
 *   clone with any CLONE_NEW* flag     -> EPERM  (allowed only when flags & 0x7E020000 == 0)
 *   clone3                             -> ENOSYS (so that libc falls back to clone, which is
 *                                                 checked; clone3's flags are in memory, out of
 *                                                 a filter's reach)
 * Everything else is allowed: the other refusals of Docker's profile (mount, bpf, keyctl, ...)
 * need privileges that a non-root Binder user does not have anyway. A system call of another
 * ABI than this program's (32-bit x86, x32) gets ENOSYS, so it cannot go around the checks.
 *
 * The filter is installed without no_new_privs when this process may (root, as Docker installs
 * its profile before dropping privileges, so set-user-id programs behave as on Binder); without
 * that privilege it sets no_new_privs first, as the kernel requires. Filters are inherited across
 * fork and execve and cannot be removed: the command and all it starts stay under it.
 *
 * Static, no dependencies: `cc -static -O2 -Wall -Werror -o userns-refused userns-refused.c`.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__x86_64__)
#define NATIVE_ARCH AUDIT_ARCH_X86_64
#define X32_SYSCALL_BIT 0x40000000
#elif defined(__aarch64__)
#define NATIVE_ARCH AUDIT_ARCH_AARCH64
#else
#error "userns-refused knows the system call ABI of x86_64 and aarch64 only"
#endif

#ifndef __NR_clone3
#define __NR_clone3 435
#endif

/* CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID |
 * CLONE_NEWNET: Docker's mask, 2114060288. */
#define NAMESPACE_FLAGS 0x7E020000u

#define RET_ERRNO(e) BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ((e) & SECCOMP_RET_DATA))
#define LOAD(field) BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, field))

/* clone's flags are its first argument on both ABIs; the namespace flags are in its low 32 bits,
 * which on these little-endian machines come first in args[0]. */
static struct sock_filter program[] = {
    LOAD(arch),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NATIVE_ARCH, 1, 0),
    RET_ERRNO(ENOSYS),
    LOAD(nr),
#ifdef X32_SYSCALL_BIT
    BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, X32_SYSCALL_BIT, 0, 1),
    RET_ERRNO(ENOSYS),
#endif
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clone3, 0, 1),
    RET_ERRNO(ENOSYS),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_unshare, 0, 1),
    RET_ERRNO(EPERM),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_setns, 0, 1),
    RET_ERRNO(EPERM),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clone, 1, 0),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])),
    BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, NAMESPACE_FLAGS, 0, 1),
    RET_ERRNO(EPERM),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
};

static int install_filter(void) {
  struct sock_fprog fprog = {
      .len = (unsigned short)(sizeof program / sizeof program[0]),
      .filter = program,
  };
  if (syscall(__NR_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fprog) == 0) {
    return 0;
  }
  if (errno != EACCES) {
    perror("userns-refused: seccomp");
    return -1;
  }
  /* Not privileged: the kernel wants no_new_privs first. */
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    perror("userns-refused: prctl(PR_SET_NO_NEW_PRIVS)");
    return -1;
  }
  if (syscall(__NR_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fprog) != 0) {
    perror("userns-refused: seccomp");
    return -1;
  }
  return 0;
}

/* One expectation of --probe: the call's result, its errno, and whether that is what Binder
 * gives. */
static int expect_errno(const char *what, long result, int wanted) {
  int got = result == -1 ? errno : 0;
  int ok = result == -1 && got == wanted;
  printf("%s %s: %s (want %s)\n", ok ? "ok" : "WRONG", what,
         result == -1 ? strerror(got) : "succeeded", strerror(wanted));
  return ok;
}

/* A raw clone, as bubblewrap does it: the child exits at once if it was ever created. */
static long raw_clone(unsigned long flags) {
  long pid = syscall(__NR_clone, flags | SIGCHLD, NULL, NULL, NULL, NULL);
  if (pid == 0) {
    _exit(0);
  }
  if (pid > 0) {
    waitpid((pid_t)pid, NULL, 0);
  }
  return pid;
}

static int probe(void) {
  int ok = 1;
  ok &= expect_errno("unshare(CLONE_NEWUSER)", unshare(CLONE_NEWUSER), EPERM);
  ok &= expect_errno("unshare(CLONE_NEWNS)", unshare(CLONE_NEWNS), EPERM);
  ok &= expect_errno("setns", syscall(__NR_setns, 0, 0), EPERM);
  ok &= expect_errno("clone(CLONE_NEWUSER)", raw_clone(CLONE_NEWUSER), EPERM);
  ok &= expect_errno("clone(CLONE_NEWPID)", raw_clone(CLONE_NEWPID), EPERM);
  ok &= expect_errno("clone3", syscall(__NR_clone3, NULL, 0), ENOSYS);
  long plain = raw_clone(0);
  printf("%s clone without namespace flags: %s\n", plain > 0 ? "ok" : "WRONG",
         plain > 0 ? "succeeded" : strerror(errno));
  ok &= plain > 0;
  return ok ? 0 : 1;
}

int main(int argc, char **argv) {
  if (argc < 2 || strcmp(argv[1], "--help") == 0) {
    fprintf(stderr, "usage: userns-refused COMMAND [ARG...] | --probe\n");
    return 2;
  }
  if (install_filter() != 0) {
    return 125;
  }
  if (strcmp(argv[1], "--probe") == 0) {
    return probe();
  }
  execvp(argv[1], argv + 1);
  fprintf(stderr, "userns-refused: cannot run %s: %s\n", argv[1], strerror(errno));
  return 127;
}
