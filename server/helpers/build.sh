#!/bin/sh
# Builds the static helper that runs inside experiment containers and sandboxes (see rpz-exec.c,
# and confine.c for the confinement it applies before an experiment's first instruction).
#
#   sh build.sh            for this machine, with ${CC:-cc}: ../dist/helpers/rpz-exec
#   sh build.sh ARCH       for ARCH (x86_64, aarch64): ../dist/helpers/ARCH/rpz-exec, with
#                          ${CROSS_CC:-ARCH-linux-gnu-gcc} unless ARCH is this machine's (CC is
#                          not used for another machine: it usually names this machine's compiler)
#
# Another machine's helper is what the wheel for that machine carries (hatch_build.py,
# REPROSERVER_WHEEL_ARCH); Debian's cross compilers name themselves ARCH-linux-gnu-gcc and
# link statically with libc6-dev-ARCH-cross (gcc-aarch64-linux-gnu, libc6-dev-arm64-cross).
set -eu
here="$(cd "$(dirname "$0")" && pwd)"
out="$here/../dist/helpers"
compiler="${CC:-cc}"
if [ $# -gt 1 ]; then
  echo "usage: build.sh [ARCH]" >&2
  exit 2
fi
if [ $# = 1 ]; then
  case "$1" in
    x86_64 | aarch64) ;;
    *)
      echo "build.sh: no cross build for '$1' (x86_64 or aarch64)" >&2
      exit 2
      ;;
  esac
  out="$out/$1"
  if [ "$1" != "$(uname -m)" ]; then
    compiler="${CROSS_CC:-$1-linux-gnu-gcc}"
    command -v "$compiler" >/dev/null 2>&1 || {
      echo "build.sh: $compiler is missing (Debian: gcc-$1-linux-gnu and its libc6-dev" \
        "cross package; scripts/setup.sh installs those for aarch64)" >&2
      exit 1
    }
  fi
fi
mkdir -p "$out"
sources="rpz-exec.c deliver.c confine.c confine-probe.c syscall-filter.c identity.c hold.c"
stale=0
[ -x "$out/rpz-exec" ] || stale=1
for file in $sources deliver.h frames.h numbers.h confine.h confine-probe.h syscall-filter.h identity.h hold.h; do
  if [ "$here/$file" -nt "$out/rpz-exec" ]; then
    stale=1
  fi
done
if [ "$stale" = 1 ]; then
  (cd "$here" && $compiler -static -Os -s -Wall -Werror -o "$out/rpz-exec.tmp" $sources)
  mv "$out/rpz-exec.tmp" "$out/rpz-exec"
fi
