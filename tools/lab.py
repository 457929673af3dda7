"""`make lab`: JupyterLab on the series, on 127.0.0.1, with a fresh token it prints first.

    python -m tools.lab [jupyter lab arguments, e.g. --allow-root] [notebook]

Jupyter's own token is a default, and any user or system config can switch it off
(`c.IdentityProvider.token = ""` in ~/.jupyter, and the server then says "All authentication
is disabled"). A token given on the command line wins over every config file, so this one
always applies. Jupyter shows a token it did not generate as `?token=...`, so the URL to
open, token included, is printed here before the server starts.

    python -m tools.lab --install-settings

installs the series' JupyterLab settings, `binder/overrides.json` (no news pop-up, no update
check, an English interface until a learner picks another language, RISE slides that scroll), as
the environment's `overrides.json`, and `binder/rise-widgets`, the federated extension that lets
the explorers' widgets load in RISE's slideshow (see its remoteEntry.js), into the environment's
labextensions: `make install` and Binder's postBuild run it, and every start through this module
does it first, so a conda environment gets both too.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import sys
from pathlib import Path

FIRST_NOTEBOOK = "notebooks/01_sequential_networks.ipynb"
SETTINGS = Path(__file__).resolve().parents[1] / "binder" / "overrides.json"
RISE_WIDGETS = SETTINGS.parent / "rise-widgets"  # its package.json names it reslib-rise-widgets
RISE_WIDGETS_NAME = "reslib-rise-widgets"


def settings_path(app_dir: Path | None = None) -> Path:
    """Where JupyterLab reads default overrides: `{app_dir}/settings/overrides.json`.

    `app_dir` defaults to JupyterLab's application directory (`{sys.prefix}/share/jupyter/lab`,
    or `$JUPYTERLAB_DIR`).
    """
    if app_dir is None:
        from jupyterlab.commands import get_app_dir

        app_dir = Path(get_app_dir())
    return Path(app_dir) / "settings" / "overrides.json"


def extension_path(app_dir: Path | None = None) -> Path:
    """Where the RISE widgets extension goes: `{app_dir}/../labextensions/reslib-rise-widgets`
    (`{sys.prefix}/share/jupyter/labextensions/...` for the default application directory)."""
    return settings_path(app_dir).parents[2] / "labextensions" / RISE_WIDGETS_NAME


def _copy_if_changed(source: Path, target: Path) -> None:
    if not target.exists() or target.read_bytes() != source.read_bytes():
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)


def install_settings(app_dir: Path | None = None) -> Path:
    """Install `binder/overrides.json` as `settings_path(app_dir)` and `binder/rise-widgets` as
    `extension_path(app_dir)`, copying only what differs; returns the settings file."""
    target = settings_path(app_dir)
    _copy_if_changed(SETTINGS, target)
    for source in sorted(p for p in RISE_WIDGETS.rglob("*") if p.is_file()):
        _copy_if_changed(source, extension_path(app_dir) / source.relative_to(RISE_WIDGETS))
    return target


def free_port(preferred: int = 8888) -> int:
    """`preferred` if nothing listens on it at 127.0.0.1, else a free port the system picks."""
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", preferred))
        except OSError:
            s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# What a caller's arguments may not set: traitlets refuses a repeated flag, and the server must
# stay on localhost with its token.
SECURITY_FLAGS = {
    f.lower()
    for f in (
        "ip", "port", "token", "ServerApp.ip", "ServerApp.port", "ServerApp.port_retries",
        "ServerApp.token", "IdentityProvider.token", "NotebookApp.ip", "NotebookApp.token",
        "ServerApp.password", "PasswordIdentityProvider.hashed_password", "ServerApp.allow_remote_access",
    )
}  # fmt: skip


def command(token: str, port: int, args: list[str]) -> list[str]:
    """The `jupyter lab` command line: bound to 127.0.0.1, on `port`, with `token` (never empty)."""
    if not token:
        raise ValueError("token must not be empty: an empty token turns authentication off")
    for arg in args:
        if arg.split("=")[0].lstrip("-").lower() in SECURITY_FLAGS:
            raise ValueError(
                f"{arg!r}: make lab sets the address, port and token itself (127.0.0.1, a free port, "
                "a fresh token); start jupyter lab directly if you need another"
            )
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
    if argv == ["--install-settings"]:
        print(f"JupyterLab settings: {install_settings()}; RISE widgets: {extension_path()}")
        return
    install_settings()
    token, port = secrets.token_urlsafe(24), free_port()
    args = argv if any(a.endswith(".ipynb") for a in argv) else [*argv, FIRST_NOTEBOOK]
    print(f"\nOpen JupyterLab at http://127.0.0.1:{port}/lab?token={token}\n", flush=True)
    cmd = command(token, port, args)
    os.execv(cmd[0], cmd)  # jupyter replaces this process: Ctrl-C stops it as before


if __name__ == "__main__":
    main(sys.argv[1:])
