# Sourced by scripts/make-examples.sh in the work dir (see its header).
# One run of about 5 s printing a line a second.
trace -- sh slow.sh 5
