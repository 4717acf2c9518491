"""Every page of the portal, as users and administrators see it, in English and French:
the passkey pages and the confirmation pages of admin actions too.

For each page and language, in a real Chromium: nothing scrolls sideways on a 360 or
390 px phone; axe-core (injected into the page) finds no WCAG 2.1 A/AA violation; no
machine code (``login.ok``, ``must_enrol``, ``False``) is shown; French pages hold no
English word of the catalog. Screenshots at 390 and 1280 px are kept in
``test-artifacts/browser/pages/``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from playwright.sync_api import BrowserContext, Page, expect

from conftest import unavailable
from otpgate.service.audit import AuditKind

from .passkey_support import VirtualAuthenticator
from .support import (
    ARTIFACTS,
    PASSWORD,
    PERIOD,
    Portal,
    code_at,
    confirm_with_step_up,
    create_user,
    enrol,
    log_in,
    log_in_admin,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / ".cache" / "node" / "node_modules" / "axe-core" / "axe.min.js"
CATALOG = ROOT / "src" / "otpgate" / "web" / "locale" / "fr" / "LC_MESSAGES" / "messages.po"
SHOTS = ARTIFACTS / "pages"
PHONES = (360, 390)
USER = "noor"
PLAIN = "sam"
GONE = "lee"

# The page's own words: text nodes and the attributes people hear or read, except what
# says it is another language (the "English" button) or not to be translated (names).
_PAGE_WORDS_JS = """() => {
  const out = [];
  const skip = (el) => el.closest('[translate="no"]') ||
    (el.closest('[lang]') && el.closest('[lang]').lang !== document.documentElement.lang);
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode, el = node.parentElement;
    if (!el || skip(el) || ['SCRIPT', 'STYLE'].includes(el.tagName)) continue;
    if (el.closest('.kind')) continue;
    out.push(node.textContent);
  }
  for (const el of document.querySelectorAll('[aria-label],[placeholder],[title],[alt]')) {
    if (skip(el)) continue;
    for (const a of ['aria-label', 'placeholder', 'title', 'alt']) {
      if (el.getAttribute(a)) out.push(el.getAttribute(a));
    }
  }
  out.push(document.title);
  return out.join('\\n');
}"""

_AXE_JS = """async () => {
  const result = await axe.run(document, {runOnly: {type: 'tag',
    values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}});
  return result.violations.map(v => `${v.id} (${v.impact}): ${v.help} at ` +
    v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(', '));
}"""

_MACHINE = re.compile(
    "|".join(re.escape(k.value) for k in AuditKind)
    + r"|\b(True|False|None)\b|\b[a-z]+_[a-z_]+\b"
)


@dataclass
class Walk:
    """The people whose pages are walked, each in a browser profile of their own.

    ``asked`` is the administrator in a second browser that never steps up: its
    confirmation pages always ask for the password and a current code.
    """

    portal: Portal
    admin: Page
    user: Page
    half: Page
    anonymous: Page
    asked: Page
    ids: dict[str, int] = field(default_factory=dict)


def _new_page(portal: Portal) -> Page:
    ctx: BrowserContext = portal.context(bypass_csp=True)
    return ctx.new_page()


@pytest.fixture(scope="module")
def walk(passkey_portal: tuple[Portal, Path]) -> Iterator[Walk]:
    """An admin (twice); "noor" with two authenticators, a passkey and a trusted device;
    "sam" without 2FA; "lee" deactivated; signing in with a passkey alone is allowed (the
    login page offers it). The portal is reached at ``localhost``, where passkeys work."""
    portal, _ = passkey_portal
    pages = [_new_page(portal) for _ in range(5)]
    admin, user, half, anonymous, asked = pages
    found = Walk(portal, admin, user, half, anonymous, asked)
    try:
        log_in_admin(admin, portal)
        found.ids[USER] = create_user(admin, USER, "Noor Haddad")
        found.ids[PLAIN] = create_user(admin, PLAIN, "")
        _allow_passwordless(admin, portal)
        found.ids[GONE] = _deactivated(admin, portal, GONE)
        log_in_admin(asked, portal)

        log_in(user, USER)
        phone = enrol(user, "Phone", "pages-setup-phone", first=True)
        user.locator("#codes-done").click()
        # Log in again with the next step's code (inside the window, not yet used), and
        # trust this browser, so the security page has a trusted device to show.
        user.locator("#logout").click()
        log_in(user, USER)
        user.locator("#code").fill(code_at(phone.secret, time.time() + PERIOD))
        user.locator("#trust").check()
        user.locator("#twofa-submit").click()
        expect(user.locator("#who")).to_have_text(USER)
        enrol(user, "Tablet", "pages-setup-tablet", first=False)
        first = user.locator("#authenticators a[id^=manage-authenticator-]").first
        found.ids["phone"] = int(str(first.get_attribute("id")).rsplit("-", 1)[1])
        found.ids["passkey"] = _add_passkey(user)
        yield found
    finally:
        for page in (admin, user, half, found.anonymous, asked):
            page.context.close()


def _allow_passwordless(admin: Page, portal: Portal) -> None:
    admin.goto("/admin/policy")
    admin.locator("#passwordless").check()
    admin.locator("#policy-submit").click()
    confirm_with_step_up(admin, portal)
    expect(admin.locator("#notice")).to_contain_text("The policy was saved.")


def _deactivated(admin: Page, portal: Portal, username: str) -> int:
    """Create an account and deactivate it (confirmed); return its id."""
    user_id = create_user(admin, username, "")
    admin.locator("#deactivate-submit").click()
    confirm_with_step_up(admin, portal)
    expect(admin.locator("#subject-status")).to_have_text("Deactivated")
    return user_id


def _add_passkey(page: Page) -> int:
    """Register a passkey made by Chromium's virtual authenticator; return its id."""
    VirtualAuthenticator.attach(page.context, page)
    page.goto("/security/passkeys/add")
    _step_up(page)
    page.locator("#passkey-name").fill("YubiKey 5")  # a name, not an English word
    page.locator("#passkey-add-submit").click()
    expect(page.locator("#notice")).to_have_text("The passkey was added.")
    row = page.locator("#passkeys > li").first
    return int(str(row.get_attribute("id")).rsplit("-", 1)[1])


