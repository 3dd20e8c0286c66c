"""`installation kiosk install-unit`: a systemd unit that keeps the kiosk running.

systemd starts the supervisor (`installation run SHOW --kiosk`), restarts it if it ever
ends (Restart=always), and kills it if its sd_notify watchdog pings stop (WatchdogSec):
three layers, the show's own recovery, the supervisor's restarts, and systemd's.
"""

from __future__ import annotations

import argparse
import logging
import shlex
import sys
from pathlib import Path

from installation.files import atomic_write_bytes

log = logging.getLogger(__name__)

UNIT_NAME = "installation.service"


def unit_text(
    show: Path,
    *,
    python: str = sys.executable,
    user: bool = True,
    display: str = ":0",
    watchdog_s: int = 30,
) -> str:
    show = show.resolve()
    target = "graphical-session.target" if user else "graphical.target"
    ctl = "systemctl --user" if user else "systemctl"
    return f"""\
# Written by `installation kiosk install-unit`; then: {ctl} daemon-reload && {ctl} enable --now {UNIT_NAME}
[Unit]
Description=installation (kiosk): {show.name}
After={target}
PartOf={target}

[Service]
# The supervisor says READY=1 at the first frame and WATCHDOG=1 while it runs (sd_notify).
Type=notify
NotifyAccess=main
WorkingDirectory={shlex.quote(str(show.parent))}
Environment=DISPLAY={display}
Environment=PYTHONUNBUFFERED=1
ExecStart={shlex.quote(python)} -m installation run {shlex.quote(str(show))} --kiosk
Restart=always
RestartSec=3
WatchdogSec={watchdog_s}
TimeoutStartSec=300
TimeoutStopSec=30
KillMode=mixed

[Install]
WantedBy={target}
"""


def default_path(user: bool) -> Path:
    return (
        (Path.home() / ".config/systemd/user" / UNIT_NAME)
        if user
        else Path("/etc/systemd/system") / UNIT_NAME
    )


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="kiosk_command", required=True, metavar="ACTION")
    u = sub.add_parser(
        "install-unit", help="print (or --write) a systemd unit that runs the show with --kiosk"
    )
    u.add_argument("show", nargs="?", default="show.yaml", help="show file (default ./show.yaml)")
    u.add_argument(
        "--write",
        nargs="?",
        const="",
        metavar="PATH",
        help=f"write it (default ~/.config/systemd/user/{UNIT_NAME}, or /etc/systemd/system with --system)",
    )
    u.add_argument("--system", action="store_true", help="a system unit instead of a user unit")
    u.add_argument("--display", default=":0", help="the X display (default :0)")
    u.add_argument("--watchdog", type=int, default=30, metavar="S", help="WatchdogSec (default 30)")


def cmd_kiosk(args: argparse.Namespace) -> int:
    user = not args.system
    text = unit_text(Path(args.show), user=user, display=args.display, watchdog_s=args.watchdog)
    if args.write is None:
        sys.stdout.write(text)
        return 0
    path = Path(args.write) if args.write else default_path(user)
    atomic_write_bytes(path, text.encode())
    ctl = "systemctl --user" if user else "systemctl"
    sys.stdout.write(
        f"wrote {path}\nnow run: {ctl} daemon-reload && {ctl} enable --now {UNIT_NAME}\n"
    )
    return 0


COMMANDS = [
    (
        "kiosk",
        "kiosk helpers: install-unit prints or writes a systemd unit",
        add_arguments,
        cmd_kiosk,
    )
]
