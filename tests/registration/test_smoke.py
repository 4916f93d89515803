from tests import factories
from tests.conftest import sign_in


def test_registrar_registers_and_sees_timeline(client, app):
    user = factories.make_user("registrar", areas=["UZ-TK"])
    family = factories.make_family("UZ-TK")
    sign_in(client, user)
    response = client.post("/applications/new", data=factories.form_data(factories.application_payload(family),
                                                                             client.csrf))
    assert response.status_code == 302, response.get_data(as_text=True)[-2000:]
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert family["head"].pin in page
