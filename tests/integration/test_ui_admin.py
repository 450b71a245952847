"""The admins' settings pages against a real server: users, groups, tokens (shown once,
revoked), secret scopes (never a value), notifications (masked) and the audit log, over
plain HTTP with a signed-in session; one look in Chromium for the screenshot."""

from __future__ import annotations

import re
import subprocess
import time
import uuid
from collections.abc import Iterator

import httpx2 as httpx
import pytest
from playwright.sync_api import expect

from tests.integration import browser as chromium
from tests.integration.browser import SignIn, shoot
from tests.integration.helpers import PODIUM
from tests.integration.server import Server, running_cleanly
from tests.integration.ui_fixtures import csrf, session

browser, signed_in = chromium.browser, chromium.signed_in  # the fixtures

SMTP_PASSWORD = "smtp-pw-" + uuid.uuid4().hex
HOOK_KEY = "hookpath" + uuid.uuid4().hex
HOOK_SECRET = "hook-secret-" + uuid.uuid4().hex
ENV = {
    "PODIUM_SMTP__HOST": "mail.example.org", "PODIUM_SMTP__PORT": "2525",
    "PODIUM_SMTP__SECURITY": "starttls", "PODIUM_SMTP__USERNAME": "mailer",
    "PODIUM_SMTP__PASSWORD": SMTP_PASSWORD, "PODIUM_SMTP__FROM_ADDRESS": "podium@example.org",
    "PODIUM_DESTINATIONS__OPS": f"https://bot:pw@hooks.example.com/services/{HOOK_KEY}?t=1",
    "PODIUM_DESTINATIONS__OPS__SECRET": HOOK_SECRET,
    "PODIUM_DESTINATIONS__OPS__FORMAT": "slack",
}
PAGES = ("/settings", "/settings/tokens", "/settings/secrets", "/settings/notifications",
         "/settings/audit")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_cleanly(tmp_path_factory.mktemp("podium-home"),
                 tmp_path_factory.mktemp("workspace"), **ENV) as server:
        yield server


@pytest.fixture(scope="module")
def admin(server: Server) -> Iterator[httpx.Client]:
    with session(server) as client:
        yield client


@pytest.fixture(scope="module")
def plain_token(server: Server) -> str:
    return server.token_for("bob")


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def rows(html: str, attribute: str) -> list[str]:
    return re.findall(rf'<tr {attribute}="([^"]+)"', html)


def new_token(client: httpx.Client, user: str, comment: str = "",
              days: str = "") -> tuple[str, str]:
    """Make a token through the form; (token id, token text) read from the result page."""
    response = client.post("/settings/tokens", data={
        "csrf_token": csrf(client, "/settings/tokens"), "user_name": user,
        "comment": comment, "lifetime_days": days})
    assert response.status_code == 200, response.text
    token = re.search(r'id="new-token" class="token" value="([^"]+)"', response.text)
    token_id = re.search(r"Token ([0-9a-f]+) for", response.text)
    assert token and token_id, response.text
    return token_id.group(1), token.group(1)


def test_settings_need_a_session(server: Server) -> None:
    for path in PAGES:
        response = httpx.get(server.url + path)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/sign-in?next=")


def test_admin_sees_users_groups_and_tokens(admin: httpx.Client, plain_token: str) -> None:
    page = admin.get("/settings")
    assert page.status_code == 200
    assert rows(page.text, "data-user")[:2] == ["admin", "bob"]
    assert re.search(r'data-group="admins">admin<', page.text)
    assert re.search(r'data-group="users">everyone: admin, bob<', page.text)
    assert 'aria-current="page">Settings</a>' in page.text
    tokens = admin.get("/settings/tokens").text
    owners = re.findall(r'<tr data-token="[0-9a-f]+">\s*<td><code>[0-9a-f]+</code></td>\s*'
                        r"<td>([^<]+)</td>", tokens)
    assert {"admin", "bob"} <= set(owners)
    assert plain_token not in tokens


