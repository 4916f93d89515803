"""Administration pages: staff accounts (create, change, unlock, reset password) and the audit trail."""

import re

import pytest
from sqlalchemy import func, select

from modules.registration.operations import register_application
from modules.registration.schemas import ApplicationArgs
from tests import factories
from tests.conftest import csrf_token, sign_in
from webapp import audit
from webapp.auth.limits import limiter
from webapp.auth.operations import UserInputError, create_user, reset_password, update_user
from webapp.auth.passwords import MIN_LENGTH
from webapp.extensions import db
from webapp.models import AuditEvent, User

NEW_PASSWORD = "a-brand-new-password-42"


@pytest.fixture(autouse=True)
def _fresh_sign_in_limits(app):
    """Sign-in rate limits count per address and name; each test starts from none (other runs' counts too)."""
    limiter.reset()
    yield
    limiter.reset()


@pytest.fixture
def admin(app):
    return factories.make_user("admin", national=True)


@pytest.fixture
def admin_client(client, admin):
    return sign_in(client, admin)


@pytest.fixture
def in_request(app):
    """Operations translate their refusals, which needs a request (the locale comes from it)."""
    with app.test_request_context(headers={"Accept-Language": "en"}):
        yield


def _saved():
    """Commit what a test set up: a refused request rolls back, which would otherwise discard it too."""
    db.session.commit()


def _user_count() -> int:
    return db.session.scalar(select(func.count()).select_from(User))


def _new_user_form(token: str, **overrides) -> dict:
    data = {"csrf_token": token, "username": "new.registrar", "full_name": "Nilufar Yangi", "role": "registrar",
            "areas": ["UZ-SA"], "language": "en", "password": "long-enough-password"}
    data.update(overrides)
    return data


def _edit_form(token: str, user: User, **overrides) -> dict:
    data = {"csrf_token": token, "role": user.role.value, "areas": [area.code for area in user.areas]}
    if user.national_scope:
        data["national_scope"] = "y"
    if user.active:
        data["active"] = "y"
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def _events(action: str, user: User) -> list[AuditEvent]:
    return db.session.scalars(select(AuditEvent).where(AuditEvent.action == action,
                                                       AuditEvent.object_id == str(user.id))
                              .order_by(AuditEvent.id)).all()


def _login_status(app, username: str, password: str) -> int:
    browser = app.test_client()
    browser.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return browser.post("/login", data={"username": username, "password": password,
                                        "csrf_token": csrf_token(browser)}).status_code


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def _actions_listed(html: str) -> list[str]:
    return re.findall(r'<tr data-action="([a-z_.]+)">', html)


# --- creating users --------------------------------------------------------------------------------------------


def test_admin_creates_a_user_who_signs_in_and_sees_only_their_area(app, admin_client, admin):
    national_registrar = factories.make_user("registrar", national=True)
    with app.test_request_context(headers={"Accept-Language": "en"}):  # the schema translates its messages
        tashkent, samarkand = (register_application(ApplicationArgs().load(factories.application_payload(
            factories.make_family(code))), national_registrar) for code in ("UZ-TK", "UZ-SA"))

    response = admin_client.post("/admin/users/new", data=_new_user_form(admin_client.csrf))
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    user = db.session.scalar(select(User).where(User.username == "new.registrar"))
    assert (user.role.value, [area.code for area in user.areas], user.national_scope) == ("registrar", ["UZ-SA"],
                                                                                          False)
    created = _events("user.created", user)
    assert len(created) == 1 and created[0].actor_id == admin.id

    browser = app.test_client()
    browser.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    sign_in(browser, user, "long-enough-password")
    html = browser.get("/applications").get_data(as_text=True)
    assert samarkand.reference in html
    assert tashkent.reference not in html
    assert browser.get(f"/applications/{tashkent.id}").status_code == 404


def test_new_user_form_offers_regions_and_districts(admin_client):
    html = admin_client.get("/admin/users/new").get_data(as_text=True)
    assert 'value="UZ-SA"' in html and 'value="UZ-TK"' in html
    assert 'name="csrf_token"' in html
    assert "-M01" not in html, "mahallas are not offered: staff scopes are regions and districts"
    role_select = re.search(r'<select id="role".*?</select>', html, re.S).group(0)
    assert "selected" not in role_select, "no role is pre-selected"


