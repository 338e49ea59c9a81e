# Sourced by scripts/make-examples.sh in the work dir (see its header).
# One run: the formula for x = 2.
trace -- sh formula.sh 2