def test_a_new_token_is_shown_once_and_works(server: Server, admin: httpx.Client) -> None:
    user = unique("carol")
    response = admin.post("/settings/tokens", data={
        "csrf_token": csrf(admin, "/settings/tokens"), "user_name": user,
        "comment": "for the nightly export", "lifetime_days": "30"})
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    assert "shown this once" in response.text
    token = re.search(r'value="(pod[0-9a-f]+)"', response.text)
    assert token
    with server.client(token.group(1)) as api:
        assert api.get("/api/2.2/jobs/list").status_code == 200
    for path in PAGES:  # never again
        assert token.group(1) not in admin.get(path).text, path
    tokens = admin.get("/settings/tokens").text
    assert "for the nightly export" in tokens and user in tokens
    assert not re.search(r"never</span></td>\s*<td>\s*<form[^>]*/settings/tokens/"
                         rf"{re.escape(token.group(1))}", tokens)
    users = admin.get("/settings").text
    assert user in rows(users, "data-user")
    assert user not in re.search(r'data-group="admins">([^<]*)<', users).group(1)  # type: ignore[union-attr]


def test_an_expired_token_is_marked(server: Server, admin: httpx.Client) -> None:
    subprocess.run([*PODIUM, "token", "create", "--user", "bob", "--comment", "short-lived",
                    "--lifetime-seconds", "1"], env=server.env(), check=True,
                   capture_output=True)
    time.sleep(1.2)
    page = admin.get("/settings/tokens").text
    row = re.search(r"<td>short-lived</td>.*?</tr>", page, re.S)
    assert row and "expired" in row.group(0)


def test_a_token_form_with_bad_input_says_what_is_wrong(admin: httpx.Client) -> None:
    for data, words in (({"user_name": "  "}, "user: must not be empty"),
                        ({"user_name": "dora", "lifetime_days": "-3"}, "lifetime")):
        response = admin.post("/settings/tokens",
                              data={"csrf_token": csrf(admin, "/settings/tokens"), **data})
        assert response.status_code == 400
        assert words in response.text
    assert "dora" not in rows(admin.get("/settings").text, "data-user")


def test_revoking_a_token_ends_its_sessions(server: Server, admin: httpx.Client) -> None:
    token_id, token = new_token(admin, unique("erin"), "to revoke")
    with session(server, token) as theirs:
        assert theirs.get("/jobs").status_code == 200
        response = admin.post(f"/settings/tokens/{token_id}/revoke",
                              data={"csrf_token": csrf(admin, "/settings/tokens")})
        assert response.status_code == 303
        assert response.headers["location"] == "/settings/tokens"
        gone = theirs.get("/jobs")
        assert gone.status_code == 303 and gone.headers["location"].startswith("/sign-in")
    assert httpx.post(server.url + "/sign-in", data={"token": token}).status_code == 401
    with server.client(token) as api:
        assert api.get("/api/2.2/jobs/list").status_code == 401
    assert token_id not in rows(admin.get("/settings/tokens").text, "data-token")
    again = admin.post(f"/settings/tokens/{token_id}/revoke",
                       data={"csrf_token": csrf(admin, "/settings/tokens")})
    assert again.status_code == 404


def test_secret_scopes_are_created_and_deleted(admin: httpx.Client) -> None:
    scope = unique("warehouse")
    response = admin.post("/settings/secrets", data={
        "csrf_token": csrf(admin, "/settings/secrets"), "scope": scope})
    assert response.status_code == 303
    page = admin.get("/settings/secrets").text
    assert f'data-scope="{scope}"' in page and "No secrets in this scope yet" in page

    confirm = admin.get(f"/settings/secrets/{scope}/delete")
    assert confirm.status_code == 200
    assert f"Delete secret scope {scope}?" in confirm.text
    assert f'action="/settings/secrets/{scope}/delete"' in confirm.text
    assert f'data-scope="{scope}"' in admin.get("/settings/secrets").text  # not yet

    response = admin.post(f"/settings/secrets/{scope}/delete",
                          data={"csrf_token": csrf(admin, "/settings/secrets")})
    assert response.status_code == 303
    assert f'data-scope="{scope}"' not in admin.get("/settings/secrets").text
    assert admin.get(f"/settings/secrets/{scope}/delete").status_code == 404


