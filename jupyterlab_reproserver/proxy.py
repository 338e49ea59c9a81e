"""jupyter-server-proxy entry point: starts the companion Node.js server on first use.

The proxy serves it under ``<base_url>reproserver/``. A token is generated once per Jupyter
server process and injected by the proxy into every request it forwards (``request_headers_override``),
so the browser never handles it; Jupyter's own login protects the proxy, and the Node server
refuses any request that does not carry the token (for example from another local process).

The token reaches the server in a private file that the server reads once and deletes, never in
its environment: a process's initial environment stays readable in /proc/PID/environ by every
process of the same user allowed to trace it, experiments included where they are not confined.
"""

import atexit
import os
import secrets
import shutil
import tempfile

from ._node import node, server_script

TOKEN_HEADER = "X-ReproServer-Token"
_TOKEN = secrets.token_hex(32)

_handover_folder = None


def _token_handover() -> str:
    """A new private file holding the token, for one start of the server (which deletes it)."""
    global _handover_folder
    if _handover_folder is None:
        _handover_folder = tempfile.mkdtemp(prefix="reproserver-token-")  # mode 0700
        atexit.register(shutil.rmtree, _handover_folder, True)
    path = os.path.join(_handover_folder, f"token-{secrets.token_hex(8)}")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(_TOKEN)
    return path


def _command(port: int) -> list:
    # Called at every start of the server (jupyter-server-proxy restarts it if it dies).
    return [
        node(),
        server_script(),
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--token-from",
        _token_handover(),
    ]


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
    return {"REPROSERVER_WORKSPACE": _workspace()}


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
