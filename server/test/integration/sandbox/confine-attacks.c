/*
 * A hostile experiment, built static by hostile-experiment.test.ts (so its calls are raw system
 * calls, not only the C library's paths), that tries to reach the host from a confined sandbox
 * step and prints one line per attempt: "attack NAME reached [detail]" or "attack NAME refused
 * ERROR". Nothing it tries may be "reached".
 *
 *   confine-attacks TCP-PORT UDP-PORT PID HOST-FILE HOST-DIR ABSTRACT-NAME
 *
 * TCP-PORT, UDP-PORT: listeners of the test on 127.0.0.1; PID: the test's process (the "server");
 * HOST-FILE: a host file outside the run; HOST-DIR: a host folder to write into; ABSTRACT-NAME:
 * an abstract unix socket the test listens on.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/keyctl.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <arpa/inet.h>

static void say(const char *name, long result, const char *detail) {
  if (result >= 0) {
    printf("attack %s reached %s\n", name, detail ? detail : "");
  } else {
    printf("attack %s refused %s\n", name, strerror(errno));
  }
}

/* open + read one byte: what reading a file needs. */
static long read_one(const char *path) {
  long fd = syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  char byte;
  long got = syscall(SYS_read, fd, &byte, 1);
  int error = errno;
  syscall(SYS_close, fd);
  errno = error;
  return got;
}

static long inet_socket(int type, int port, int do_connect, const char *message) {
  long fd = syscall(SYS_socket, AF_INET, type | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  long result = do_connect
                    ? syscall(SYS_connect, fd, &address, sizeof address)
                    : syscall(SYS_sendto, fd, message, strlen(message), 0, &address,
                              sizeof address);
  if (result >= 0 && do_connect) result = syscall(SYS_write, fd, message, strlen(message));
  int error = errno;
  syscall(SYS_close, fd);
  errno = error;
  return result;
}

static long abstract_connect(const char *name) {
  long fd = syscall(SYS_socket, AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  struct sockaddr_un address = {.sun_family = AF_UNIX};
  size_t length = strlen(name);
  if (length > sizeof address.sun_path - 1) length = sizeof address.sun_path - 1;
  memcpy(address.sun_path + 1, name, length);
  long result = syscall(SYS_connect, fd, &address,
                        (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + length));
  if (result >= 0) result = syscall(SYS_write, fd, "attack-abstract\n", 16);
  int error = errno;
  syscall(SYS_close, fd);
  errno = error;
  return result;
}

/* A system call of the i386 ABI (int 0x80): the filter kills the process. Run in a child. */
static void foreign_abi(void) {
  fflush(stdout);
  pid_t child = fork();
  if (child == 0) {
#if defined(__x86_64__)
    long result;
    __asm__ volatile("int $0x80" : "=a"(result) : "a"(20) : "memory"); /* i386 getpid */
    _exit(result > 0 ? 0 : 1);
#else
    _exit(1);
#endif
  }
  int status = 0;
  waitpid(child, &status, 0);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
    printf("attack i386-syscall reached\n");
  } else {
    printf("attack i386-syscall refused %s\n",
           WIFSIGNALED(status) ? strsignal(WTERMSIG(status)) : "failed");
  }
}

/* clone() into a new user namespace; the child, if any, exits at once. */
static long clone_new_user(void) {
  fflush(stdout);
  long child = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
  if (child == 0) _exit(0);
  if (child > 0) waitpid((pid_t)child, NULL, 0);
  return child;
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc != 7) {
    fprintf(stderr, "usage: confine-attacks TCP UDP PID HOST-FILE HOST-DIR ABSTRACT\n");
    return 2;
  }
  int tcp = atoi(argv[1]), udp = atoi(argv[2]);
  pid_t pid = (pid_t)atoi(argv[3]);
  const char *file = argv[4], *dir = argv[5];
  char path[4096];

  say("tcp-connect", inet_socket(SOCK_STREAM, tcp, 1, "attack-tcp\n"), NULL);
  say("udp-send", inet_socket(SOCK_DGRAM, udp, 0, "attack-udp\n"), NULL);
  say("netlink-socket", syscall(SYS_socket, AF_NETLINK, SOCK_RAW, 0), NULL);
  say("abstract-unix", abstract_connect(argv[6]), NULL);
  snprintf(path, sizeof path, "/proc/%d/environ", (int)pid);
  say("server-environ", read_one(path), NULL);
  snprintf(path, sizeof path, "/proc/%d/root%s", (int)pid, file);
  say("proc-pid-root", read_one(path), NULL);
  snprintf(path, sizeof path, "/proc/%d/cwd", (int)pid);
  say("proc-pid-cwd", syscall(SYS_readlinkat, AT_FDCWD, path, path, sizeof path - 1), NULL);
  snprintf(path, sizeof path, "/proc/1/root%s", file);
  say("proc-1-root", read_one(path), NULL);
  snprintf(path, sizeof path, "/proc/self/root%s", file);
  say("proc-self-root", read_one(path), NULL);
  snprintf(path, sizeof path, "/proc/%d/mem", (int)pid);
  say("server-mem", syscall(SYS_openat, AT_FDCWD, path, O_RDONLY), NULL);
  say("host-file", read_one(file), NULL);
  struct {
    uint64_t flags, mode, resolve;
  } how = {O_RDONLY, 0, 0};
  say("openat2", syscall(SYS_openat2, AT_FDCWD, file, &how, sizeof how), NULL);
  snprintf(path, sizeof path, "%s/attack-wrote", dir);
  say("host-write",
      syscall(SYS_openat, AT_FDCWD, path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644), NULL);
  snprintf(path, sizeof path, "/proc/%d/root%s/attack-wrote-through-root", (int)pid, dir);
  say("host-write-through-root",
      syscall(SYS_openat, AT_FDCWD, path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644), NULL);
  say("kill-server", syscall(SYS_kill, pid, 0), NULL);
  say("ptrace-attach", syscall(SYS_ptrace, PTRACE_ATTACH, pid, 0, 0), NULL);
  char byte = 0;
  struct iovec local = {&byte, 1}, remote = {(void *)0x400000, 1};
  say("process-vm-readv", syscall(SYS_process_vm_readv, pid, &local, 1, &remote, 1, 0), NULL);
  say("unshare-user", syscall(SYS_unshare, CLONE_NEWUSER), NULL);
  say("unshare-net", syscall(SYS_unshare, CLONE_NEWNET), NULL);
  say("clone-newuser", clone_new_user(), NULL);
  say("keyctl", syscall(SYS_add_key, "user", "attack", "x", 1, KEY_SPEC_PROCESS_KEYRING), NULL);
  say("mount", syscall(SYS_mount, "none", "/tmp", "tmpfs", 0, NULL), NULL);
  say("io-uring-setup", syscall(SYS_io_uring_setup, 1, calloc(1, 120)), NULL);
  say("bpf", syscall(SYS_bpf, 0, NULL, 0), NULL);
  say("perf-event-open", syscall(SYS_perf_event_open, calloc(1, 128), 0, -1, -1, 0), NULL);
  say("userfaultfd", syscall(SYS_userfaultfd, 0), NULL);
  foreign_abi();
  printf("attacks done\n");
  return 0;
}