def test_a_bad_or_taken_scope_name_says_what_is_wrong(admin: httpx.Client) -> None:
    response = admin.post("/settings/secrets", data={
        "csrf_token": csrf(admin, "/settings/secrets"), "scope": "no spaces"})
    assert response.status_code == 400 and "not a valid name" in response.text
    scope = unique("twice")
    for expected in (303, 400):
        response = admin.post("/settings/secrets", data={
            "csrf_token": csrf(admin, "/settings/secrets"), "scope": scope})
        assert response.status_code == expected
    assert "already exists" in response.text


def test_a_secret_value_never_appears_in_a_settings_page(server: Server,
                                                         admin: httpx.Client) -> None:
    scope, value = unique("prod"), "s3cr3t-" + uuid.uuid4().hex
    with server.client() as api:
        assert api.post("/api/2.0/secrets/scopes/create",
                        json={"scope": scope}).status_code == 200
        assert api.post("/api/2.0/secrets/put", json={
            "scope": scope, "key": "db_password", "string_value": value}).status_code == 200
    page = admin.get("/settings/secrets").text
    assert f'data-scope="{scope}"' in page and "<code>db_password</code>" in page
    for path in (*PAGES, f"/settings/secrets/{scope}/delete"):
        response = admin.get(path)
        assert response.status_code == 200, path
        assert value not in response.text, path
    audit = admin.get("/settings/audit").text
    assert f"{scope}/db_password" in audit


def test_notifications_are_shown_masked(admin: httpx.Client) -> None:
    page = admin.get("/settings/notifications").text
    for shown in ("mail.example.org", "2525", "starttls", "mailer", "podium@example.org",
                  "https://hooks.example.com<", "slack", "yes (****)",
                  "PODIUM_SMTP__HOST", "[destinations.ops]"):
        assert shown in page, shown
    for hidden in (SMTP_PASSWORD, HOOK_KEY, HOOK_SECRET, "bot:pw", "/services/", "t=1"):
        assert hidden not in page, hidden


def test_the_audit_log_is_newest_first_and_paged(server: Server, admin: httpx.Client) -> None:
    with server.client() as api:
        for _ in range(55):  # more than a page
            assert api.post("/api/2.0/secrets/scopes/create",
                            json={"scope": unique("audit")}).status_code == 200
    first = admin.get("/settings/audit").text
    ids = [int(i) for i in rows(first, "data-event")]
    assert len(ids) == 50 and ids == sorted(ids, reverse=True)
    assert "<td>admin</td>" in first and "<td>create</td>" in first
    assert "secret_scope <code>audit_" in first
    older = re.search(r'href="(/settings/audit\?before_id=(\d+))" rel="next"', first)
    assert older and int(older.group(2)) == ids[-1]
    second = admin.get(older.group(1)).text
    later = [int(i) for i in rows(second, "data-event")]
    assert later and max(later) < ids[-1] and later == sorted(later, reverse=True)
    assert 'href="/settings/audit" rel="first"' in second
    bad = admin.get("/settings/audit", params={"before_id": "x"})
    assert bad.status_code == 400 and "before_id: an event id" in bad.text


def test_a_non_admin_gets_403_everywhere(server: Server, admin: httpx.Client,
                                         plain_token: str) -> None:
    scope = unique("kept")
    admin.post("/settings/secrets", data={"csrf_token": csrf(admin, "/settings/secrets"),
                                          "scope": scope})
    token_id = rows(admin.get("/settings/tokens").text, "data-token")[0]
    with session(server, plain_token) as bob:
        page = bob.get("/jobs").text
        assert 'href="/settings"' not in page
        for path in (*PAGES, f"/settings/secrets/{scope}/delete", "/settings/audit?before_id=9"):
            response = bob.get(path)
            assert response.status_code == 403, path
            assert "only admins" in response.text
        token = csrf(bob)
        writes = {"/settings/tokens": {"user_name": "bob", "comment": "sneaky"},
                  f"/settings/tokens/{token_id}/revoke": {},
                  "/settings/secrets": {"scope": unique("bobs")},
                  f"/settings/secrets/{scope}/delete": {},
                  "/settings/users/bob/admin": {"is_admin": "yes"},
                  "/settings/users/admin/delete": {}}
        for path, data in writes.items():
            response = bob.post(path, data={"csrf_token": token, **data})
            assert response.status_code == 403, path
    assert "sneaky" not in admin.get("/settings/tokens").text
    assert token_id in rows(admin.get("/settings/tokens").text, "data-token")
    secrets = admin.get("/settings/secrets").text
    assert f'data-scope="{scope}"' in secrets and 'data-scope="bobs_' not in secrets


