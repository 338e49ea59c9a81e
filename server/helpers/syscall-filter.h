/*
 * The seccomp filter of a confined experiment (see syscall-filter.c).
 */
#ifndef RPZ_SYSCALL_FILTER_H
#define RPZ_SYSCALL_FILTER_H

/* Installs the filter on this process (needs no-new-privileges or CAP_SYS_ADMIN). 0, or -1 with a
 * message on stderr. */
int install_syscall_filter(void);

#endif
