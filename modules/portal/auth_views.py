"""Citizens' sign-in pages: a PIN, the phone number on file and a one-time SMS code, or a national single sign-on
over OpenID Connect."""


def register(bp) -> None:
    """Add the sign-in routes to the portal's blueprint."""