def test_admins_grant_admin_and_delete_users(server: Server, admin: httpx.Client) -> None:
    name = unique("carol")
    carol = server.token_for(name)
    token = csrf(admin, "/settings")
    made = admin.post(f"/settings/users/{name}/admin", data={"csrf_token": token,
                                                              "is_admin": "yes"})
    assert made.status_code == 303
    assert re.search(rf'data-group="admins">[^<]*\b{name}\b', admin.get("/settings").text)
    with session(server, carol) as client:
        assert client.get("/settings").status_code == 200  # at her next request
        # She cannot delete herself, nor leave the site without an admin.
        refused = client.post(f"/settings/users/{name}/delete",
                              data={"csrf_token": csrf(client, "/settings")})
        assert refused.status_code == 400 and "cannot delete yourself" in refused.text
    admin.post(f"/settings/users/{name}/admin", data={"csrf_token": token, "is_admin": "no"})
    last = admin.post("/settings/users/admin/admin", data={"csrf_token": token,
                                                           "is_admin": "no"})
    assert last.status_code == 400 and "only admin" in last.text
    gone = admin.post(f"/settings/users/{name}/delete", data={"csrf_token": token})
    assert gone.status_code == 303
    assert name not in rows(admin.get("/settings").text, "data-user")
    with server.client(carol) as api:  # her tokens went with her
        assert api.get("/api/2.2/jobs/list").status_code == 401
    missing = admin.post(f"/settings/users/{name}/delete", data={"csrf_token": token})
    assert missing.status_code == 404
    audit = admin.get("/settings/audit").text
    assert f"{name}" in audit


def test_writes_without_the_csrf_token_are_refused(admin: httpx.Client) -> None:
    scope = unique("guarded")
    admin.post("/settings/secrets", data={"csrf_token": csrf(admin, "/settings/secrets"),
                                          "scope": scope})
    token_id = rows(admin.get("/settings/tokens").text, "data-token")[0]
    writes = {"/settings/tokens": {"user_name": "mallory"},
              f"/settings/tokens/{token_id}/revoke": {},
              "/settings/secrets": {"scope": unique("forged")},
              f"/settings/secrets/{scope}/delete": {}}
    for path, data in writes.items():
        for token in ("", "0" * 40):
            response = admin.post(path, data={"csrf_token": token, **data} if token else data)
            assert response.status_code == 403, path
            assert "did not come from this site" in response.text
    assert "mallory" not in rows(admin.get("/settings").text, "data-user")
    assert token_id in rows(admin.get("/settings/tokens").text, "data-token")
    secrets = admin.get("/settings/secrets").text
    assert f'data-scope="{scope}"' in secrets and "forged_" not in secrets


def test_settings_in_the_browser(server: Server, signed_in: SignIn) -> None:
    page = signed_in(server, None)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Settings").click()
    page.wait_for_url(re.compile(r"/settings$"))
    expect(page.get_by_role("heading", name="Users", exact=True)).to_be_visible()
    expect(page.locator('tr[data-user="admin"]')).to_contain_text("admin")
    shoot(page, "settings", publish=True)

    tabs = page.get_by_role("navigation", name="Settings sections")
    tabs.get_by_role("link", name="Tokens").click()
    page.get_by_label("User").fill("browser_user")
    page.get_by_label("Comment").fill("made in the browser")
    page.get_by_role("button", name="Create token").click()
    expect(page.get_by_role("alert")).to_contain_text("Copy this token now")
    token = page.get_by_label("Token", exact=True).input_value()
    with server.client(token) as api:
        assert api.get("/api/2.2/jobs/list").status_code == 200
    shoot(page, "settings-token")

    tabs.get_by_role("link", name="Notifications").click()
    expect(page.get_by_role("heading", name="Mail (SMTP)")).to_be_visible()
    shoot(page, "settings-notifications")
