"""Models shared by every module: areas, staff, audit, jobs, notifications, programmes."""

from webapp.models.area import Area, AreaLevel
from webapp.models.audit import AuditEvent
from webapp.models.idempotency import IdempotencyKey
from webapp.models.job import Job, JobStatus
from webapp.models.notification import Notification, NotificationStatus
from webapp.models.programme import Programme
from webapp.models.user import ApiToken, Role, User, UserArea

__all__ = ["Area", "AreaLevel", "AuditEvent", "IdempotencyKey", "Job", "JobStatus", "Notification",
           "NotificationStatus", "Programme", "ApiToken", "Role", "User", "UserArea"]
