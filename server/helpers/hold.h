/*
 * The holder of a bubblewrap run's namespaces, run by the server on the host (see hold.c).
 *
 *   rpz-exec hold [--map-self] [--no-nested-userns] [--overlay LOWER UPPER WORK MERGED]
 *       Makes a user namespace. With --map-self, maps this process's own uid and gid to root in
 *       it (as `unshare --map-root-user`); without, prints "userns" and waits for SIGUSR1: the
 *       server has written the maps (a range of ids). Then, with --no-nested-userns,
 *       forbids user namespaces inside it (user.max_user_namespaces = 0); with --overlay, makes
 *       a mount namespace (propagation private) and mounts an overlay of LOWER (read-only) under
 *       UPPER at MERGED (userxattr). Prints "ready", then holds the namespaces for the run's
 *       steps (`nsenter`) until it is killed or its parent dies (parent-death signal).
 *       Errors: one line on stderr, exit code 1.
 */
#ifndef RPZ_HOLD_H
#define RPZ_HOLD_H

/* `hold`, from argv[at] (its first option). Returns the exit code. */
int hold(int argc, char **argv, int at);

#endif
