"""Time one SSH code check adds to a PAM authentication: helper process vs pam-daemon.

Runs Debian's ``pamtester`` against three temporary PAM services (``/etc/pam.d/otpgate-bench-*``,
removed at the end) and times each whole ``pamtester`` run:

* ``baseline``: ``auth required pam_permit.so`` (pamtester's own start-up and PAM's);
* ``helper``: ``pam_otpgate.so helper=…``: one ``otpgate pam`` process per check;
* ``socket``: ``pam_otpgate.so socket=…``: a running ``otpgate pam-daemon``.

Every check is a real success (the full path: throttle, secret decryption, HMAC, the
conditional UPDATE of the credential, an audit row): the user has a counter-based (HOTP)
authenticator and each run sends the next counter value. The three services take turns
in each round, so a slow moment of the machine hits them alike. The time a check adds is
a mode's median minus the baseline's median.

Needs root (it writes /etc/pam.d files) and ``make pam``. Usage:
``python benchmarks/pam_check.py [--runs 30]``. Prints one table; never fails on slow results.
"""

from __future__ import annotations

import argparse
import base64
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from otpgate.config import Settings
from otpgate.otp import Hotp, b32decode
from otpgate.service import enrolment, users
from otpgate.service.context import Origin, build_context

ROOT = Path(__file__).resolve().parents[1]
MODULE = ROOT / "pam" / "pam_otpgate.so"
HELPER = Path(sys.executable).parent / "otpgate"
ORIGIN = Origin(source="cli", user_agent="cli:benchmark")


def _settings_file(home: Path) -> Path:
    key = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")
    path = home.parent / "otpgate.env"
    path.write_text(f"OTPGATE_HOME={home}\nOTPGATE_SECRET_KEYS=k1:{key}\n"
                    "OTPGATE_ARGON2_TIME_COST=1\nOTPGATE_ARGON2_MEMORY_KIB=8\n"
                    "OTPGATE_ARGON2_PARALLELISM=1\n", encoding="utf-8")
    path.chmod(0o600)
    return path


def _hotp_user(env_file: Path, name: str) -> Hotp:
    """An otpgate user with a confirmed HOTP authenticator (counter 0 used)."""
    values = dict(line.split("=", 1) for line in env_file.read_text().splitlines())
    ctx = build_context(Settings.from_env(values), migrate=True)
    try:
        user = users.create_user(ctx, ORIGIN, name, "benchmark password 1")
        pending = enrolment.begin_enrolment(ctx, ORIGIN, user.id, step_up_at=ctx.now_dt(),
                                            kind="hotp")
        hotp = Hotp(b32decode(pending.secret_b32))
        enrolment.confirm_enrolment(ctx, ORIGIN, user.id, pending.credential_id,
                                    hotp.generate(0), "bench")
    finally:
        ctx.session_factory.kw["bind"].dispose()
    return hotp


@contextmanager
def _pam_services(lines: dict[str, str]) -> Iterator[dict[str, str]]:
    """One temporary /etc/pam.d file per mode; mode → service name."""
    names = {mode: f"otpgate-bench-{mode}-{secrets.token_hex(3)}" for mode in lines}
    try:
        for mode, line in lines.items():
            (Path("/etc/pam.d") / names[mode]).write_text(
                f"# temporary, otpgate benchmark\nauth required {line}\n"
                "account required pam_permit.so\n", encoding="utf-8")
        yield names
    finally:
        for name in names.values():
            (Path("/etc/pam.d") / name).unlink(missing_ok=True)


@contextmanager
def _daemon(socket_path: Path, env_file: Path, log: Path) -> Iterator[None]:
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(HELPER), "pam-daemon", "--socket", str(socket_path), "--config", str(env_file)],
            stdout=out, stderr=subprocess.STDOUT, env={"PATH": "/usr/bin:/bin"})
    try:
        deadline = time.monotonic() + 30
        while "listening on" not in log.read_text(errors="replace"):
            if proc.poll() is not None or time.monotonic() > deadline:
                sys.exit(f"pam-daemon did not start: {log.read_text(errors='replace')}")
            time.sleep(0.02)
        yield
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def _timed(pamtester: str, service: str, user: str, answer: str) -> tuple[float, int]:
    started = time.perf_counter()
    result = subprocess.run([pamtester, service, user, "authenticate"],
                            input=f"{answer}\n".encode(), capture_output=True, check=False)
    return time.perf_counter() - started, result.returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30, help="checks per mode (default 30)")
    args = parser.parse_args()
    pamtester = shutil.which("pamtester")
    if os.geteuid() != 0 or pamtester is None or not MODULE.exists():
        sys.exit("needs root, pamtester and pam/pam_otpgate.so (make pam)")
    base = Path(tempfile.mkdtemp(prefix="otpgate-bench-"))
    try:
        env_file = _settings_file(base / "home")
        hotp = _hotp_user(env_file, "bench")
        socket_path = base / "run" / "pam.sock"
        lines = {
            "baseline": "pam_permit.so",
            "helper": f"{MODULE} helper={HELPER} config={env_file}",
            "socket": f"{MODULE} socket={socket_path}",
        }
        times: dict[str, list[float]] = {mode: [] for mode in lines}
        refused = dict.fromkeys(lines, 0)
        counter = 1
        with _pam_services(lines) as names, _daemon(socket_path, env_file, base / "log"):
            for _ in range(args.runs):
                for mode in lines:
                    elapsed, status = _timed(pamtester, names[mode], "bench",
                                             hotp.generate(counter))
                    counter += mode != "baseline"
                    times[mode].append(elapsed)
                    refused[mode] += status != 0
        _report(times, refused, args.runs)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return 0


def _report(times: dict[str, list[float]], refused: dict[str, int], runs: int) -> None:
    base = statistics.median(times["baseline"])
    print(f"pamtester, {runs} checks per mode, one successful HOTP check each "
          f"(SQLite, {os.cpu_count()} CPUs)")
    print(f"{'mode':<10}{'median ms':>11}{'p90 ms':>9}{'added ms':>10}{'vs helper':>11}"
          f"{'refused':>9}")
    helper_added = statistics.median(times["helper"]) - base
    for mode, values in times.items():
        median = statistics.median(values)
        p90 = statistics.quantiles(values, n=10)[-1] if len(values) > 1 else median
        added = median - base
        ratio = f"{added / helper_added:.3f}x" if mode != "baseline" and helper_added else "-"
        print(f"{mode:<10}{median * 1000:>11.1f}{p90 * 1000:>9.1f}{added * 1000:>10.1f}"
              f"{ratio:>11}{refused[mode]:>9}")


if __name__ == "__main__":
    raise SystemExit(main())
