"""A real sshd whose PAM module asks otpgate pam-daemon (``socket=``, no helper at all)."""

from __future__ import annotations

import pytest

from otpgate.service import audit

from .conftest import Daemon, Otpgate, ServiceFactory, next_code
from .test_sshd import Sshd, _login, sshd  # noqa: F401  (sshd is a fixture)


@pytest.fixture
def pam_service(pam_service: ServiceFactory, daemon: Daemon) -> ServiceFactory:
    """The sshd fixture's PAM service, pointed at the daemon's socket, without helper=."""

    def _make(*options: str, name: str = "") -> str:
        return pam_service(f"socket={daemon.socket}", *options, name=name, with_helper=False)

    return _make


def test_ssh_login_through_daemon(sshd: Sshd, otpgate: Otpgate, daemon: Daemon) -> None:  # noqa: F811
    """Right code: the command runs; wrong code and replay: refused; the daemon decided."""
    secret = otpgate.add_user(sshd.user.name)
    code = next_code(secret)
    wrong = "000000" if code != "000000" else "111111"
    assert _login(sshd, wrong) is None
    assert _login(sshd, code) == f"logged-in-as-{sshd.user.name}\n"
    assert _login(sshd, code) is None
    events = [e for e in audit.query_audit(otpgate.ctx, username=sshd.user.name)
              if e.kind.startswith("login.")]
    assert [e.kind for e in events].count("login.ok") == 1
    assert all(e.source == "ssh" and e.client_addr == "127.0.0.1" for e in events)
    log = daemon.log_text()
    assert f"accepted user={sshd.user.name} rhost=127.0.0.1 method=totp" in log
    assert log.count(f"refused user={sshd.user.name} rhost=127.0.0.1") == 2
