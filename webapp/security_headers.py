"""Security headers on every response: what the browser may load and run, who may frame the pages, what the
Referer reveals, which device features pages may use.

Scripts and everything else come from this site only; styles may also be inline (`style` attributes size the
bars of the payroll and statement pages). No page may be framed (the approval page must not be click-jacked).
Static files are cached by browsers for a while (STATIC_CACHE_CONTROL) and revalidated by their ETag after it.
"""

from __future__ import annotations

from flask import request

CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
))

HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}


# The site's own styles and scripts: a browser keeps them an hour without asking, then asks again with the ETag the
# file came with (a 304 when it has not changed), so a deployment reaches every browser within the hour. Only the
# static endpoint: files sent by views (payrolls, reports, certificates) keep their own headers.
STATIC_CACHE_CONTROL = "max-age=3600"


def install(app) -> None:
    """Add the headers to every response (a view that sets one of them itself keeps its own); over TLS the
    session and remember-me cookies are sent only over TLS (SRSP_SECURE_COOKIES)."""
    app.config["REMEMBER_COOKIE_SECURE"] = bool(app.config.get("SESSION_COOKIE_SECURE"))
    app.config.setdefault("REMEMBER_COOKIE_HTTPONLY", True)
    app.config.setdefault("REMEMBER_COOKIE_SAMESITE", "Lax")

    @app.after_request
    def _security_headers(response):
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        if request.endpoint == "static" and response.status_code in (200, 304):
            response.headers["Cache-Control"] = STATIC_CACHE_CONTROL
        return response
