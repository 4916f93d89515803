"""Registration: persons, households, applications; the staff intake and (later) the public portal intake."""

import logging

logger = logging.getLogger(__name__)
