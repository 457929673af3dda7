"""`make lab`: JupyterLab on the series, on 127.0.0.1, with a fresh token it prints first.

    python -m tools.lab [jupyter lab arguments, e.g. --allow-root] [notebook]

Jupyter's own token is a default, and any user or system config can switch it off
(`c.IdentityProvider.token = ""` in ~/.jupyter, and the server then says "All authentication
is disabled"). A token given on the command line wins over every config file, so this one
always applies. Jupyter shows a token it did not generate as `?token=...`, so the URL to
open, token included, is printed here before the server starts.
"""

from __future__ import annotations

import os
import secrets
import socket
import sys

FIRST_NOTEBOOK = "notebooks/01_sequential_networks.ipynb"


def free_port(preferred: int = 8888) -> int:
    """`preferred` if nothing listens on it at 127.0.0.1, else a free port the system picks."""
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", preferred))
        except OSError:
            s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def command(token: str, port: int, args: list[str]) -> list[str]:
    """The `jupyter lab` command line: bound to 127.0.0.1, on `port`, with `token` (never empty)."""
    if not token:
        raise ValueError("token must not be empty: an empty token turns authentication off")
    return [
        sys.executable,  # this environment's Python runs its own jupyter, on any OS
        "-m",
        "jupyter",
        "lab",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",  # the printed URL must name the port the server gets
        f"--IdentityProvider.token={token}",
        *args,
    ]


def main(argv: list[str]) -> None:
    token, port = secrets.token_urlsafe(24), free_port()
    args = argv if any(a.endswith(".ipynb") for a in argv) else [*argv, FIRST_NOTEBOOK]
    print(f"\nOpen JupyterLab at http://127.0.0.1:{port}/lab?token={token}\n", flush=True)
    cmd = command(token, port, args)
    os.execv(cmd[0], cmd)  # jupyter replaces this process: Ctrl-C stops it as before


if __name__ == "__main__":
    main(sys.argv[1:])
