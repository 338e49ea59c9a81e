/*
 * rpz-exec confine-probe: applies a confinement and reports, from inside, what holds (see
 * confine-probe.c).
 */
#ifndef RPZ_CONFINE_PROBE_H
#define RPZ_CONFINE_PROBE_H

/* argv[at]... : CONFINEMENT [--try-tcp PORT] [--try-read PATH]... [--try-pid PID]. */
int confine_probe(int argc, char **argv, int at);

#endif