@pytest.mark.parametrize("overrides, field_message", [
    ({"password": "short"}, f"A password needs at least {MIN_LENGTH} characters."),
    ({"username": "taken.name"}, "The username taken.name is taken."),
    ({"areas": ["UZ-NOWHERE"]}, "Unknown area code: UZ-NOWHERE"),
    ({"areas": []}, "Choose at least one area or national scope"),
    ({"role": "wizard"}, "Choose a role."),
    ({"role": ""}, "This field is required."),
    ({"username": "has space"}, "Use only Latin letters"),
    ({"full_name": ""}, "This field is required."),
], ids=["short-password", "duplicate-username", "unknown-area", "registrar-without-area", "unknown-role",
        "no-role", "bad-username", "no-name"])
def test_bad_input_is_refused_and_nothing_is_saved(admin_client, overrides, field_message):
    factories.make_user("registrar", areas=["UZ-TK"], username="taken.name")
    _saved()
    before, events_before = _user_count(), db.session.scalar(select(func.count()).select_from(AuditEvent))
    data = _new_user_form(admin_client.csrf, **{"full_name": "Typed Name Kept", **overrides})
    response = admin_client.post("/admin/users/new", data=data)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert field_message in html
    assert "The user was not saved" in html
    if overrides.get("full_name") is None:
        assert 'value="Typed Name Kept"' in html, "what was typed comes back"
    assert "long-enough-password" not in html, "a password is never sent back to the browser"
    assert _user_count() == before
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == events_before


def test_roles_without_a_place_need_no_area(admin_client):
    response = admin_client.post("/admin/users/new", data=_new_user_form(
        admin_client.csrf, username="an.analyst", role="analyst", areas=[]))
    assert response.status_code == 302
    assert db.session.scalar(select(User).where(User.username == "an.analyst")).areas == []


def test_create_user_refuses_a_registrar_without_any_area(in_request):
    with pytest.raises(UserInputError) as refusal:
        create_user("nowhere", "long-enough-password", "registrar", "No Where")
    assert list(refusal.value.errors) == ["areas"]


def test_the_operations_themselves_refuse_a_short_password(in_request, admin):
    """The form checks the length too; the operations are the rule, for the CLI and any other caller."""
    with pytest.raises(UserInputError) as refusal:
        create_user("shorty", "x" * (MIN_LENGTH - 1), "analyst", "Short Y")
    assert list(refusal.value.errors) == ["password"]
    user = factories.make_user("registrar", areas=["UZ-TK"])
    with pytest.raises(UserInputError) as refusal:
        reset_password(user, "x" * (MIN_LENGTH - 1), admin)
    assert list(refusal.value.errors) == ["password"]
    reset_password(user, "x" * MIN_LENGTH, admin)


def test_an_admin_without_national_scope_gives_only_their_own_areas(in_request):
    regional = factories.make_user("admin", areas=["UZ-TK"])
    with pytest.raises(UserInputError) as refusal:
        create_user("outsider", "long-enough-password", "registrar", "Out Sider", ["UZ-SA"], actor=regional)
    assert "UZ-SA" in refusal.value.errors["areas"][0]
    with pytest.raises(UserInputError) as refusal:
        create_user("everywhere", "long-enough-password", "registrar", "Every Where", national_scope=True,
                    actor=regional)
    assert "national_scope" in refusal.value.errors
    assert create_user("insider", "long-enough-password", "registrar", "In Sider", ["UZ-TK"], actor=regional)


# --- permissions -----------------------------------------------------------------------------------------------


def test_registrar_is_refused_every_admin_page(registrar_client, registrar):
    for path in ("/admin/users", "/admin/users/new", f"/admin/users/{registrar.id}", "/admin/audit"):
        assert registrar_client.get(path).status_code == 403, path
    response = registrar_client.post(f"/admin/users/{registrar.id}",
                                     data=_edit_form(registrar_client.csrf, registrar, role="admin"))
    assert response.status_code == 403
    assert registrar.role.value == "registrar"
    assert registrar_client.post("/admin/audit/verify", data={"csrf_token": registrar_client.csrf}).status_code == 403
    html = registrar_client.get("/applications").get_data(as_text=True)
    assert "/admin/users" not in html and "/admin/audit" not in html, "no links to pages they cannot open"


def test_auditor_reads_the_audit_trail_but_cannot_manage_users(client):
    auditor = factories.make_user("auditor", national=True)
    sign_in(client, auditor)
    assert client.get("/admin/audit").status_code == 200
    assert client.get("/admin/users").status_code == 403
    assert client.get("/admin/users/new").status_code == 403
    html = client.get("/applications").get_data(as_text=True)
    assert "/admin/audit" in html and "/admin/users" not in html


