#!/bin/sh
# A result that follows a known formula of its parameter X (an integer), for the metrics tests:
#   stdout:       "y=<X*X+1>" and "loss <100-X>"
#   results.csv:  header i,value,label; rows i = 1..3 with value i*X and a quoted label
#   result.json:  {"input": {"x": X}, "stats": {"n": X, "double": 2X, "values": [X, X+1]}}
# Usage: sh formula.sh X        (sh only: no other program, a small package)
set -e
x="${1:-2}"
echo "formula with x=$x"
echo "y=$((x * x + 1))"
echo "loss $((100 - x))"
{
  echo 'i,value,label'
  i=1
  while [ "$i" -le 3 ]; do
    echo "$i,$((i * x)),\"row $i, x=$x\""
    i=$((i + 1))
  done
} > results.csv
printf '{"input": {"x": %s}, "stats": {"n": %s, "double": %s, "values": [%s, %s]}}\n' \
  "$x" "$x" "$((2 * x))" "$x" "$((x + 1))" > result.json
