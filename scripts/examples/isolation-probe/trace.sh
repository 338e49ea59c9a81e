# Sourced by scripts/make-examples.sh in the work dir (see its header).
# The isolation probe (files/probe.c), compiled here with the host's C compiler, traced twice:
# run 0 as root (uid 0 recorded), run 1 as the non-root example user. Traced without arguments it
# only prints its usage line; the tests of server/test/integration/isolation/ give it its real
# arguments by editing the command line.
cc -O2 -Wall -o probe probe.c
trace -- ./probe
use_example_user
# reprozip trace --continue writes into the trace folder that the root run made.
chown -R "$RUN_USER:" "$TRACE_DIR"
trace -- ./probe
set_run_ids root user
