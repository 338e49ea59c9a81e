/*
 * The seccomp filter of a confined experiment: what Landlock does not cover.
 *
 * - Only the native ABI: a 32-bit (i386) or x32 system call, whose numbers would mean something
 *   else to the checks below, kills the process. Negative numbers pass: they are how a tracer
 *   (proot) cancels a system call, and the kernel runs the filter again on what the tracer left.
 * - socket() and socketpair() only for AF_UNIX (no UDP, TCP, raw, netlink, vsock...): EACCES.
 * - No ptrace (proot, the tracer, is outside and unaffected), no process_vm_readv/writev, no
 *   keyring, no mounts, no new namespaces (unshare, setns, clone with a CLONE_NEW* flag), no
 *   bpf, perf_event_open, io_uring (its operations never pass through this filter), kexec,
 *   modules, reboot, swap, acct, quotas, userfaultfd, open_by_handle_at, pidfd_getfd: EPERM.
 * - ENOSYS, so that the C library falls back to an older call whose arguments are visible here or
 *   to proot, which translates the paths of the calls it knows: clone3 (its flags are in memory),
 *   openat2, faccessat2, execveat, and every call newer than Linux 6.1 (number above 449):
 *   programs meet that answer on older kernels anyway.
 * Refusals are errors the experiment can print, not kills.
 */
#define _GNU_SOURCE
#include "syscall-filter.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/sched.h>
#include <linux/seccomp.h>

#if defined(__x86_64__)
#define NATIVE_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define NATIVE_ARCH AUDIT_ARCH_AARCH64
#else
#error "rpz-exec's syscall filter knows x86_64 and aarch64 only"
#endif

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#ifndef SECCOMP_RET_KILL_PROCESS
#define SECCOMP_RET_KILL_PROCESS 0x80000000U
#endif

/* The namespace flags of clone() (CLONE_NEWTIME's bit is the exit signal's there). */
#define CLONE_NEW_FLAGS                                                                      \
  (CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER |            \
   CLONE_NEWPID | CLONE_NEWNET)

/* The last system call of Linux 6.1 (futex_waitv); numbers above are answered ENOSYS. */
#define LAST_KNOWN_SYSCALL 449

#define MAX_INSTRUCTIONS 256

struct program {
  struct sock_filter code[MAX_INSTRUCTIONS];
  unsigned short length;
  int overflow;
};

static void emit(struct program *program, struct sock_filter instruction) {
  if (program->length >= MAX_INSTRUCTIONS) {
    program->overflow = 1;
    return;
  }
  program->code[program->length++] = instruction;
}

#define STMT(code, k) ((struct sock_filter)BPF_STMT((code), (k)))
#define JUMP(code, k, jt, jf) ((struct sock_filter)BPF_JUMP((code), (k), (jt), (jf)))
#define LOAD_NR STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr))
/* The low 32 bits of an argument: those the kernel reads of an int or of clone's flags. */
#define LOAD_ARG(n) STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[n]))
#define RETURN(action) STMT(BPF_RET | BPF_K, (action))
#define ALLOW RETURN(SECCOMP_RET_ALLOW)
#define FAIL(error) RETURN(SECCOMP_RET_ERRNO | ((error) & SECCOMP_RET_DATA))

/* System call `nr` answers `error`. Expects the number in the accumulator; leaves it there. */
static void refuse(struct program *program, long nr, int error) {
  emit(program, JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)nr, 0, 1));
  emit(program, FAIL(error));
}

/* System call `nr` answers `error` when its first argument has one of `flags`, else is allowed.
 * Expects the number in the accumulator; leaves it there when the call is another one. */
static void refuse_flags(struct program *program, long nr, unsigned flags, int error) {
  emit(program, JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)nr, 0, 4));
  emit(program, LOAD_ARG(0));
  emit(program, JUMP(BPF_JMP | BPF_JSET | BPF_K, flags, 0, 1));
  emit(program, FAIL(error));
  emit(program, ALLOW);
}

/* socket() or socketpair() answers `error` unless its domain is AF_UNIX. Like refuse_flags. */
static void unix_only(struct program *program, long nr, int error) {
  emit(program, JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)nr, 0, 4));
  emit(program, LOAD_ARG(0));
  emit(program, JUMP(BPF_JMP | BPF_JEQ | BPF_K, AF_UNIX, 0, 1));
  emit(program, ALLOW);
  emit(program, FAIL(error));
}

static const long refused[] = {
    __NR_ptrace,         __NR_process_vm_readv, __NR_process_vm_writev, __NR_keyctl,
    __NR_add_key,        __NR_request_key,      __NR_mount,             __NR_umount2,
    __NR_pivot_root,     __NR_setns,            __NR_bpf,               __NR_perf_event_open,
    __NR_kexec_load,     __NR_init_module,      __NR_finit_module,      __NR_delete_module,
    __NR_reboot,         __NR_swapon,           __NR_swapoff,           __NR_acct,
    __NR_quotactl,       __NR_userfaultfd,      __NR_open_by_handle_at, __NR_io_uring_setup,
    __NR_io_uring_enter, __NR_io_uring_register, __NR_open_tree,        __NR_move_mount,
    __NR_fsopen,         __NR_fsconfig,         __NR_fsmount,           __NR_fspick,
    __NR_pidfd_getfd,    __NR_mount_setattr,    __NR_quotactl_fd,
#ifdef __NR_kexec_file_load
    __NR_kexec_file_load,
#endif
#ifdef __NR_uselib
    __NR_uselib,
#endif
#ifdef __NR_iopl
    __NR_iopl,           __NR_ioperm,
#endif
};

static const long unknown[] = {__NR_clone3, __NR_openat2, __NR_faccessat2, __NR_execveat};

int install_syscall_filter(void) {
  static struct program program;
  program.length = 0;
  program.overflow = 0;
  emit(&program, STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)));
  emit(&program, JUMP(BPF_JMP | BPF_JEQ | BPF_K, NATIVE_ARCH, 1, 0));
  emit(&program, RETURN(SECCOMP_RET_KILL_PROCESS));
  emit(&program, LOAD_NR);
  /* Negative: a tracer cancelled the call. */
  emit(&program, JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x80000000U, 0, 1));
  emit(&program, ALLOW);
#if defined(__x86_64__)
  /* x32: the same numbers plus this bit, another ABI. */
  emit(&program, JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000U, 0, 1));
  emit(&program, RETURN(SECCOMP_RET_KILL_PROCESS));
#endif
  emit(&program, JUMP(BPF_JMP | BPF_JGT | BPF_K, LAST_KNOWN_SYSCALL, 0, 1));
  emit(&program, FAIL(ENOSYS));
  for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
    refuse(&program, refused[i], EPERM);
  }
  for (size_t i = 0; i < sizeof unknown / sizeof *unknown; i++) {
    refuse(&program, unknown[i], ENOSYS);
  }
  unix_only(&program, __NR_socket, EACCES);
  unix_only(&program, __NR_socketpair, EACCES);
  refuse_flags(&program, __NR_clone, CLONE_NEW_FLAGS, EPERM);
  refuse_flags(&program, __NR_unshare, CLONE_NEW_FLAGS | CLONE_NEWTIME, EPERM);
  emit(&program, ALLOW);
  if (program.overflow) {
    fputs("rpz-exec: confinement: the syscall filter is too long\n", stderr);
    return -1;
  }
  struct sock_fprog filter = {.len = program.length, .filter = program.code};
  if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &filter, 0, 0) != 0) {
    perror("rpz-exec: confinement: seccomp");
    return -1;
  }
  return 0;
}