def _set_language(page: Page, locale: str) -> None:
    page.goto("/security/language")
    page.locator("#language").select_option(locale)
    page.locator("#language-save").click()
    expect(page.locator("html")).to_have_attribute("lang", locale)


def _half_login(walk: Walk) -> None:
    page = walk.half
    page.context.clear_cookies()
    log_in(page, USER)
    expect(page).to_have_url(re.compile(r"/login/2fa$"))


def _step_up(page: Page) -> None:
    if "/security/step-up" in page.url:
        page.locator("#password").fill(PASSWORD)
        page.locator("#step-up-submit").click()


def _regenerate(walk: Walk) -> None:
    page = walk.user
    page.goto("/security/recovery-codes")
    page.locator("#regenerate-codes").click()
    _step_up(page)
    if page.url.endswith("/security/recovery-codes"):
        page.locator("#regenerate-codes").click()
    expect(page.locator("#recovery-codes code")).to_have_count(10)


def _step_up_fresh(walk: Walk) -> None:
    page = walk.user
    page.goto("/security/step-up?next=/security/enable")
    _step_up(page)


def _issue_bypass(walk: Walk) -> None:
    page = walk.admin
    page.goto(f"/admin/users/{walk.ids[USER]}")
    page.locator("#bypass-note").fill("Checked her staff badge at the help desk.")
    page.locator("#bypass-submit").click()
    confirm_with_step_up(page, walk.portal)
    expect(page.locator("#bypass-code")).to_be_visible()


def _remove_with_a_wrong_code(walk: Walk) -> None:
    page = walk.user
    page.goto(f"/security/authenticators/{walk.ids['phone']}")
    page.locator(f"#remove-code-{walk.ids['phone']}").fill("000000")
    page.locator(f"#remove-authenticator-{walk.ids['phone']}").click()
    if "/security/step-up" in page.url:
        _step_up(page)
        page.locator(f"#remove-code-{walk.ids['phone']}").fill("000000")
        page.locator(f"#remove-authenticator-{walk.ids['phone']}").click()
    expect(page.locator("#code-error")).to_be_visible()


