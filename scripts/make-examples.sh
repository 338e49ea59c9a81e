#!/usr/bin/env bash
# Build the example .rpz packages from the recipes in scripts/examples/<name>/.
#
#   scripts/make-examples.sh [--force] [--update-committed] [--no-variants] [NAME...]
#
# For each recipe folder (one that holds trace.sh and expected.json) this makes
#   $STATE_DIR/examples/<name>.rpz            the package, packed by the real reprozip
#   $STATE_DIR/examples/<name>.json           expected.json plus facts read from the package
#   $STATE_DIR/examples/<name>.recipe-sha256  hash of the recipe; the package is cached
#                                             until the recipe changes (or --force)
#
# How a recipe is built:
#   1. its files/ are copied into the fixed working directory
#      /tmp/reproserver-examples/<name>. The path is fixed (not under the
#      checkout) because reprozip records it in the package: the packages and
#      expected.json are then the same whatever the checkout's path is, and a
#      non-root user can reach it.
#   2. trace.sh is sourced there (bash, cwd = the work dir). It may prepare
#      files (links, ...), call `use_example_user` to run as a non-root user, and
#      calls `trace [--env K=V]... [--exit N] -- ARGV...` once per run (--exit:
#      the run's expected exit code, default 0; reprozip trace returns it). The first call is
#      `reprozip trace`, the next ones `reprozip trace --continue`. Every run gets
#      a clean environment (PATH, LANG, HOME, USER, LOGNAME + the --env ones), so
#      nothing of the builder's environment leaks into the package.
#      `set_run_ids ID...` renames the runs in config.yml before packing.
#   3. `reprozip pack`, then scripts/examples/manifest.py checks the package
#      against expected.json (runs, argv, exit codes, uid, inputs_outputs names,
#      stdout, output and input contents) and writes <name>.json.
#   4. unless --no-variants, every variant of expected.json is re-run on the host
#      (same work dir, same user, no tracing) and its stdout/outputs checked.
#   5. the work dir and the trace are removed.
# Files are written under temporary names and renamed, so a reader never sees
# a half-written package. Runs hold a lock, so concurrent runs wait for each other.
#
# --update-committed also copies the small packages listed in COMMITTED
# (and their .json) into examples/ when their recipe changed.
#
# Environment: REPROZIP (default $VENV_DIR/bin/reprozip),
#              REPROSERVER_EXAMPLE_USER (default reproserver-example).
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
LOG_TAG=examples

REPROZIP="${REPROZIP:-$VENV_DIR/bin/reprozip}"
RECIPES_DIR="$ROOT_DIR/scripts/examples"
OUT_DIR="$STATE_DIR/examples"
WORK_ROOT=/tmp/reproserver-examples
EXAMPLE_USER="${REPROSERVER_EXAMPLE_USER:-reproserver-example}"
COMMITTED=(shell-pipeline slow-printer)
COMMITTED_DIR="$ROOT_DIR/examples"
# Bump when the way packages are built changes, to invalidate every cache.
BUILD_FORMAT=1

force=0; update_committed=0; variants=1; only=()
while [ $# -gt 0 ]; do
  case "$1" in
    --force) force=1 ;;
    --update-committed) update_committed=1 ;;
    --no-variants) variants=0 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) only+=("$1") ;;
  esac
  shift
done

[ -x "$REPROZIP" ] || die "reprozip not found at $REPROZIP (run the setup, or set REPROZIP)"

# A Python that can read YAML for manifest.py: the one reprozip runs on.
PYTHON=""
for py in "$(dirname "$REPROZIP")/python3" "$(dirname "$REPROZIP")/python" \
          "$VENV_DIR/bin/python3" python3; do
  if "$py" -c 'import yaml' >/dev/null 2>&1; then PYTHON="$py"; break; fi
done
[ -n "$PYTHON" ] || die "no python with PyYAML found (looked next to $REPROZIP and in $VENV_DIR)"
MANIFEST=("$PYTHON" "$RECIPES_DIR/manifest.py")

mkdir -p "$OUT_DIR"
if [ ! -d "$WORK_ROOT" ]; then
  mkdir -p "$WORK_ROOT"
  chmod 1777 "$WORK_ROOT" 2>/dev/null || true
