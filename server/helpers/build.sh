#!/bin/sh
# Builds the static helper that runs inside experiment containers and sandboxes (see rpz-exec.c,
# and confine.c for the confinement it applies before an experiment's first instruction).
set -eu
here="$(cd "$(dirname "$0")" && pwd)"
out="$here/../dist/helpers"
mkdir -p "$out"
sources="rpz-exec.c confine.c confine-probe.c syscall-filter.c identity.c"
stale=0
[ -x "$out/rpz-exec" ] || stale=1
for file in $sources confine.h confine-probe.h syscall-filter.h identity.h; do
  if [ "$here/$file" -nt "$out/rpz-exec" ]; then
    stale=1
  fi
done
if [ "$stale" = 1 ]; then
  (cd "$here" && ${CC:-cc} -static -Os -s -Wall -Werror -o "$out/rpz-exec.tmp" $sources)
  mv "$out/rpz-exec.tmp" "$out/rpz-exec"
fi
