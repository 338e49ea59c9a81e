/*
 * Emulated identity changes for sandboxes that map a single id (proot; bubblewrap without a range
 * of ids): a seccomp user-notification supervisor answers the id, capability, ownership and stat
 * system calls of an experiment. See identity.c for the design and its limits.
 *
 *   rpz-exec emulate-ids UID GID COMMON-UID COMMON-GID SINCE OWNERS REPORT-FD -- COMMAND...
 *       The supervisor. Runs COMMAND (the sandbox, or `rpz-exec run ...` inside it) with a socket
 *       at descriptor IDS_SOCKET_FD, receives the listener of the filter `run --ids-socket`
 *       installs, and answers its notifications until COMMAND exits; then writes what the run's
 *       ids own to REPORT-FD ("-": nowhere) and exits as COMMAND did. UID:GID: the step's ids;
 *       COMMON-UID:COMMON-GID: who owns the package's files (recorded); SINCE: the run's start
 *       (seconds since the epoch: entries born later are the run's); OWNERS ("-": none): records
 *       "UID GID PATH\0" of entries recorded with another owner.
 *   rpz-exec run --ids-socket FD [--no-statx] ...
 *       Installs the filter (before any confinement), hands its listener over through FD, then
 *       goes on as `run`. --no-statx: statx fails with ENOSYS (proot 5.1.0 does not translate its
 *       path; callers fall back to newfstatat, which proot translates).
 */
#ifndef RPZ_IDENTITY_H
#define RPZ_IDENTITY_H

/* Where the supervisor puts its end of the socket for COMMAND. */
#define IDS_SOCKET_FD 9

/* `emulate-ids`, from argv[at] (UID). Returns the exit code. */
int identity_supervise(int argc, char **argv, int at);

/*
 * Parses `--ids-socket FD [--no-statx]` at argv[*at], moving *at past them; *socket_fd stays -1
 * when absent. Returns 0, or -1 for a bad option.
 */
int identity_parse(int argc, char **argv, int *at, int *socket_fd, int *no_statx);

/* Installs the filter and sends its listener through socket_fd. Returns 0, or -1 (on stderr). */
int identity_install(int socket_fd, int no_statx);

#endif