def _wrong_step_up_password(walk: Walk) -> None:
    page = walk.user
    page.goto("/security/step-up?next=/security")
    page.locator("#password").fill("not the password")
    page.locator("#step-up-submit").click()
    expect(page.locator("#password-error")).to_be_visible()


def _ask_to_reset(walk: Walk) -> None:
    page = walk.asked
    page.goto(f"/admin/users/{walk.ids[USER]}")
    page.locator("#note").fill("She lost her phone; checked her staff badge.")
    page.locator("#reset-submit").click()
    expect(page.locator("#step-up-code")).to_be_visible()


def _confirm_with_a_wrong_password(walk: Walk) -> None:
    _ask_to_reset(walk)
    page = walk.asked
    page.locator("#step-up-password").fill("not the password")
    page.locator("#step-up-code").fill("123456")
    page.locator("#confirm-submit").click()
    expect(page.locator("#password-error")).to_be_visible()


def _ask_to_change_the_policy(walk: Walk) -> None:
    page = walk.asked
    page.goto("/admin/policy")
    page.locator("#policy-submit").click()
    expect(page.locator("#step-up-code")).to_be_visible()


@dataclass(frozen=True)
class Visit:
    name: str
    who: str
    path: str | Callable[[Walk], str]
    before: Callable[[Walk], None] | None = None


VISITS = [
    Visit("login", "anonymous", "/login"),
    Visit("setup-done", "anonymous", "/setup"),
    Visit("not-found", "anonymous", "/no-such-page"),
    Visit("code", "half", "/login/2fa", _half_login),
    Visit("recovery-login", "half", "/login/recovery"),
    Visit("resync", "half", "/login/2fa/resync"),
    Visit("home", "user", "/"),
    Visit("security", "user", "/security"),
    Visit("security-events", "user", "/security/events"),
    Visit("authenticator", "user", lambda w: f"/security/authenticators/{w.ids['phone']}"),
    # "": the page a form's answer shows, where ``before`` left the browser.
    Visit("authenticator-refused", "user", "", _remove_with_a_wrong_code),
    Visit("disable", "user", "/security/disable"),
    Visit("password", "user", "/security/password"),
    Visit("language", "user", "/security/language"),
    Visit("new-codes", "user", "/security/recovery-codes"),
    Visit("codes-shown", "user", "/security/recovery-codes/show", _regenerate),
    Visit("step-up", "user", "/security/step-up?next=/security"),
    Visit("step-up-refused", "user", "", _wrong_step_up_password),
    Visit("enable", "user", "/security/enable", _step_up_fresh),
    Visit("passkey-add", "user", "/security/passkeys/add", _step_up_fresh),
    Visit("passkey-rename", "user", lambda w: f"/security/passkeys/{w.ids['passkey']}/rename"),
    Visit("passkey-remove", "user", lambda w: f"/security/passkeys/{w.ids['passkey']}/remove"),
    Visit("admin-home", "admin", "/"),
    Visit("admin-security", "admin", "/security"),
    Visit("admin-users", "admin", "/admin/users"),
    Visit("admin-new-user", "admin", "/admin/users/new"),
    Visit("admin-user-2fa", "admin", lambda w: f"/admin/users/{w.ids[USER]}"),
    Visit("admin-user-plain", "admin", lambda w: f"/admin/users/{w.ids[PLAIN]}"),
    Visit("admin-user-deactivated", "admin", lambda w: f"/admin/users/{w.ids[GONE]}"),
    Visit("admin-audit", "admin", "/admin/audit"),
    Visit("admin-policy", "admin", "/admin/policy"),
    Visit("admin-bypass-issued", "admin", "", _issue_bypass),
    Visit("admin-confirm", "asked", "", _ask_to_reset),
    Visit("admin-confirm-refused", "asked", "", _confirm_with_a_wrong_password),
    Visit("admin-confirm-policy", "asked", "", _ask_to_change_the_policy),
]

