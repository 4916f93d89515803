"""The site's styles and scripts are cached by browsers: kept an hour, then revalidated by their ETag (304 when
unchanged), with the security headers on both answers; pages are not cached that way."""

from webapp.security_headers import HEADERS, STATIC_CACHE_CONTROL


def test_static_files_are_kept_an_hour_then_revalidated_by_their_etag(client):
    first = client.get("/static/style.css")
    assert first.status_code == 200
    assert first.headers["Cache-Control"] == STATIC_CACHE_CONTROL == "max-age=3600"
    assert first.headers["ETag"]
    again = client.get("/static/style.css", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and not again.get_data()
    assert again.headers["Cache-Control"] == STATIC_CACHE_CONTROL
    for response in (first, again):
        assert {name: response.headers.get(name) for name in HEADERS} == HEADERS


def test_pages_and_missing_files_are_not_kept(client):
    assert client.get("/static/no-such-file.css").status_code == 404
    assert "max-age" not in client.get("/static/no-such-file.css").headers.get("Cache-Control", "")
    assert "max-age" not in client.get("/login").headers.get("Cache-Control", "")
