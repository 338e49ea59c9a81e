"""JupyterLab server configuration of the Binder check (scripts/binder-check.sh).

Galata's test settings (no token, its helper extension) on the port the script picked, the files
at the home folder as on Binder, and nothing of the project's: the companion server starts with
its defaults (state in the home folder, no Docker), exactly as a Binder user gets it. The script
copies this file out of the source tree, so JupyterLab reads nothing from there.
"""

import os

from jupyterlab.galata import configure_jupyter_server

configure_jupyter_server(c)  # noqa: F821 (c is Jupyter's config object)

c.ServerApp.ip = "127.0.0.1"  # noqa: F821
c.ServerApp.port = int(os.environ["REPROSERVER_BINDER_PORT"])  # noqa: F821
c.ServerApp.port_retries = 0  # noqa: F821
c.ServerApp.root_dir = os.environ["HOME"]  # noqa: F821
