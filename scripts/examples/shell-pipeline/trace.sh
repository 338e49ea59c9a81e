# Sourced by scripts/make-examples.sh in the work dir (see its header).
# One run: the 3 most frequent words of words.txt.
trace -- sh wordfreq.sh words.txt 3