_language_of: dict[str, str] = {}


def _page_for(walk: Walk, visit: Visit, locale: str) -> Page:
    page: Page = getattr(walk, visit.who)
    # Noor's own setting also chooses the language of her half-login pages.
    account = {"half": "user", "asked": "admin"}.get(visit.who, visit.who)
    if account in {"user", "admin"} and _language_of.get(account) != locale:
        _set_language(getattr(walk, account), locale)
        _language_of[account] = locale
    if visit.who == "anonymous":
        page.context.close()
        # A browser that asks for the language (Accept-Language), as a visitor's would.
        ctx = walk.portal.context(locale="fr-FR" if locale == "fr" else "en-GB",
                                  bypass_csp=True)
        page = walk.anonymous = ctx.new_page()
    return page


def _no_sideways_scroll(page: Page, name: str) -> None:
    for width in PHONES:
        page.set_viewport_size({"width": width, "height": 780})
        scroll, inner = page.evaluate(
            "() => [document.documentElement.scrollWidth, window.innerWidth]"
        )
        if width == 390:
            page.screenshot(path=str(SHOTS / f"{name}-390.png"), full_page=True)
        assert scroll <= inner, f"{name}: {scroll} px wide in a {inner} px window"


@cache
def _english_only_words() -> frozenset[str]:
    """Words of the English texts that no French translation uses."""
    with CATALOG.open("rb") as f:
        catalog = read_po(f)
    english: set[str] = set()
    french: set[str] = set()
    for message in catalog:
        if not message.id:
            continue
        for text in _texts(message.id):
            english.update(_words(text))
        for text in _texts(message.string):
            french.update(_words(text))
    return frozenset(w for w in english - french if len(w) > 2)


def _texts(value: object) -> list[str]:
    """The singular and plural forms of a catalog entry's id or translation."""
    forms = value if isinstance(value, tuple | list) else (value,)
    return [str(form) for form in forms if form]


def _words(text: str) -> set[str]:
    text = re.sub(r"%\(\w+\)[sd]", " ", text)
    return {w.lower() for w in re.findall(r"[A-Za-z]+(?:'[a-z]+)?", text)}


def _check_words(page: Page, name: str, locale: str) -> None:
    text = page.evaluate(_PAGE_WORDS_JS)
    codes = sorted({m.group(0) for m in _MACHINE.finditer(text)})
    assert not codes, f"{name} ({locale}) shows machine codes: {codes}"
    if locale == "fr":
        left = sorted(_words(text) & _english_only_words())
        assert not left, f"{name} (fr) has English words: {left}"


def _check_axe(page: Page, name: str) -> None:
    if not AXE.is_file():
        unavailable(f"axe-core is not installed at {AXE.relative_to(ROOT)} (`make test` "
                    "installs it with npm)")
    page.add_script_tag(path=str(AXE))
    violations = page.evaluate(_AXE_JS)
    assert not violations, f"{name}: " + "\n".join(violations)


_CASES = [(v, locale) for locale in ("en", "fr") for v in VISITS]


@pytest.mark.parametrize(("visit", "locale"), _CASES,
                         ids=[f"{v.name}-{locale}" for v, locale in _CASES])
def test_page_fits_phones_is_accessible_and_speaks_the_language(
    walk: Walk, visit: Visit, locale: str
) -> None:
    """The page fits 360/390 px, passes axe-core, shows no code and no stray English."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = _page_for(walk, visit, locale)
    if visit.before is not None:
        visit.before(walk)
    path = visit.path(walk) if callable(visit.path) else visit.path
    page.set_viewport_size({"width": 1280, "height": 800})
    if path:
        page.goto(path)
    expect(page.locator("html")).to_have_attribute("lang", locale)
    name = f"{visit.name}-{locale}"
    page.screenshot(path=str(SHOTS / f"{name}-1280.png"), full_page=True)
    _check_words(page, name, locale)
    _check_axe(page, name)
    _no_sideways_scroll(page, name)
