# Sourced by scripts/make-examples.sh in the work dir (see its header).
# Links git cannot keep are made here:
#   current.txt          absolute symlink -> $PWD/data/v2.txt
#   data/shared-link.txt second hard link of data/shared.txt
ln -s "$PWD/data/v2.txt" current.txt
ln data/shared.txt data/shared-link.txt
trace -- sh show.sh current.txt
