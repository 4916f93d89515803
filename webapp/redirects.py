"""Where the application may send a browser back to: paths on this site, never another host."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

# Browsers drop tabs and line breaks inside a URL and read a backslash as a slash, so "/\t/evil.example" and
# "/\\evil.example" both lead off the site; a path qualifies only when it has none of these and no authority.
_UNSAFE = re.compile(r"[\x00-\x20\x7f\\]")


def local_path(target: str | None) -> str | None:
    """`target` when it is a path on this site ("/cases?page=2"), else None."""
    if not target or _UNSAFE.search(target) or not target.startswith("/") or target.startswith("//"):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target
