"""The admin console in a real browser: Debian's Chromium driven by Playwright against a live server (SPEC §14).

Each step leaves a screenshot in the test's temporary directory (pytest keeps the last few runs
under /tmp/pytest-of-$USER/), to look at when the console's looks are in question.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from audit.models import AuditLog
from certificates.models import CertificateAuthority
from certificates.tests.conftest import create_ca, issue_certificate
from pkiserver.errors import Invalid
from tests.factories import PASSWORD

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = [
    pytest.mark.live,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs Debian's chromium: apt-get install chromium (.ci/run does)"
    ),
]


@pytest.fixture
def browser(monkeypatch) -> Iterator[Any]:
    # Sync Playwright keeps an asyncio loop in this thread; the test's own ORM calls are still sync.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def shot(tmp_path) -> Callable[[Any, str], Path]:
    """`shot(page, "name")`: a numbered full-page screenshot in the test's temporary directory."""
    taken: list[Path] = []

    def take(page: Any, name: str) -> Path:
        path = tmp_path / f"{len(taken) + 1:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        taken.append(path)
        return path

    return take


def open_page(browser: Any) -> Any:
    """A fresh page in its own context (its own cookies: one person each)."""
    page = browser.new_context(viewport={"width": 1600, "height": 900}).new_page()
    page.set_default_timeout(15_000)
    return page


def sign_in(page: Any, base: str, username: str) -> None:
    page.goto(f"{base}/admin/login/?next=/admin/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")


def add_ca(page: Any, base: str, name: str, parent: str | None = None) -> None:
    page.goto(f"{base}/admin/certificates/certificateauthority/add/")
    page.fill("#id_name", name)
    page.fill("#id_subject_dn", f"CN={name},O=Browser Test,C=US")
    if parent:
        page.select_option("#id_parent", label=parent)
    page.select_option("#id_key_algorithm", "ecdsa")
    page.fill("#id_key_size", "256")
    page.click("input[name=_save]")


def leaf_certificates_allowed(page: Any, ca_name: str) -> str:
    """The "allow leaf certs" icon of a CA's row in the list: "True" or "False"."""
    row = page.locator("#result_list tbody tr").filter(has=page.locator("th", has_text=ca_name))
    return row.locator("td.field-allow_leaf_certs img").get_attribute("alt")


def test_the_console_in_a_browser(
    browser, shot, live_server, superuser, admin_a, user_a, admin_b, user_b, org_a, org_b
):
    base = live_server.url
    root_b = create_ca(admin_b, "Bravo Root")
    theirs = {
        "user": (f"/admin/accounts/user/{user_b.pk}/change/", "erin"),
        "ca": (f"/admin/certificates/certificateauthority/{root_b.pk}/change/", "Bravo Root"),
        "certificate": (f"/admin/certificates/certificate/{issue_certificate(admin_b, root_b, 'bravo.test').pk}/change/", "bravo.test"),
        "audit": (f"/admin/audit/auditlog/{AuditLog.objects.filter(organization_id=org_b.pk).first().pk}/change/", "Bravo"),
        "organization": (f"/admin/orgs/organization/{org_b.pk}/change/", "Org B"),
    }  # fmt: skip

    # A superuser signs in through the form; the admin is styled (its CSS came through).
    page = open_page(browser)
    sign_in(page, base, superuser.username)
    assert page.url == f"{base}/admin/"
    assert page.locator("#site-name").inner_text() == "pkiserver console"
    header_colour = page.evaluate("getComputedStyle(document.querySelector('#header')).backgroundColor")
    assert header_colour not in ("rgba(0, 0, 0, 0)", "transparent")
    shot(page, "superuser-signed-in")

    # A root CA and an intermediate, through the add form (ca_create behind it).
    add_ca(page, base, "Browser Root")
    assert "The root CA “Browser Root” was created." in page.locator("ul.messagelist").inner_text()
    shot(page, "root-ca-created")
    add_ca(page, base, "Browser Issuing", parent="Browser Root")
    assert "The intermediate CA “Browser Issuing” was created." in page.locator("ul.messagelist").inner_text()
    assert "Browser Root → Browser Issuing" in page.content()
    shot(page, "intermediate-created")

    # The root now issues nothing: the list shows it, and the service refuses.
    page.goto(f"{base}/admin/certificates/certificateauthority/")
    assert leaf_certificates_allowed(page, "Browser Root") == "False"
    assert leaf_certificates_allowed(page, "Browser Issuing") == "True"
    shot(page, "hierarchy-root-issues-nothing")
    root, inter = (CertificateAuthority.objects.get(name=name) for name in ("Browser Root", "Browser Issuing"))
    with pytest.raises(Invalid, match="does not allow leaf certificates"):
        issue_certificate(superuser, root, "refused.example.com")
    cert = issue_certificate(superuser, inter, "shop.example.com")

    # Revoke it with a reason, through the action and its question page.
    page.goto(f"{base}/admin/certificates/certificate/")
    page.check(f"input[name=_selected_action][value='{cert.pk}']")
    page.select_option("select[name=action]", "revoke_with_reason")
    page.click("button[name=index]")
    page.select_option("#id_reason", "key_compromise")
    page.fill("#id_comment", "laptop stolen")
    shot(page, "revoke-asks-the-reason")
    page.click("input[type=submit].default")
    assert "Revoked 1 certificate(s)" in page.locator("ul.messagelist").inner_text()
    shot(page, "certificate-revoked")

    # The CRL, fetched like any relying party would, lists it with the reason.
    with urllib.request.urlopen(f"{base}/crl/{inter.slug}", timeout=10) as response:
        crl = x509.load_der_x509_crl(response.read())
    entry = crl.get_revoked_certificate_by_serial_number(int(cert.serial_number, 16))
    assert entry is not None
    assert entry.extensions.get_extension_for_class(x509.CRLReason).value.reason is x509.ReasonFlags.key_compromise

    # An admin of organization A: their organization opens, B's objects do not, whatever the URL.
    page = open_page(browser)
    sign_in(page, base, admin_a.username)
    page.goto(f"{base}/admin/orgs/organization/{org_a.pk}/change/")
    assert "carol" in page.content()  # a member, in the members inline
    shot(page, "admin-a-own-organization")
    page.goto(f"{base}/admin/accounts/user/")
    row = page.locator("#result_list tbody tr").filter(has=page.locator("th", has_text="carol"))
    row.locator("input[name$='-can_create_cert']").check()
    page.click("input[name=_save]")
    assert "was changed successfully" in page.locator("ul.messagelist").inner_text()
    shot(page, "admin-a-sets-a-flag-in-the-user-list")
    user_a.refresh_from_db()
    assert user_a.can_create_cert is True
    for kind, (path, marker) in theirs.items():
        page.goto(base + path)
        assert page.url == f"{base}/admin/", kind
        assert "exist. Perhaps it was deleted?" in page.locator("ul.messagelist").inner_text(), kind
        assert marker not in page.content(), kind
    shot(page, "admin-a-refused-org-b-object")

    # A regular user cannot sign in, and the page says why.
    page = open_page(browser)
    sign_in(page, base, user_a.username)
    assert page.url.startswith(f"{base}/admin/login/")
    assert "cannot sign in to the admin console" in page.locator(".errornote").inner_text()
    shot(page, "regular-user-refused")
