"""A `next` or a referrer never sends the browser to another site, however the path is disguised."""

import pytest

from tests import factories
from tests.conftest import csrf_token
from webapp.redirects import local_path

DISGUISED = ["/\t/evil.example", "//evil.example", "/\\evil.example", "https://evil.example/x",
             "/\n/evil.example", " //evil.example", "javascript:alert(1)"]


@pytest.mark.parametrize("target", ["/\t/evil.example", "/\\evil.example", "//evil.example", "https://evil.example",
                                    "/\r\n/evil.example", "", None])
def test_only_paths_on_this_site_qualify(target):
    assert local_path(target) is None


def test_a_plain_path_with_a_query_qualifies():
    assert local_path("/applications?page=2&q=a%20b") == "/applications?page=2&q=a%20b"


@pytest.mark.parametrize("target", DISGUISED)
def test_sign_in_next_stays_on_the_site(client, target):
    user = factories.make_user("registrar", areas=["UZ-TK"])
    response = client.post("/login", query_string={"next": target},
                           data={"username": user.username, "password": factories.PASSWORD,
                                 "csrf_token": csrf_token(client)})
    assert response.status_code == 302
    assert response.headers["Location"] == "/applications"


@pytest.mark.parametrize("target", DISGUISED)
def test_language_switch_next_stays_on_the_site(client, target):
    response = client.post("/language", data={"language": "ru", "next": target, "csrf_token": csrf_token(client)})
    assert response.status_code == 302
    assert not response.headers["Location"].startswith("//")
    assert "evil.example" not in response.headers["Location"]


def test_an_encoded_tab_in_the_sign_in_address_is_refused(client):
    user = factories.make_user("registrar", areas=["UZ-TK"])
    response = client.post("/login?next=/%09/evil.example",
                           data={"username": user.username, "password": factories.PASSWORD,
                                 "csrf_token": csrf_token(client)})
    assert response.headers["Location"] == "/applications"