def test_admin_sees_both_links(admin_client):
    html = admin_client.get("/jobs").get_data(as_text=True)
    assert 'href="/admin/users"' in html and 'href="/admin/audit"' in html


def test_anonymous_is_sent_to_sign_in(client):
    response = client.get("/admin/users")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_admin_pages_without_a_csrf_token_are_refused(admin_client, admin):
    target = factories.make_user("registrar", areas=["UZ-TK"])
    data = _edit_form("forged", target, active=None)
    assert admin_client.post(f"/admin/users/{target.id}", data=data).status_code == 400
    assert target.active


# --- the users list --------------------------------------------------------------------------------------------


def test_users_list_shows_accounts_and_searches(admin_client, admin):
    factories.make_user("registrar", areas=["UZ-SA"], username="samarkand.reg")
    factories.make_user("social_worker", areas=["UZ-TK"], username="tashkent.social")
    # Searched, not paged: users other tests committed (the browser tests', on PostgreSQL) fill the first page.
    html = "".join(admin_client.get(f"/admin/users?q={name}").get_data(as_text=True)
                   for name in ("samarkand.reg", "tashkent.social", admin.username))
    text = _text(html)
    assert "samarkand.reg" in html and "tashkent.social" in html
    assert "Samarkand Region" in text and "Social worker" in text, "area names and translated roles"
    assert "National" in text, "the admin's own national scope"
    found = admin_client.get("/admin/users?q=SAMARKAND").get_data(as_text=True)
    assert "samarkand.reg" in found and "tashkent.social" not in found


def test_users_list_shows_a_lock_out(app, admin_client):
    user = factories.make_user("registrar", areas=["UZ-TK"], username="locked.out")
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        _login_status(app, user.username, "wrong-password-123")
    row = re.search(r"locked\.out</a>.*?</tr>", admin_client.get("/admin/users?q=locked.out").get_data(as_text=True),
                    re.S)
    assert 'class="error"' in row.group(0)


# --- changing users --------------------------------------------------------------------------------------------


def test_unlock_clears_a_lock_out(app, admin_client, admin):
    user = factories.make_user("registrar", areas=["UZ-TK"])
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        assert _login_status(app, user.username, "wrong-password-123") == 401
    assert user.locked_until is not None
    assert _login_status(app, user.username, factories.PASSWORD) == 401, "locked: the right password is refused"

    edit_page = admin_client.get(f"/admin/users/{user.id}").get_data(as_text=True)
    assert f"/admin/users/{user.id}/unlock" in edit_page
    response = admin_client.post(f"/admin/users/{user.id}/unlock", data={"csrf_token": admin_client.csrf},
                                 follow_redirects=True)
    assert "can sign in again" in response.get_data(as_text=True)
    assert user.locked_until is None and user.failed_logins == 0
    [event] = _events("user.unlocked", user)
    assert event.actor_id == admin.id and event.details["locked_until"]
    assert _login_status(app, user.username, factories.PASSWORD) == 302


def test_unlocking_an_account_that_is_not_locked_changes_nothing(admin_client):
    user = factories.make_user("registrar", areas=["UZ-TK"])
    response = admin_client.post(f"/admin/users/{user.id}/unlock", data={"csrf_token": admin_client.csrf},
                                 follow_redirects=True)
    assert "was not locked out" in response.get_data(as_text=True)
    assert _events("user.unlocked", user) == []


def test_deactivating_a_user_stops_sign_in_and_ends_their_session(app, admin_client, admin):
    user = factories.make_user("registrar", areas=["UZ-TK"])
    browser = app.test_client()
    browser.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    sign_in(browser, user)
    assert browser.get("/applications").status_code == 200

    response = admin_client.post(f"/admin/users/{user.id}", data=_edit_form(admin_client.csrf, user, active=None))
    assert response.status_code == 302
    assert user.active is False
    assert _login_status(app, user.username, factories.PASSWORD) == 401
    assert browser.get("/applications").status_code == 302, "the open session ends too"
    [event] = _events("user.updated", user)
    assert event.details["active"] == {"from": True, "to": False}

    admin_client.post(f"/admin/users/{user.id}", data=_edit_form(admin_client.csrf, user, active="y"))
    assert user.active is True
    assert _login_status(app, user.username, factories.PASSWORD) == 302


