"""SSH commands: ``otpgate pam`` (run by pam_otpgate.so), ``otpgate ssh setup|enrol``."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from otpgate.cli._errors import EXIT_CONFIG, CliError

if TYPE_CHECKING:
    from otpgate.cli._ssh_setup import SetupPlan

__all__ = ["register"]

DEFAULT_CONFIG = "/etc/otpgate/pam.env"
DEFAULT_SOCKET = "/run/otpgate/pam.sock"


def register(subparsers: Any) -> None:
    pam = subparsers.add_parser(
        "pam",
        help="check a verification code for pam_otpgate.so (code on stdin, PAM_USER set)",
        description="Run by the pam_otpgate.so module: reads the code on standard input, "
        "exits 0 (accepted), 1 (refused), 3 (no 2FA for this user) or 5 (unavailable).",
    )
    pam.add_argument("--config", type=Path, help="file of OTPGATE_* settings")
    pam.add_argument("--map", type=Path, help="file of 'system-user otpgate-user' lines")
    pam.set_defaults(handler=_pam)

    ssh = subparsers.add_parser("ssh", help="two-factor SSH logins: setup and self-enrolment")
    commands = ssh.add_subparsers(dest="ssh_command", metavar="COMMAND", required=True)
    setup = commands.add_parser("setup", help="print (or --write) the PAM and sshd settings")
    setup.add_argument("--write", action="store_true", help="install them, with backups")
    setup.add_argument("--root", type=Path, default=Path("/"),
                       help="root directory of the files (default /; tests use another)")
    setup.add_argument("--helper", help="absolute path of otpgate (default: this one)")
    setup.add_argument("--module", default="pam_otpgate.so", help="PAM module name or path")
    setup.add_argument("--config", default=DEFAULT_CONFIG, help="settings file for the helper")
    setup.add_argument("--map", default="", help="user map file for the helper")
    setup.add_argument("--group", default="", help="only members of this group need a code")
    setup.add_argument("--nullok", action="store_true",
                       help="let users without 2FA in (off by default)")
    setup.add_argument("--with-password", action="store_true",
                       help="password then code, instead of public key then code")
    setup.add_argument("--socket", default="",
                       help="ask `otpgate pam-daemon` on this socket (faster; the helper "
                       "stays as the fallback); --write also installs its systemd unit")
    setup.set_defaults(handler=_setup)

    enrol = commands.add_parser("enrol", help="turn on 2FA for your own account, in the terminal")
    enrol.add_argument("--hotp", action="store_true", help="counter-based codes (default TOTP)")
    enrol.add_argument("--name", default="Terminal enrolment", help="name of the authenticator")
    enrol.add_argument("--config", type=Path, help="file of OTPGATE_* settings")
    enrol.add_argument("--map", type=Path, help="file of 'system-user otpgate-user' lines")
    enrol.set_defaults(handler=_enrol)


def _pam(args: argparse.Namespace) -> int:
    from otpgate.pam.helper import run

    return run(stdin=sys.stdin.buffer, stderr=sys.stderr, config=args.config,
               user_map=args.map)


def _helper_path(given: str | None) -> str:
    path = given or shutil.which("otpgate") or sys.argv[0]
    resolved = Path(path).absolute()
    if not given and not resolved.is_file():
        raise CliError("cannot tell where otpgate is installed: pass --helper", EXIT_CONFIG)
    return str(resolved)


def _setup(args: argparse.Namespace) -> int:
    from otpgate.cli._ssh_setup import SetupPlan, install, pam_block, sshd_settings

    plan = SetupPlan(
        helper=_helper_path(args.helper), module=args.module, config=args.config,
        user_map=args.map, group=args.group, nullok=args.nullok,
        with_password=args.with_password, socket=args.socket,
    )
    if args.write:
        for line in install(args.root, plan):
            print(line)
        return 0
    where = "after '@include common-auth'" if plan.with_password else (
        "in place of '@include common-auth' (comment that line out)")
    print(f"# /etc/pam.d/sshd, {where}:")
    print("\n".join(pam_block(plan)))
    print()
    print("# /etc/ssh/sshd_config.d/00-otpgate.conf:")
    print("\n".join(sshd_settings(plan)))
    _print_daemon_variant(plan)
    return 0


def _print_daemon_variant(plan: SetupPlan) -> None:
    from dataclasses import replace

    from otpgate.cli._ssh_setup import daemon_unit, pam_block

    socket = plan.socket or DEFAULT_SOCKET
    if not plan.socket:
        print()
        print("# Faster checks: run `otpgate pam-daemon` (unit below) and use this module line")
        print("# instead (the helper then only answers while the daemon is down):")
        print(pam_block(replace(plan, socket=socket))[2])
    print()
    print("# /etc/systemd/system/otpgate-pam.service (then: systemctl enable --now otpgate-pam):")
    print("\n".join(daemon_unit(plan, socket)))


def _enrol(args: argparse.Namespace) -> int:
    from otpgate.cli._context import operator_context
    from otpgate.cli._ssh_enrol import caller_unix_name, enrol
    from otpgate.config import Settings
    from otpgate.pam.errors import FileRefused
    from otpgate.pam.files import map_user, read_settings_file, read_user_map
    from otpgate.service.context import Origin

    unix_name = caller_unix_name()
    values = dict(os.environ)
    try:
        mapping = read_user_map(args.map) if args.map is not None else None
        if args.config is not None:
            values.update(read_settings_file(args.config))
    except FileRefused as exc:
        raise CliError(str(exc), EXIT_CONFIG) from None
    username = map_user(unix_name, mapping)
    origin = Origin(source="cli", user_agent=f"cli:ssh-enrol:{unix_name}")
    with operator_context(Settings.from_env(values)) as ctx:
        return enrol(ctx, origin, username, kind="hotp" if args.hotp else "totp",
                     name=args.name)
