"""The Users page: add and remove admins, change passwords (which ends sessions), lift sign-in locks."""

from __future__ import annotations

from click.testing import CliRunner
from sqlalchemy import select

from qbsync.passwords import verify_password
from qbsync.qwc import sessions
from qbsync.service import cli, security
from qbsync.storage.models import AdminSession, User
from tests.pages.conftest import ADMIN, ADMIN_PASSWORD, flashes, post, text_of

NEW_PASSWORD = "a brand new password"


def _sign_in(client, username: str, password: str):
    client.get("/login")
    return post(client, "/login", {"username": username, "password": password})


def _user(runtime, username: str) -> User | None:
    with runtime.db.transaction() as session:
        return session.scalar(select(User).where(User.username == username))


def test_the_users_page_lists_people_and_is_in_the_navigation(signed_in):
    page = signed_in.get("/users")
    assert page.status_code == 200
    text = text_of(page)
    assert "Users" in text and f"{ADMIN} (you)" in text and "Add an admin" in text
    assert 'href="/users"' in signed_in.get("/").get_data(as_text=True)


def test_an_admin_adds_another_admin_who_can_sign_in(app, signed_in, runtime):
    answer = post(signed_in, "/users/add", {"username": "bookkeeper", "password": NEW_PASSWORD,
                                            "password_confirm": NEW_PASSWORD})
    assert answer.status_code == 302
    assert ("ok", "Added the admin 'bookkeeper'. They can sign in now.") in flashes(signed_in)
    assert "bookkeeper" in text_of(signed_in.get("/users"))
    assert _sign_in(app.test_client(), "bookkeeper", NEW_PASSWORD).status_code == 302


def test_adding_an_admin_with_a_short_password_or_a_taken_name_says_why(signed_in, runtime):
    post(signed_in, "/users/add", {"username": "bob", "password": "short", "password_confirm": "short"})
    assert ("error", "The password must be at least 10 characters.") in flashes(signed_in)
    post(signed_in, "/users/add", {"username": ADMIN, "password": NEW_PASSWORD,
                                   "password_confirm": NEW_PASSWORD})
    assert ("error", "There is already a user named 'admin'.") in flashes(signed_in)
    assert _user(runtime, "bob") is None


def test_changing_your_password_signs_out_a_copied_cookie_but_keeps_you_in(app, client, admin, runtime):
    _sign_in(client, ADMIN, ADMIN_PASSWORD)
    copied = client.get_cookie("qbsync_session").value
    thief = app.test_client()
    thief.set_cookie("qbsync_session", copied)
    assert thief.get("/").status_code == 200

    wrong = post(client, f"/users/{admin.id}/password", {"current_password": "not it at all",
                                                         "password": NEW_PASSWORD,
                                                         "password_confirm": NEW_PASSWORD})
    assert wrong.status_code == 302
    assert verify_password(_user(runtime, ADMIN).password_hash, ADMIN_PASSWORD)

    post(client, f"/users/{admin.id}/password", {"current_password": ADMIN_PASSWORD, "password": NEW_PASSWORD,
                                                 "password_confirm": NEW_PASSWORD})
    assert "Your password is changed. You were signed out everywhere else." in text_of(client.get("/users"))
    assert thief.get("/").status_code == 302  # the copied cookie no longer works
    assert verify_password(_user(runtime, ADMIN).password_hash, NEW_PASSWORD)
    assert _sign_in(app.test_client(), ADMIN, NEW_PASSWORD).status_code == 302


def test_removing_an_admin_ends_their_sessions_and_the_last_admin_stays(app, signed_in, admin, runtime):
    post(signed_in, "/users/add", {"username": "temp", "password": NEW_PASSWORD,
                                   "password_confirm": NEW_PASSWORD})
    temp_browser = app.test_client()
    _sign_in(temp_browser, "temp", NEW_PASSWORD)
    assert temp_browser.get("/").status_code == 200
    temp = _user(runtime, "temp")
    post(signed_in, f"/users/{temp.id}/remove")
    assert "Removed 'temp'; their sessions ended." in text_of(signed_in.get("/users"))
    assert temp_browser.get("/").status_code == 302
    with runtime.db.transaction() as session:
        assert session.scalars(select(AdminSession.user_id)).all() == [admin.id]
    # Your own account is not removed from the page.
    post(signed_in, f"/users/{admin.id}/remove")
    assert "You cannot remove your own account" in text_of(signed_in.get("/users"))
    assert _user(runtime, ADMIN) is not None


