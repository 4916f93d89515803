"""Builders for the citizen's pages' tests: a signed-in citizen without the SMS flow, a form's CSRF token, a page's
compressed size and its links."""

from __future__ import annotations

import gzip
import re

from modules.portal.session import KEY
from webapp.timeutil import utcnow


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
