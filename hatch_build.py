"""Hatch build hook: the wheel's platform tag follows the ELF files it carries.

The companion server bundled in ``jupyterlab_reproserver/server/`` is JavaScript with no native
module (SQLite is Node's built-in node:sqlite) plus the static helper ``rpz-exec``, built for this
machine's CPU. The tag is computed from the ELF files by scripts/wheel_tags.py, the same code the
release check uses to verify the built wheel: ``py3-none-manylinux_2_Y_<arch>``, where 2.Y is the
newest glibc symbol version the files need (the oldest manylinux policy for a static program;
``py3-none-any`` if none were present). The Python code stays pure, so the wheel is not tied to
one Python version.

The wheel for another machine (REPROSERVER_WHEEL_ARCH=aarch64, from an x86_64 machine; the
release check builds both): the same files, but the helper is compiled for that machine by its
cross compiler (``server/helpers/build.sh ARCH``) and put in the wheel in place of the bundle's,
which stays as it is for this machine's server. The tag then follows that helper, and the build
stops if an ELF file in the wheel is not that machine's.

This hook is declared after jupyter-builder in pyproject.toml: hatch runs hooks in that order, so
the bundle exists (built from a clone, or shipped in the sdist) when the ELF files are read.
"""

import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT / "scripts"))
import wheel_tags  # noqa: E402  (scripts/ is not a package)


HELPER = "helpers/rpz-exec"  # in the bundle
BUNDLE = ROOT / "jupyterlab_reproserver" / "server"
# The machines server/helpers/build.sh and the helper's syscall filter know.
ARCHES = ("x86_64", "aarch64")


def ensure_helper(helper: Path) -> None:
    """The static helper, compiled from server/helpers/*.c when it is not there: an sdist carries
    its sources, never the program (a C compiler able to link statically is then needed)."""
    if helper.is_file():
        return
    build = ROOT / "server" / "helpers" / "build.sh"
    subprocess.run(["sh", str(build)], check=True)
    helper.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(ROOT / "server" / "dist" / "helpers" / "rpz-exec", helper)
    helper.chmod(0o755)


def cross_helper(arch: str, into: Path) -> Path:
    """The helper compiled for ARCH (build.sh ARCH: its cross compiler), copied into INTO: a
    folder outside the project, so that hatch puts it in the wheel in place of the bundle's
    (a forced file from outside reserves its target path; one from inside would not)."""
    build = ROOT / "server" / "helpers" / "build.sh"
    subprocess.run(["sh", str(build), arch], check=True)
    helper = into / "rpz-exec"
    shutil.copyfile(ROOT / "server" / "dist" / "helpers" / arch / "rpz-exec", helper)
    helper.chmod(0o755)
    return helper


def wheel_arch() -> str:
    """The machine the wheel is for: REPROSERVER_WHEEL_ARCH, else this one."""
    arch = os.environ.get("REPROSERVER_WHEEL_ARCH", "").strip() or platform.machine()
    if arch not in ARCHES:
        raise RuntimeError(
            f"REPROSERVER_WHEEL_ARCH={arch!r}: the helper is built for {' or '.join(ARCHES)} only"
        )
    return arch


class CustomBuildHook(BuildHookInterface):
    def initialize(self, version, build_data):
        if self.target_name != "wheel" or version == "editable":
            return
        arch = wheel_arch()
        helper = BUNDLE / HELPER
        if arch == platform.machine():
            ensure_helper(helper)
            facts = wheel_tags.elf_files_in_dir(BUNDLE)
        else:
            self._cross_dir = Path(tempfile.mkdtemp(prefix="rpz-exec-"))
            shipped = cross_helper(arch, self._cross_dir)
            target = f"jupyterlab_reproserver/server/{HELPER}"
            build_data["force_include"][str(shipped)] = target
            facts = [f for f in wheel_tags.elf_files_in_dir(BUNDLE) if f.path != HELPER]
            facts.append(wheel_tags.read_elf(shipped.read_bytes(), HELPER))
        platform_tag = wheel_tags.tag_for(facts, arch)
        build_data["pure_python"] = platform_tag == "any"
        build_data["tag"] = f"py3-none-{platform_tag}"

    def finalize(self, version, build_data, artifact_path):
        cross_dir = getattr(self, "_cross_dir", None)
        if cross_dir is not None:
            shutil.rmtree(cross_dir, ignore_errors=True)
