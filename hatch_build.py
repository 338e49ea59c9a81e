"""Hatch build hook: the wheel carries a native module, so it is tagged for this platform.

The companion server bundled in ``jupyterlab_reproserver/server/`` includes better-sqlite3's
``.node`` file, compiled for this machine's OS, CPU and Node.js ABI. The Python code stays pure,
so the wheel is ``py3-none-<platform>`` rather than tied to one Python version. (The Node.js ABI
cannot be expressed in a wheel tag: the bundle records it and the server says so when it differs;
see scripts/bundle-server-entry.cjs.)
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
