"""The citizen's pages: home, apply, follow the application and its payments, appeal or complain, certificate."""


def register(bp) -> None:
    """Add the citizen's routes to the portal's blueprint."""
