"""Hatch build hook: the wheel carries a native program, so it is tagged for this platform.

The companion server bundled in ``jupyterlab_reproserver/server/`` includes the static helper
``helpers/rpz-exec``, compiled for this machine's OS and CPU. Its JavaScript needs no native
module (SQLite is Node's built-in node:sqlite), so it runs on any Node.js new enough. The Python
code stays pure, so the wheel is ``py3-none-<platform>`` rather than tied to one Python version.
"""

import sysconfig

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class CustomBuildHook(BuildHookInterface):
    def initialize(self, version, build_data):
        if self.target_name != "wheel" or version == "editable":
            return
        platform = sysconfig.get_platform().replace("-", "_").replace(".", "_")
        build_data["pure_python"] = False
        build_data["tag"] = f"py3-none-{platform}"
