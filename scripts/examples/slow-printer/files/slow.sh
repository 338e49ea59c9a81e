#!/bin/sh
# Print a line about once a second, COUNT times, so a live log can be watched,
# and write the same lines to ticks.txt.   Usage: sh slow.sh [COUNT]
set -e
count="${1:-5}"
: > ticks.txt
echo "counting to $count"
i=1
while [ "$i" -le "$count" ]; do
  sleep 1
  echo "tick $i/$count"
  echo "tick $i/$count" >> ticks.txt
  i=$((i + 1))
done
echo "done"
