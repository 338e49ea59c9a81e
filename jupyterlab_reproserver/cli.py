"""The ``reproserver`` command that ``pip install`` puts on PATH.

It becomes ``node <bundled server> ARGS...`` (the same Node.js and server that JupyterLab's proxy
starts, found by ``_node``): the process is replaced, not wrapped, so the exit code, signals
(Ctrl-C, SIGTERM) and the terminal reach the server's CLI as if it had been started directly.
"""

import os
import sys

from ._node import MissingPart, node, server_script

# What a shell answers for a command it cannot run: the CLI itself never exits with it.
EXIT_MISSING = 127


def main() -> None:
    try:
        executable = node()
        script = server_script()
    except MissingPart as missing:
        print(missing, file=sys.stderr)
        sys.exit(EXIT_MISSING)
    # Flushed before exec: what Python buffered would be lost with the process image.
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execv(executable, [executable, script, *sys.argv[1:]])
    except OSError as error:
        print(f"jupyterlab-reproserver: cannot run {executable}: {error}", file=sys.stderr)
        sys.exit(EXIT_MISSING)


if __name__ == "__main__":
    main()
