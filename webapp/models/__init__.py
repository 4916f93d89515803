"""Models shared by every module: areas, staff, audit, jobs, programmes."""

from webapp.models.area import Area, AreaLevel
from webapp.models.audit import AuditEvent
from webapp.models.job import Job, JobStatus
from webapp.models.programme import Programme
from webapp.models.user import ApiToken, Role, User, UserArea

__all__ = ["Area", "AreaLevel", "AuditEvent", "Job", "JobStatus", "Programme", "ApiToken", "Role", "User", "UserArea"]