def test_an_admin_unlocks_a_locked_out_admin_and_the_message_said_so(app, signed_in, runtime):
    post(signed_in, "/users/add", {"username": "clerk", "password": NEW_PASSWORD,
                                   "password_confirm": NEW_PASSWORD})
    clerk = app.test_client()
    for _ in range(security.MAX_FAILURES_PER_USER):
        _sign_in(clerk, "clerk", "wrong wrong wrong")
    locked = _sign_in(clerk, "clerk", NEW_PASSWORD)
    assert locked.status_code == 401
    assert "ask another admin to unlock the account on the Users page" in text_of(locked)
    page = text_of(signed_in.get("/users"))
    assert "Locked out until" in page
    post(signed_in, f"/users/{_user(runtime, 'clerk').id}/unlock")
    assert "'clerk' can sign in again." in text_of(signed_in.get("/users"))
    assert _sign_in(clerk, "clerk", NEW_PASSWORD).status_code == 302


def test_a_locked_web_connector_address_is_listed_and_unlocked(signed_in, runtime, conn, config):
    for _ in range(sessions.LOCKOUT_FAILURES):
        with runtime.db.transaction() as session:
            sessions.authenticate(session, config, conn.qbwc_username, "guess", remote_addr="198.51.100.7")
    page = text_of(signed_in.get("/users"))
    assert f"{conn.qbwc_username} 198.51.100.7" in page
    post(signed_in, "/users/web-connector-unlock", {"username": conn.qbwc_username})
    unlocked = text_of(signed_in.get("/users"))
    assert f"The Web Connector user '{conn.qbwc_username}' can sign in again." in unlocked
    with runtime.db.transaction() as session:
        answer = sessions.authenticate(session, config, conn.qbwc_username, "guess",
                                       remote_addr="198.51.100.7")
    assert answer.as_strings() == ["", "nvu"]  # checked (and wrong), not refused unchecked


def test_the_users_page_needs_the_csrf_token(signed_in, runtime):
    refused = signed_in.post("/users/add", data={"username": "x", "password": NEW_PASSWORD,
                                                 "password_confirm": NEW_PASSWORD})
    assert refused.status_code == 400 and _user(runtime, "x") is None


def test_the_user_commands_take_passwords_from_a_prompt_or_stdin_never_argv(runtime, monkeypatch):
    monkeypatch.setattr(cli, "_runtime", lambda upgrade=True: runtime)
    runner = CliRunner()
    added = runner.invoke(cli.main, ["user", "add", "owner"], input=f"{NEW_PASSWORD}\n{NEW_PASSWORD}\n")
    assert added.exit_code == 0, added.output
    assert NEW_PASSWORD not in added.output  # the prompt hides what is typed
    assert verify_password(_user(runtime, "owner").password_hash, NEW_PASSWORD)
    assert runner.invoke(cli.main, ["user", "add", "owner", "--password", "x"]).exit_code == 2

    changed = runner.invoke(cli.main, ["user", "passwd", "owner", "--password-stdin"],
                            input="another password 9\n")
    assert changed.exit_code == 0 and "password changed for 'owner'" in changed.output
    assert verify_password(_user(runtime, "owner").password_hash, "another password 9")
    short = runner.invoke(cli.main, ["user", "passwd", "owner", "--password-stdin"], input="short\n")
    assert short.exit_code == 1 and "at least 10 characters" in short.output
    missing = runner.invoke(cli.main, ["user", "passwd", "nobody", "--password-stdin"],
                            input="long enough pw\n")
    assert "There is no user named 'nobody' (users: owner)" in missing.output

    listed = runner.invoke(cli.main, ["user", "list"])
    assert listed.output.startswith("owner\tlast sign-in: never")
    assert "was not locked out" in runner.invoke(cli.main, ["user", "unlock", "owner"]).output
    for _ in range(security.MAX_FAILURES_PER_USER):
        security.authenticate(runtime.db, "owner", "wrong wrong wrong", "127.0.0.1")
    assert "locked until" in runner.invoke(cli.main, ["user", "list"]).output
    assert "'owner' can sign in again" in runner.invoke(cli.main, ["user", "unlock", "owner"]).output
    assert security.authenticate(runtime.db, "owner", "another password 9", "127.0.0.1").user is not None
    last = runner.invoke(cli.main, ["user", "remove", "owner"])
    assert last.exit_code == 1 and "This is the only admin" in last.output
