#!/bin/sh
# Read files through links and write combined.txt.
#   current.txt -> absolute symlink to data/v2.txt (made by trace.sh)
#   data/shared.txt and data/shared-link.txt: two hard links to one file
# Usage: sh show.sh [FILE]   (default current.txt)
set -e
file="${1:-current.txt}"
{
  echo "current: $(cat "$file")"
  echo "shared: $(cat data/shared.txt)"
  echo "shared-link: $(cat data/shared-link.txt)"
} > combined.txt
cat combined.txt
