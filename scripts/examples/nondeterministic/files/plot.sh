#!/bin/sh
# Deliberately not deterministic, for the determinism check: writes stable.txt (the same every
# time), stamp.txt (the clock, to the nanosecond) and plot.svg (one point placed at random, the
# generator seeded from the clock). Usage: sh plot.sh            (sh + date only)
set -e
echo "the same every time" > stable.txt
now=$(date +%s.%N)
echo "written at $now" > stamp.txt
# A linear congruential step from the nanoseconds: close instants land far apart. The leading 1
# keeps sh from reading a nanosecond count with leading zeros as octal.
seed=$(( 1$(date +%N) ))
seed=$(( (seed * 1103515245 + 12345) % 2147483648 ))
x=$(( 10 + seed % 180 ))
y=$(( 10 + (seed / 180) % 180 ))
cat > plot.svg <<SVG
<svg xmlns="http://www.w3.org/2000/svg" width="200" height="200" viewBox="0 0 200 200">
  <rect width="200" height="200" fill="white"/>
  <circle cx="$x" cy="$y" r="4" fill="steelblue"/>
</svg>
SVG
echo "wrote stable.txt, stamp.txt and plot.svg"