def test_admin_cannot_deactivate_themselves(admin_client, admin):
    response = admin_client.post(f"/admin/users/{admin.id}", data=_edit_form(admin_client.csrf, admin, active=None))
    assert response.status_code == 422
    assert "You cannot deactivate your own account." in response.get_data(as_text=True)
    db.session.refresh(admin)
    assert admin.active is True
    assert _events("user.updated", admin) == []


def test_admin_cannot_remove_their_own_admin_role(admin_client, admin):
    response = admin_client.post(f"/admin/users/{admin.id}",
                                 data=_edit_form(admin_client.csrf, admin, role="registrar"))
    assert response.status_code == 422
    assert "You cannot remove your own right to manage users" in response.get_data(as_text=True)
    db.session.refresh(admin)
    assert admin.role.value == "admin"
    assert admin_client.get("/admin/users").status_code == 200


def test_another_admin_can_be_demoted(admin_client):
    other = factories.make_user("admin", national=True)
    response = admin_client.post(f"/admin/users/{other.id}",
                                 data=_edit_form(admin_client.csrf, other, role="auditor"))
    assert response.status_code == 302
    assert other.role.value == "auditor"


def test_changes_of_role_and_areas_are_audited(admin_client, admin):
    user = factories.make_user("registrar", areas=["UZ-TK", "UZ-SA"])
    response = admin_client.post(f"/admin/users/{user.id}", data=_edit_form(
        admin_client.csrf, user, role="social_worker", areas=["UZ-SA", "UZ-AN"]))
    assert response.status_code == 302
    assert user.role.value == "social_worker"
    assert sorted(area.code for area in user.areas) == ["UZ-AN", "UZ-SA"]
    [event] = _events("user.updated", user)
    assert event.actor_id == admin.id
    assert event.details["role"] == {"from": "registrar", "to": "social_worker"}
    assert event.details["areas"] == {"added": ["UZ-AN"], "removed": ["UZ-TK"]}
    assert "active" not in event.details and "national_scope" not in event.details, "only what changed"

    admin_client.post(f"/admin/users/{user.id}", data=_edit_form(admin_client.csrf, user))
    assert len(_events("user.updated", user)) == 1, "saving without a change writes no event"


def test_removing_the_last_area_of_a_registrar_is_refused(admin_client):
    user = factories.make_user("registrar", areas=["UZ-TK"])
    _saved()
    response = admin_client.post(f"/admin/users/{user.id}", data=_edit_form(admin_client.csrf, user, areas=[]))
    assert response.status_code == 422
    assert "Choose at least one area or national scope" in response.get_data(as_text=True)
    db.session.refresh(user)
    assert [area.code for area in user.areas] == ["UZ-TK"]


def test_update_user_rejects_unknown_areas(in_request, admin):
    user = factories.make_user("registrar", areas=["UZ-TK"])
    with pytest.raises(UserInputError) as refusal:
        update_user(user, admin, "registrar", ["UZ-TK", "UZ-NOWHERE"])
    assert "UZ-NOWHERE" in refusal.value.errors["areas"][0]


def test_reset_password_is_audited_without_the_password(app, admin_client, admin):
    user = factories.make_user("registrar", areas=["UZ-TK"])
    old_hash = user.password_hash
    response = admin_client.post(f"/admin/users/{user.id}/password",
                                 data={"csrf_token": admin_client.csrf, "password": NEW_PASSWORD})
    assert response.status_code == 302
    assert user.password_hash != old_hash
    [event] = _events("user.password_reset", user)
    assert event.actor_id == admin.id
    assert NEW_PASSWORD not in str(event.details) and user.password_hash not in str(event.details)
    assert _login_status(app, user.username, factories.PASSWORD) == 401
    assert _login_status(app, user.username, NEW_PASSWORD) == 302


def test_reset_password_refuses_a_short_one(admin_client):
    user = factories.make_user("registrar", areas=["UZ-TK"])
    _saved()
    old_hash = user.password_hash
    response = admin_client.post(f"/admin/users/{user.id}/password",
                                 data={"csrf_token": admin_client.csrf, "password": "short"})
    assert response.status_code == 422
    assert f"A password needs at least {MIN_LENGTH} characters." in response.get_data(as_text=True)
    db.session.refresh(user)
    assert user.password_hash == old_hash
    assert _events("user.password_reset", user) == []


