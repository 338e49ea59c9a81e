#!/bin/sh
# Step 2: read the intermediate file and write the final summary, starting
# with $GREETING (default "Hello").   Usage: sh summarise.sh INPUT OUTPUT
set -e
{
  echo "${GREETING:-Hello}!"
  echo "lines: $(wc -l < "$1")"
  echo "last: $(tail -n 1 "$1" | cut -f 2)"
} > "$2"
echo "step 2: wrote $2"
cat "$2"
