#!/bin/sh
# Word frequency: print the N most frequent words of INPUT and write them
# to top-words.txt, one "word count" pair per line (ties sorted by word).
# Usage: sh wordfreq.sh INPUT [N]        (coreutils + sh only)
set -e
export LC_ALL=C
input="$1"
n="${2:-3}"
tr -cs 'A-Za-z' '\n' < "$input" | tr 'A-Z' 'a-z' | sort | uniq -c \
  | sort -k1,1nr -k2,2 \
  | while read -r count word; do
      if [ -n "$word" ]; then printf '%s %s\n' "$word" "$count"; fi
    done \
  | head -n "$n" > top-words.txt
echo "top $n words in $input:"
cat top-words.txt