fi
exec 9>>"$WORK_ROOT/.lock-$(id -u)"
if ! flock -n 9; then
  log "another make-examples.sh is running; waiting for it"
  flock 9
fi

"$REPROZIP" usage_report --disable >/dev/null 2>&1 || true

recipe_hash() {
  local dir="$1"
  {
    echo "build-format $BUILD_FORMAT"
    (cd "$dir" && find . \( -type f -o -type l \) ! -name '*.pyc' -print0 | LC_ALL=C sort -z \
       | xargs -0 -r sha256sum)
  } | sha256sum | cut -d' ' -f1
}

human_size() { numfmt --to=iec --suffix=B "$(stat -c %s "$1")"; }

# ---- helpers available to trace.sh ----------------------------------------

# Run the next runs as the non-root example user (created when missing, uid
# 1000 if free). When this script is not root, the runs already are non-root.
use_example_user() {
  if ! is_root; then return 0; fi
  # Recipes are built two at a time: one of them creates the user, the other waits for it.
  {
    flock 8
    if ! id -u "$EXAMPLE_USER" >/dev/null 2>&1; then
      local uid_opt=()
      getent passwd 1000 >/dev/null || uid_opt=(--uid 1000)
      log "creating user $EXAMPLE_USER"
      useradd "${uid_opt[@]}" --user-group --create-home --shell /bin/sh "$EXAMPLE_USER" \
        || die "could not create user $EXAMPLE_USER"
    fi
  } 8>>"$WORK_ROOT/.user-lock-$(id -u)"
  RUN_USER="$EXAMPLE_USER"
  chown -R "$RUN_USER:" "$WORK_DIR"
  chown "$RUN_USER:" "$LOG_DIR"
  # reprozip's Python may be out of the user's reach (a pyenv Python under
  # /root). Then run reprozip's code with the system Python of the same
  # version, its site-packages added to sys.path (not PYTHONPATH, which would
  # be recorded in the run's environment).
  if ! as_run_user env "$REPROZIP" --version >/dev/null 2>&1; then
    local site want have
    site="$("$PYTHON" -c 'import os, reprozip; print(os.path.dirname(os.path.dirname(reprozip.__file__)))')"
    want="$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
    have="$(/usr/bin/python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || true)"
    [ "$want" = "$have" ] || die "$REPROZIP cannot be run by $RUN_USER, and /usr/bin/python3 is not Python $want to run it instead"
    REPROZIP_CMD=(/usr/bin/python3 -c "import sys; sys.path[:0] = ['$site']; sys.argv[0] = 'reprozip'; from reprozip.main import main; main()")
    as_run_user "${REPROZIP_CMD[@]}" --version >/dev/null 2>&1 \
      || die "$RUN_USER cannot run reprozip, even as ${REPROZIP_CMD[*]}"
  fi
  # The user's own reprozip settings.
  as_run_user env -i PATH=/usr/bin:/bin HOME="$(run_user_home)" \
    "${REPROZIP_CMD[@]}" usage_report --disable >/dev/null 2>&1 || true
}

run_user_home() { getent passwd "${RUN_USER:-$(id -un)}" | cut -d: -f6; }

as_run_user() {
  if [ -n "$RUN_USER" ] && is_root; then
    setpriv --reuid="$(id -u "$RUN_USER")" --regid="$(id -g "$RUN_USER")" --init-groups -- "$@"
  else
    "$@"
  fi
}

