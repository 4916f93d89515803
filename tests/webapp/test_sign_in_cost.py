"""A sign-in pays argon2's cost exactly once, whatever its outcome: the right password, a wrong one, a name of no
account, an account locked out. Once is the security (a guess costs the guesser as much as the server); twice
would halve how many staff the server can sign in at nine o'clock without making a guess any harder."""

import pytest

from tests import factories
from tests.conftest import csrf_token
from webapp.auth import passwords
from webapp.auth.limits import limiter


class _CountingHasher:
    """The suite's hasher, counting what it hashes and verifies."""

    def __init__(self, hasher):
        self.hasher, self.calls = hasher, []

    def verify(self, stored, password):
        self.calls.append("verify")
        return self.hasher.verify(stored, password)

    def hash(self, password):
        self.calls.append("hash")
        return self.hasher.hash(password)

    def __getattr__(self, name):
        return getattr(self.hasher, name)


@pytest.fixture
def hasher(monkeypatch):
    limiter.reset()
    counting = _CountingHasher(passwords._hasher)
    monkeypatch.setattr(passwords, "_hasher", counting)
    yield counting
    limiter.reset()


def _sign_in(client, hasher, username: str, password: str) -> tuple[int, list[str]]:
    token = csrf_token(client)
    hasher.calls.clear()
    response = client.post("/login", data={"username": username, "password": password, "csrf_token": token})
    return response.status_code, list(hasher.calls)


def test_each_sign_in_verifies_one_password_and_hashes_none(app, client, hasher):
    user = factories.make_user("registrar", national=True)
    factories.commit()
    assert _sign_in(client, hasher, "nobody-here", "wrong-password-1") == (401, ["verify"])
    assert _sign_in(client, hasher, user.username, "wrong-password-1") == (401, ["verify"])
    assert _sign_in(client, hasher, user.username, factories.PASSWORD) == (302, ["verify"])


def test_a_locked_out_sign_in_verifies_one_password_too(app, client, hasher):
    user = factories.make_user("registrar", national=True)
    factories.commit()
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        _sign_in(client, hasher, user.username, "wrong-password-1")
    assert _sign_in(client, hasher, user.username, factories.PASSWORD) == (401, ["verify"])