def test_unknown_user_is_404(admin_client):
    assert admin_client.get("/admin/users/999999").status_code == 404


# --- the audit trail -------------------------------------------------------------------------------------------


def test_audit_page_lists_events_newest_first_and_filters_by_action(admin_client, admin):
    user = factories.make_user("registrar", areas=["UZ-TK"])
    admin_client.post(f"/admin/users/{user.id}", data=_edit_form(admin_client.csrf, user, role="social_worker"))

    listed = _actions_listed(admin_client.get("/admin/audit").get_data(as_text=True))
    assert listed[0] == "user.updated", "newest first"
    assert "user.created" in listed and "user.signed_in" in listed

    only_updates = _actions_listed(admin_client.get("/admin/audit?action=user.updated").get_data(as_text=True))
    assert only_updates == ["user.updated"]
    family = _actions_listed(admin_client.get("/admin/audit?action=user").get_data(as_text=True))
    assert {"user.created", "user.updated", "user.signed_in"} <= set(family)


def test_audit_page_filters_by_actor_object_and_date(admin_client, admin):
    user = factories.make_user("registrar", areas=["UZ-TK"])
    admin_client.post(f"/admin/users/{user.id}", data=_edit_form(admin_client.csrf, user, role="social_worker"))

    by_actor = admin_client.get(f"/admin/audit?actor={admin.username.upper()}").get_data(as_text=True)
    assert set(_actions_listed(by_actor)) == {"user.signed_in", "user.updated"}, "factory users have no actor"
    by_object = admin_client.get(f"/admin/audit?object_type=user&object_id={user.id}").get_data(as_text=True)
    assert _actions_listed(by_object) == ["user.updated", "user.created"]
    assert _actions_listed(admin_client.get("/admin/audit?date_from=2999-01-01").get_data(as_text=True)) == []
    today = admin_client.get("/admin/audit?action=user.updated&date_from=2000-01-01&date_to=2999-12-31")
    assert _actions_listed(today.get_data(as_text=True)) == ["user.updated"]
    bad = admin_client.get("/admin/audit?date_from=yesterday")
    assert bad.status_code == 200 and "were not understood" in bad.get_data(as_text=True)


def test_audit_page_is_paginated(admin_client):
    for number in range(7):
        audit.record("test.paged", "thing", number)
    first = admin_client.get("/admin/audit?action=test.paged&per_page=5").get_data(as_text=True)
    assert len(_actions_listed(first)) == 5
    assert "page=2" in first and "action=test.paged" in first, "the next link keeps the filter"
    second = admin_client.get("/admin/audit?action=test.paged&per_page=5&page=2").get_data(as_text=True)
    assert len(_actions_listed(second)) == 2


def test_viewing_the_audit_trail_is_not_itself_audited(admin_client):
    before = db.session.scalar(select(func.count()).select_from(AuditEvent))
    admin_client.get("/admin/audit")
    admin_client.get("/admin/audit?action=user")
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == before


def test_verify_button_reports_an_intact_chain(admin_client):
    rows = db.session.scalar(select(func.count()).select_from(AuditEvent))
    response = admin_client.post("/admin/audit/verify", data={"csrf_token": admin_client.csrf},
                                 follow_redirects=True)
    assert response.status_code == 200
    assert f"The audit trail is intact: {rows} rows checked." in response.get_data(as_text=True)


def test_verify_button_names_an_altered_row(admin_client):

    events = [audit.record("test.event", "thing", number, {"n": number}) for number in range(3)]
    audit.link_pending()
    factories.tamper_audit("UPDATE audit_event SET details = :d WHERE id = :id", d='{"n": 99}', id=events[1].id)
    response = admin_client.post("/admin/audit/verify", data={"csrf_token": admin_client.csrf},
                                 follow_redirects=True)
    html = response.get_data(as_text=True)
    assert f"row {events[1].id} was altered" in html
    assert 'class="flash error"' in html


@pytest.mark.parametrize("language, heading", [("uz", "Foydalanuvchilar"), ("ru", "Пользователи")])
def test_admin_pages_in_other_languages(client, language, heading):
    admin = factories.make_user("admin", national=True, language=language)
    sign_in(client, admin)
    html = client.get("/admin/users").get_data(as_text=True)
    assert re.search(r"<h1>\s*" + heading, html)
    assert client.get("/admin/users/new").status_code == 200
    assert client.get("/admin/audit").status_code == 200
    assert client.get(f"/admin/users/{admin.id}").status_code == 200
