"""A throw-away PostgreSQL cluster that a test can stop and start again.

``initdb`` refuses to run as root, so as root the cluster belongs to the ``postgres``
system user (``runuser``); as anyone else it is the caller's. It listens on 127.0.0.1
and a free port, with its socket in its own directory, and trusts local connections.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def server_bin_dir() -> Path | None:
    """Debian's PostgreSQL server programs (initdb, pg_ctl), newest version first."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), reverse=True)
    if found:
        return Path(found[0]).parent
    pg_ctl = shutil.which("pg_ctl")
    return Path(pg_ctl).parent if pg_ctl else None


@dataclass
class Cluster:
    bin_dir: Path
    data: Path
    port: int
    owner: str | None  # a user to run the programs as (when we are root)

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, program: str, *args: str) -> None:
        argv = [str(self.bin_dir / program), *args]
        if self.owner is not None:
            argv = ["runuser", "-u", self.owner, "--", *argv]
        subprocess.run(argv, check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        options = (f"-p {self.port} -k {self.data.parent / 'sock'} "
                   "-c listen_addresses=127.0.0.1 -c fsync=off")
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-w", "-l",
                  str(self.data.parent / "server.log"), "start")

    def stop(self) -> None:
        """Fast shutdown: connected sessions are terminated, as in a real outage."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")


@contextmanager
def throwaway_cluster() -> Iterator[Cluster]:
    """A new, running cluster in a new temporary directory; stopped and deleted afterwards.

    Not under pytest's ``tmp_path``: its parents are private to the user running the
    tests, and the cluster's owner must be able to reach its directory.
    """
    bin_dir = server_bin_dir()
    if bin_dir is None:
        raise FileNotFoundError("PostgreSQL server programs (initdb, pg_ctl) not found")
    owner = "postgres" if os.geteuid() == 0 else None
    root = Path(tempfile.mkdtemp(prefix="otpgate-pg-"))
    (root / "sock").mkdir()
    if owner is not None:
        account = pwd.getpwnam(owner)
        for path in (root, root / "sock"):
            os.chown(path, account.pw_uid, account.pw_gid)
    cluster = Cluster(bin_dir, root / "data", _free_port(), owner)
    cluster._run("initdb", "-D", str(cluster.data), "-U", "postgres", "--auth=trust",
                 "--no-sync", "-E", "UTF8")
    cluster.start()
    try:
        yield cluster
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
            cluster.stop()
        shutil.rmtree(root, ignore_errors=True)
