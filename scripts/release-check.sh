#!/usr/bin/env bash
# What a release would publish, checked without publishing (RELEASE.md; part of the test command):
#
#   scripts/release-check.sh          (after scripts/setup.sh; about 15 s, 40 s on a busy machine)
#
#  1. builds the sdist and the wheels for x86_64 and aarch64 (the static helper cross-compiled
#     by Debian's gcc-aarch64-linux-gnu), and each wheel again from the sdist: same files
#     (scripts/build-dist.sh, shared with the Binder check); the sdist carries no binary (the
#     static helper is compiled from its sources when a wheel is built);
#  2. `twine check --strict` of all three (what PyPI would refuse in their metadata);
#  3. the unit tests of scripts/wheel_tags.py and of the `reproserver` command (pytest), then
#     each wheel's tag against its content (scripts/wheel_tags.py):
#     every ELF file, its machine, static or not, the newest glibc it needs; fails on a bare
#     linux_* tag, a manylinux tag claiming an older glibc or another machine, a library no
#     manylinux system has; and the two wheels hold the same files but the helper;
#  3b. the aarch64 wheel's helper under qemu-user (scripts/test_helper_qemu.py): its subcommands
#     as on an aarch64 machine, and that it refuses to run anything it cannot confine;
#  4. `npm pack --dry-run` of the extension and of the companion server: exactly the files their
#     sources make (scripts/check-npm-pack.mjs);
#  5. one version everywhere (server/test/unit/release/versions.test.ts, in the unit tests), and
#     here: `npx reproserver --version` in this clone prints it.
set -euo pipefail
LOG_TAG=release-check
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT_DIR"
started_at=$SECONDS
step() { log "── $1 ($((SECONDS - started_at)) s)"; }

CHECK_DIR="$STATE_DIR/release-check"
[ -x "$VENV_DIR/bin/twine" ] && [ -x "$VENV_DIR/bin/pytest" ] ||
  die "twine and pytest are missing from .venv: run scripts/setup.sh"
version="$(node -p "require('./package.json').version")"

step "sdist, the wheels for x86_64 and aarch64, and the sdist's wheels"
scripts/build-dist.sh "$CHECK_DIR/dist" x86_64 aarch64
wheel="$(ls "$CHECK_DIR"/dist/jupyterlab_reproserver-*_x86_64.whl)"
arm_wheel="$(ls "$CHECK_DIR"/dist/jupyterlab_reproserver-*_aarch64.whl)"
sdist="$(ls "$CHECK_DIR"/dist/jupyterlab_reproserver-*.tar.gz)"
# The Python package's version is package.json's, in PEP 440's form (1.2.0-rc.1 -> 1.2.0rc1).
python_version="$("$VENV_DIR/bin/python" -c 'import sys; from packaging.version import Version; print(Version(sys.argv[1]))' "$version")"
case "$(basename "$wheel")" in
  "jupyterlab_reproserver-$python_version-"*) ;;
  *) die "$(basename "$wheel") is not at version $python_version (package.json: $version)" ;;
esac

step "twine check"
"$VENV_DIR/bin/twine" check --strict "$wheel" "$arm_wheel" "$sdist"

step "Python unit tests: the wheel's tag logic, the reproserver command"
(cd scripts && "$VENV_DIR/bin/pytest" -q -p no:cacheprovider test_wheel_tags.py test_cli.py)

step "the wheels' tags against what they carry; the same files but the helper"
for built in "$wheel" "$arm_wheel"; do
  "$VENV_DIR/bin/python" scripts/wheel_tags.py check "$built" ||
    die "$(basename "$built") is tagged wrongly for what it carries (above)"
done
"$VENV_DIR/bin/python" scripts/wheel_tags.py same-files "$wheel" "$arm_wheel" ||
  die "the x86_64 and aarch64 wheels differ in more than their helper (above)"

# Binaries in the sdist: built here, they would fit this machine only. The wheel's build compiles
# the helper from the sources the sdist carries (hatch_build.py).
mapfile -t prebuilt < <("$VENV_DIR/bin/python" - "$sdist" <<'PY'
import sys, tarfile
with tarfile.open(sys.argv[1]) as archive:
    for member in archive.getmembers():
        if member.isfile() and archive.extractfile(member).read(4) == b"\x7fELF":
            print(member.name)
PY
)
[ "${#prebuilt[@]}" = 0 ] ||
  die "the sdist carries prebuilt binaries (built for this machine): ${prebuilt[*]}"

step "the aarch64 wheel's helper under qemu-user"
arm_helper="$CHECK_DIR/aarch64-helper"
rm -rf "$arm_helper"
"$VENV_DIR/bin/python" -m zipfile -e "$arm_wheel" "$arm_helper"
chmod +x "$arm_helper/jupyterlab_reproserver/server/helpers/rpz-exec"   # (zipfile drops modes)
(cd scripts && RPZ_EXEC_UNDER_TEST="$arm_helper/jupyterlab_reproserver/server/helpers/rpz-exec" \
  "$VENV_DIR/bin/pytest" -q -p no:cacheprovider test_helper_qemu.py)

step "npm pack --dry-run of the extension and the server"
node scripts/check-npm-pack.mjs

step "the CLI in this clone: npx reproserver --version"
# npm links the command at install time (server/bin/reproserver.js, kept in git for that reason).
[ -L node_modules/.bin/reproserver ] || die "node_modules/.bin/reproserver is missing: run npm ci"
said="$(npx --no-install reproserver --version)" || die "npx reproserver --version failed"
[ "$said" = "$version" ] || die "npx reproserver --version says $said, not $version"

log "release check passed in $((SECONDS - started_at)) s: $(basename "$wheel"), $(basename "$arm_wheel"), $(basename "$sdist"), version $version"