# trace [--env K=V]... [--] ARGV...
trace() {
  local envs=() want_rc=0
  while [ $# -gt 0 ]; do
    case "$1" in
      --env) envs+=("$2"); shift 2 ;;
      --exit) want_rc="$2"; shift 2 ;;
      --) shift; break ;;
      *) break ;;
    esac
  done
  local k="$RUN_INDEX" user home
  user="${RUN_USER:-$(id -un)}"; home="$(run_user_home)"
  local base_env=(PATH=/usr/bin:/bin LANG=C.UTF-8 HOME="$home" USER="$user" LOGNAME="$user")
  local out="$LOG_DIR/run$k.out" err="$LOG_DIR/run$k.err"
  if [ "$MODE" = trace ]; then
    local mode=-w; [ "$k" -gt 0 ] && mode=--continue
    local rc=0
    as_run_user env -i "${base_env[@]}" "${envs[@]}" \
      "${REPROZIP_CMD[@]}" trace $mode -d "$TRACE_DIR" "$@" >"$out" 2>"$err" || rc=$?
    if [ "$rc" != "$want_rc" ]; then
      cat "$out" "$err" >&2
      die "$NAME: reprozip trace of run $k failed (exit code $rc, expected $want_rc): $*"
    fi
    # reprozip prints two lines of its own on stdout after the program's.
    { grep -v -e '^Configuration file written in ' -e '^Edit that file then run the packer' \
        "$out" || true; } > "$out.tmp"
    mv "$out.tmp" "$out"
  else
    # Variant mode: run without tracing, with the variant's argv/environ.
    local -a override
    mapfile -d '' override < <("${MANIFEST[@]}" variant-run "$RECIPE/expected.json" "$VARIANT" "$k")
    local i=0 venv=() vargv=()
    while [ "${override[$i]}" != "--" ]; do venv+=("${override[$i]}"); i=$((i + 1)); done
    vargv=("${override[@]:$((i + 1))}")
    [ "${#vargv[@]}" -gt 0 ] && set -- "${vargv[@]}"
    if [ "$k" -eq 0 ]; then
      "${MANIFEST[@]}" apply-inputs "$RECIPE/expected.json" "$VARIANT" \
        || die "$NAME: could not write the inputs of variant $VARIANT"
      if [ -n "$RUN_USER" ]; then chown -R "$RUN_USER:" "$WORK_DIR"; fi
    fi
    as_run_user env -i "${base_env[@]}" "${envs[@]}" "${venv[@]}" "$@" >"$out" 2>"$err" || true
  fi
  RUN_INDEX=$((k + 1))
}

# set_run_ids ID... : rename run0, run1, ... in config.yml before packing.
set_run_ids() {
  [ "$MODE" = trace ] || return 0
  local k=0 id
  for id in "$@"; do
    sed -i "s/^  id: run$k\$/  id: $id/" "$TRACE_DIR/config.yml"
    k=$((k + 1))
  done
}

# Copy the recipe's files into a fresh work dir and source trace.sh there.
run_recipe() {
  rm -rf "$WORK_DIR" "$LOG_DIR"
  mkdir -p "$WORK_DIR" "$LOG_DIR"
  chmod 755 "$WORK_DIR"
  chmod 777 "$LOG_DIR"
  [ -d "$RECIPE/files" ] && cp -R "$RECIPE/files/." "$WORK_DIR/"
  (
    cd "$WORK_DIR"
    RUN_INDEX=0; RUN_USER=""; REPROZIP_CMD=("$REPROZIP")
    # shellcheck disable=SC1091
    source "$RECIPE/trace.sh"
  )
}

cleanup_recipe() { rm -rf "$WORK_DIR" "$TRACE_DIR" "$LOG_DIR"; }

