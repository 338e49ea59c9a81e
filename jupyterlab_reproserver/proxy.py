"""jupyter-server-proxy entry point: starts the companion Node.js server on first use.

The proxy serves it under ``<base_url>reproserver/``. A token is generated once per Jupyter
server process and injected by the proxy into every request it forwards (``request_headers_override``),
so the browser never handles it; Jupyter's own login protects the proxy, and the Node server
refuses any request that does not carry the token (for example from another local process).

The token reaches the server in a private file that the server reads once and deletes, never in
its environment: a process's initial environment stays readable in /proc/PID/environ by every
process of the same user allowed to trace it, experiments included where they are not confined.

A server shared by several users (README, "A server shared by several users"): when the spawner
sets ``REPROSERVER_SHARED_PORT`` (the shared server's port on this machine's loopback) and
``REPROSERVER_USER_TOKEN`` (this user's token, from ``reproserver users add``), nothing is
started: the proxy forwards to that server and injects this user's token instead.
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


def _shared_server():
    """(port, token) of a shared server the spawner named, or None to start our own."""
    port = os.environ.get("REPROSERVER_SHARED_PORT", "")
    token = os.environ.get("REPROSERVER_USER_TOKEN", "")
    if not port and not token:
        return None
    if not port.isdigit() or not 0 < int(port) < 65536 or not token:
        raise ValueError(
            "A shared ReproServer needs both REPROSERVER_SHARED_PORT (a port number) and "
            "REPROSERVER_USER_TOKEN (this user's token): set both in the spawner's environment."
        )
    return int(port), token


def setup_reproserver() -> dict:
    """The ServerProxy server description for the ``reproserver`` entry."""
    shared = _shared_server()
    if shared is not None:
        port, token = shared
        # An empty command: jupyter-server-proxy starts nothing and forwards to the port.
        return {
            "command": [],
            "port": port,
            "absolute_url": False,
            "request_headers_override": {TOKEN_HEADER: token},
            "launcher_entry": {"enabled": False},
            "new_browser_tab": False,
        }
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
