"""Builders for the citizen's pages' tests: a signed-in citizen without the SMS flow, and the portal's neighbours
(sign-in, sign-out, the certificate check) as bare stand-ins while they are not in the application yet."""

from __future__ import annotations

import gzip
import re

from werkzeug.routing import Rule

from modules.portal.session import KEY
from webapp.timeutil import utcnow

NEIGHBOURS = (("portal.sign_in", "/portal/sign-in", ("GET", "POST")),
              ("portal.sign_out", "/portal/sign-out", ("POST",)),
              ("certificates.verify", "/certificates/verify", ("GET",)))


def with_neighbours(app) -> None:
    """The page frame links these; a stand-in answers where the real page is not in the application yet."""
    for endpoint, path, methods in NEIGHBOURS:
        if endpoint not in app.view_functions:
            app.url_map.add(Rule(path, endpoint=endpoint, methods=set(methods)))
            app.view_functions[endpoint] = lambda **_kwargs: ("", 204)


def signed_in(client, person):
    """`client` signed in as the citizen `person` (the citizen's part of the session, as sign-in writes it)."""
    now = utcnow().timestamp()
    with client.session_transaction() as session:
        session[KEY] = {"person_id": person.id, "provider": "test", "since": now, "seen": now}
    return client


_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf(client, path: str = "/portal/") -> str:
    html = client.get(path).get_data(as_text=True)
    return _CSRF.search(html).group(1)


def gzipped_size(client, path: str) -> int:
    """Bytes of the page and its stylesheet, compressed as a server would send them."""
    page = client.get(path).get_data()
    style = client.get("/static/portal.css").get_data()
    return len(gzip.compress(page, 6)) + len(gzip.compress(style, 6))


def links(html: str) -> list[str]:
    return re.findall(r'(?:href|action|src)="([^"]*)"', html)
