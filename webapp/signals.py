"""Every blinker signal between modules, declared in one place.

Receivers run inside the sender's transaction; they must not commit.
"""

from blinker import Namespace

_signals = Namespace()

#: sender: the Application; kwargs: actor. Sent after a new application is submitted (flushed, not committed).
application_submitted = _signals.signal("application-submitted")

#: sender: the Application; kwargs: previous (ApplicationStatus), actor.
application_status_changed = _signals.signal("application-status-changed")

#: sender: the Application; kwargs: assessment (the stored Assessment), actor. Sent when the means test decides.
application_decided = _signals.signal("application-decided")
