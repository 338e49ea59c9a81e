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
    """Where the compiled server is: bundled in the package, or in the source tree it sits in."""
    override = os.environ.get("REPROSERVER_SERVER_JS")
    if override:
        return override
    here = Path(__file__).resolve().parent
    for candidate in (here / "server" / "dist" / "cli" / "main.js",
                      here.parent / "server" / "dist" / "cli" / "main.js"):
        if candidate.is_file():
            return str(candidate)
    raise RuntimeError(
        "jupyterlab-reproserver: the companion server is not built "
        f"(looked in {here / 'server'} and {here.parent / 'server'})."
    )


def _node() -> str:
    return os.environ.get("REPROSERVER_NODE") or shutil.which("node") or "node"


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
