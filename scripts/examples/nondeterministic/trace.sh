# Sourced by scripts/make-examples.sh in the work dir (see its header).
# One run whose outputs are partly not deterministic: stable.txt is, stamp.txt (the clock) and
# plot.svg (a random point seeded from the clock) are not.
trace -- sh plot.sh
