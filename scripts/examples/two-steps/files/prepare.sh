#!/bin/sh
# Step 1: read the raw data, drop blank lines, number the others and write
# the intermediate file.   Usage: sh prepare.sh INPUT OUTPUT
set -e
n=0
while IFS= read -r line || [ -n "$line" ]; do
  case "$line" in
    *[![:space:]]*) n=$((n + 1)); printf '%d\t%s\n' "$n" "$line" ;;
  esac
done < "$1" > "$2"
echo "step 1: $n lines from $1 -> $2"
