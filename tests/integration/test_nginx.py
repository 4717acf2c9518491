"""The login flow through a real nginx with ``auth_request`` (see nginx_stack.py): the
protected ``/app/`` beside the portal."""

from __future__ import annotations

from urllib.parse import quote

from .nginx_stack import Stack, code_step, csrf, password_step


def _login_redirect(stack: Stack, path: str) -> str:
    return f"{stack.base}/login?rd=" + quote(f"{stack.base}{path}", safe="")


def test_login_flow_through_nginx(stack: Stack) -> None:
    """No session → login; password only → refused; password + code → upstream sees alice;
    forged identity headers are replaced; logout ends access, the old cookie too."""
    with stack.browser() as client:
        first = client.get("/app/page?x=1")
        assert first.status_code == 302
        assert first.headers["location"] == _login_redirect(stack, "/app/page?x=1")

        after_password = password_step(client, "alice", first.headers["location"])
        assert after_password.status_code == 303
        assert after_password.headers["location"] == "/login/2fa"
        refused = client.get("/app/page?x=1")
        assert refused.status_code == 302
        assert refused.headers["location"].startswith(f"{stack.base}/login?rd=")

        done = code_step(client, stack, "alice")
        assert done.status_code == 303
        assert done.headers["location"] == f"{stack.base}/app/page?x=1"

        forged = {"X-Otpgate-User": "root", "x-otpgate-user": "root",
                  "X_Otpgate_User": "root", "x_otpgate_user": "root",
                  "X-Otpgate-Groups": "admins"}
        seen = client.get("/app/page?x=1", headers=forged)
        assert seen.status_code == 200
        echoed = seen.json()
        assert echoed["path"] == "/app/page?x=1"
        identity = [
            (k.lower().replace("_", "-"), v) for k, v in echoed["headers"]
            if k.lower().replace("_", "-").startswith("x-otpgate-")
        ]
        assert sorted(identity) == [
            ("x-otpgate-email", "alice@example.com"),
            ("x-otpgate-groups", "staff"),
            ("x-otpgate-user", "alice"),
        ]
        assert "otpgate_session" not in str(echoed["headers"])
        posted = client.post("/app/form", data={"a": "b"})
        assert posted.status_code == 200 and posted.json()["method"] == "POST"

        old_cookie = client.cookies.get("otpgate_session")
        assert old_cookie
        token = csrf(client.get("/"))
        assert client.post("/logout", data={"csrf_token": token}).status_code == 303
        after_logout = client.get("/app/page")
        assert after_logout.status_code == 302
        assert after_logout.headers["location"] == _login_redirect(stack, "/app/page")

    with stack.browser() as replay:
        again = replay.get("/app/page", headers={"Cookie": f"otpgate_session={old_cookie}"})
        assert again.status_code == 302


def test_user_outside_the_site_group_is_forbidden(stack: Stack) -> None:
    """bob has a full session but is not in the site's group: nginx answers 403."""
    with stack.browser() as client:
        assert password_step(client, "bob").headers["location"] == "/login/2fa"
        assert code_step(client, stack, "bob").headers["location"] == "/"
        response = client.get("/app/page")
        assert response.status_code == 403
        assert "location" not in response.headers


def test_off_site_return_url_and_forged_host_lead_nowhere_else(stack: Stack) -> None:
    """An off-site rd= is ignored after login; a forged Host is sent back to the site."""
    with stack.browser() as client:
        # nginx serves an unknown Host from the default server, whose URL the config
        # writes out: the way back is that URL, never the forged host.
        spoofed = client.get("/app/page", headers={"Host": "evil.example.net"})
        assert spoofed.status_code == 302
        assert spoofed.headers["location"] == _login_redirect(stack, "/app/page")

        login_page = "/login?rd=" + quote("https://evil.example.net/app/", safe="")
        assert password_step(client, "carol", login_page).headers["location"] == "/login/2fa"
        done = code_step(client, stack, "carol")
        assert done.status_code == 303
        assert done.headers["location"] == "/"
        assert client.get("/app/page").status_code == 200
