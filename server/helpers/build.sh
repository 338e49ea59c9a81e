#!/bin/sh
# Builds the static helper that runs inside experiment containers (see rpz-exec.c).
set -eu
here="$(cd "$(dirname "$0")" && pwd)"
out="$here/../dist/helpers"
mkdir -p "$out"
if [ ! -x "$out/rpz-exec" ] || [ "$here/rpz-exec.c" -nt "$out/rpz-exec" ]; then
  ${CC:-cc} -static -Os -s -Wall -Werror -o "$out/rpz-exec.tmp" "$here/rpz-exec.c"
  mv "$out/rpz-exec.tmp" "$out/rpz-exec"
fi
