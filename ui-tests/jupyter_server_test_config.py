"""JupyterLab server configuration for the galata tests.

Galata's defaults (no token, no XSRF check, its helper extension), on the port the test command
picked, with the companion server launched by jupyter-server-proxy exactly as users get it.
"""

import os
import tempfile

from jupyterlab.galata import configure_jupyter_server

configure_jupyter_server(c)  # noqa: F821 (c is Jupyter's config object)

c.ServerApp.ip = "127.0.0.1"  # noqa: F821
c.ServerApp.port = int(os.environ.get("REPROSERVER_UI_PORT", "8898"))  # noqa: F821
c.ServerApp.port_retries = 0  # noqa: F821
# Galata probes paths that do not exist yet; its 404 warnings would drown real failures.
c.Application.log_level = "ERROR"  # noqa: F821
if os.geteuid() == 0:
    c.ServerApp.allow_root = True  # noqa: F821

# The companion server keeps its records apart from the start command's.
os.environ.setdefault(
    "REPROSERVER_STATE_DIR", tempfile.mkdtemp(prefix="reproserver-ui-state-")
)

# Terminals inherit JupyterLab's environment (PATH with the .venv's `reproserver`, the services'
# variables), as when `jupyter lab` is started from a terminal. Started without a tty, as here,
# Jupyter would run a login shell, and Debian's /etc/profile resets PATH.
c.ServerApp.terminado_settings = {  # noqa: F821
    "shell_command": [os.environ.get("SHELL") or "/bin/sh"]
}
# And they start where JupyterLab was started, which users do in its root (the default root):
# galata's root is a temporary folder, so start there (workspace paths are relative to it).
os.chdir(c.ServerApp.root_dir)  # noqa: F821
