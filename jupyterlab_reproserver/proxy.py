"""jupyter-server-proxy entry point: starts the companion Node.js server on first use.

The proxy serves it under ``<base_url>reproserver/``. A token is generated once per Jupyter
server process and injected by the proxy into every request it forwards (``request_headers_override``),
so the browser never handles it; Jupyter's own login protects the proxy, and the Node server
refuses any request that does not carry the token (for example from another local process).
"""

import os
import secrets
import shutil
from pathlib import Path

TOKEN_HEADER = "X-ReproServer-Token"
_TOKEN = secrets.token_hex(32)


def _server_script() -> str:
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
    raise RuntimeError(
        "jupyterlab-reproserver: the companion server is missing (looked for "
        + " and ".join(str(c) for c in candidates)
        + "). In a source tree, run `npm run build`; otherwise reinstall the package."
    )


def _node() -> str:
    """The Node.js that runs the server: $REPROSERVER_NODE, else `node` on PATH."""
    node = os.environ.get("REPROSERVER_NODE") or shutil.which("node")
    if not node:
        raise RuntimeError(
            "jupyterlab-reproserver: Node.js 20 or newer is needed to run the companion server, "
            "and there is no `node` on PATH (set REPROSERVER_NODE to its path otherwise)."
        )
    return node


def _command(port: int) -> list:
    return [_node(), _server_script(), "serve", "--host", "127.0.0.1", "--port", str(port)]


def _workspace() -> str:
    """The root of the user's files: the Jupyter server's root_dir (what the file browser shows)."""
    if os.environ.get("REPROSERVER_WORKSPACE"):
        return os.environ["REPROSERVER_WORKSPACE"]
    try:
        from jupyter_server.serverapp import ServerApp

        if ServerApp.initialized():
            return os.path.abspath(os.path.expanduser(ServerApp.instance().root_dir))
    except Exception:  # an unusual host: fall back to the working directory
        pass
    return os.getcwd()


def _environment() -> dict:
    return {"REPROSERVER_TOKEN": _TOKEN, "REPROSERVER_WORKSPACE": _workspace()}


def setup_reproserver() -> dict:
    """The ServerProxy server description for the ``reproserver`` entry."""
    return {
        "command": _command,
        "environment": _environment,
        # Node's cold start on a small Binder machine can take several seconds.
        "timeout": 60,
        "absolute_url": False,
        "request_headers_override": {TOKEN_HEADER: _TOKEN},
        "launcher_entry": {"enabled": False},
        "new_browser_tab": False,
    }
