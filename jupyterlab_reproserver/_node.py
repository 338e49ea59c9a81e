"""Where the companion server and the Node.js that runs it are: one answer for every caller.

Both the jupyter-server-proxy entry (``proxy.py``) and the ``reproserver`` command (``cli.py``)
start ``node <server script> ...``; they find both here, so the command a user types and the
server JupyterLab starts are the same program under the same Node.js.
"""

import os
import shutil
from pathlib import Path


class MissingPart(RuntimeError):
    """Node.js or the bundled server cannot be found; the message says what to do."""


def server_script() -> str:
    """Where the server is: bundled in the installed package (a wheel, or a source tree built with
    ``npm run build``), else the compiled sources of the source tree the package sits in."""
    override = os.environ.get("REPROSERVER_SERVER_JS")
    if override:
        return override
    here = Path(__file__).resolve().parent
    candidates = (
        here / "server" / "bin" / "reproserver.js",
        here.parent / "server" / "dist" / "cli" / "main.js",
    )
    for candidate in candidates:
        if candidate.is_file():
            return str(candidate)
    raise MissingPart(
        "jupyterlab-reproserver: the companion server is missing (looked for "
        + " and ".join(str(c) for c in candidates)
        + "). In a source tree, run `npm run build`; otherwise reinstall the package."
    )


def node() -> str:
    """The Node.js that runs the server: $REPROSERVER_NODE, else `node` on PATH."""
    found = os.environ.get("REPROSERVER_NODE") or shutil.which("node")
    if not found:
        raise MissingPart(
            "jupyterlab-reproserver: Node.js 20 or newer is needed to run the companion server, "
            "and there is no `node` on PATH (set REPROSERVER_NODE to its path otherwise)."
        )
    return found