build() {
  NAME="$1"
  RECIPE="$RECIPES_DIR/$NAME"
  WORK_DIR="$WORK_ROOT/$NAME"
  TRACE_DIR="$WORK_ROOT/$NAME.trace"
  LOG_DIR="$WORK_ROOT/$NAME.logs"
  local rpz="$OUT_DIR/$NAME.rpz" json="$OUT_DIR/$NAME.json" sha="$OUT_DIR/$NAME.recipe-sha256"
  [ -f "$RECIPE/trace.sh" ] && [ -f "$RECIPE/expected.json" ] \
    || die "$RECIPE is not a recipe (needs trace.sh and expected.json)"
  local hash; hash="$(recipe_hash "$RECIPE")"
  if [ "$force" = 0 ] && [ -f "$rpz" ] && [ -f "$json" ] && [ -f "$sha" ] \
      && [ "$(cat "$sha")" = "$hash" ]; then
    echo "cached  $NAME  $(human_size "$rpz")  $rpz"
    return 0
  fi

  local start=$SECONDS
  # On failure the work dir, trace and logs stay in $WORK_ROOT to look at;
  # the next build of the recipe starts by removing them.
  rm -rf "$TRACE_DIR"
  MODE=trace run_recipe
  [ -f "$TRACE_DIR/config.yml" ] || die "$NAME: trace.sh traced nothing"
  local tmp="$OUT_DIR/.$NAME.$$.tmp.rpz"
  if ! "$REPROZIP" pack -d "$TRACE_DIR" "$tmp" >"$LOG_DIR/pack.log" 2>&1; then
    cat "$LOG_DIR/pack.log" >&2
    rm -f "$tmp"
    die "$NAME: reprozip pack failed"
  fi
  if ! "${MANIFEST[@]}" finalize "$RECIPE/expected.json" "$tmp" "$LOG_DIR" "$hash" \
      "$json.$$.tmp"; then
    rm -f "$tmp" "$json.$$.tmp"
    die "$NAME: the package does not match $RECIPE/expected.json (left in $WORK_ROOT)"
  fi
  if [ "$variants" = 1 ]; then
    local n v
    n="$("${MANIFEST[@]}" count-variants "$RECIPE/expected.json")"
    for ((v = 0; v < n; v++)); do
      VARIANT=$v MODE=variant run_recipe
      "${MANIFEST[@]}" check-variant "$RECIPE/expected.json" "$v" "$LOG_DIR" \
        || { rm -f "$tmp" "$json.$$.tmp"; die "$NAME: variant $v does not give what expected.json says"; }
    done
  fi
  # Publish: package, then manifest, then the hash that marks both valid.
  rm -f "$sha"
  mv -f "$tmp" "$rpz"
  mv -f "$json.$$.tmp" "$json"
  printf '%s\n' "$hash" > "$sha.$$.tmp" && mv -f "$sha.$$.tmp" "$sha"
  cleanup_recipe
  echo "built   $NAME  $(human_size "$rpz")  $rpz  ($((SECONDS - start))s)"
}

if [ "${#only[@]}" -eq 0 ]; then
  for dir in "$RECIPES_DIR"/*/; do
    [ -f "$dir/trace.sh" ] && only+=("$(basename "$dir")")
  done
fi
[ "${#only[@]}" -gt 0 ] || die "no recipes in $RECIPES_DIR"
# Two recipes at a time: tracing mostly waits on the traced programs (some sleep), and each
# recipe has folders of its own. A failed one says why; the others still finish.
BUILDS_AT_ONCE=2
running=0; failed=0
for name in "${only[@]}"; do
  if [ "$running" -ge "$BUILDS_AT_ONCE" ]; then
    wait -n || failed=$((failed + 1))
    running=$((running - 1))
  fi
  build "$name" &
  running=$((running + 1))
done
for ((; running > 0; running--)); do
  wait -n || failed=$((failed + 1))
done
[ "$failed" -eq 0 ] || die "$failed of ${#only[@]} recipes failed (see above)"

if [ "$update_committed" = 1 ]; then
  for name in "${COMMITTED[@]}"; do
    [ -f "$OUT_DIR/$name.rpz" ] || die "$name was not built, cannot update examples/"
    size="$(stat -c %s "$OUT_DIR/$name.rpz")"
    [ "$size" -le $((2 * 1024 * 1024)) ] || die "$name.rpz is $size bytes, too big to commit"
    if [ -f "$COMMITTED_DIR/$name.json" ] && [ "$("${MANIFEST[@]}" recipe-sha "$COMMITTED_DIR/$name.json")" = "$(cat "$OUT_DIR/$name.recipe-sha256")" ]; then
      echo "same    examples/$name.rpz"
      continue
    fi
    cp "$OUT_DIR/$name.rpz" "$COMMITTED_DIR/.$name.rpz.tmp" && mv -f "$COMMITTED_DIR/.$name.rpz.tmp" "$COMMITTED_DIR/$name.rpz"
    cp "$OUT_DIR/$name.json" "$COMMITTED_DIR/.$name.json.tmp" && mv -f "$COMMITTED_DIR/.$name.json.tmp" "$COMMITTED_DIR/$name.json"
    echo "copied  examples/$name.rpz"
  done
fi
