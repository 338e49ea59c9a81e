"""Hatch build hook: the wheel's platform tag follows the ELF files it carries.

The companion server bundled in ``jupyterlab_reproserver/server/`` is JavaScript with no native
module (SQLite is Node's built-in node:sqlite) plus the static helper ``rpz-exec``, built for this
machine's CPU. The tag is computed from the ELF files by scripts/wheel_tags.py, the same code the
release check uses to verify the built wheel: ``py3-none-manylinux_2_Y_<arch>``, where 2.Y is the
newest glibc symbol version the files need (the oldest manylinux policy for a static program;
``py3-none-any`` if none were present). The Python code stays pure, so the wheel is not tied to
one Python version.

This hook is declared after jupyter-builder in pyproject.toml: hatch runs hooks in that order, so
the bundle exists (built from a clone, or shipped in the sdist) when the ELF files are read.
"""

import shutil
import subprocess
import sys
from pathlib import Path

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT / "scripts"))
import wheel_tags  # noqa: E402  (scripts/ is not a package)


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


class CustomBuildHook(BuildHookInterface):
    def initialize(self, version, build_data):
        if self.target_name != "wheel" or version == "editable":
            return
        bundle = ROOT / "jupyterlab_reproserver" / "server"
        ensure_helper(bundle / "helpers" / "rpz-exec")
        platform = wheel_tags.tag_for(wheel_tags.elf_files_in_dir(bundle))
        build_data["pure_python"] = platform == "any"
        build_data["tag"] = f"py3-none-{platform}"
