"""Registration jobs (run by rq workers or inline). They take ids, never ORM objects."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from marshmallow import ValidationError
from sqlalchemy import func, select

from modules.registration import operations
from modules.registration.schemas import ApplicationFilterArgs
from webapp.extensions import db
from webapp.formatting import currency
from webapp.jobs import report_progress, task
from webapp.models import AreaLevel, User
from webapp.timeutil import local_time

_BATCH = 500
FORMATS = ("csv", "xlsx")
DATE_FORMAT, TIME_FORMAT = "%d.%m.%Y", "%d.%m.%Y %H:%M"  # as the pages write them
_XLSX_FORMATS = {"date": "DD.MM.YYYY", "datetime": "DD.MM.YYYY HH:MM", "amount": "#,##0.00", "count": "0"}


@dataclass(frozen=True)
class Column:
    header: Callable[[], str]  # called under the reader's locale
    kind: str  # text | count | date | datetime | amount
    width: int  # characters, for the spreadsheet


COLUMNS = [
    Column(lambda: _("Reference"), "text", 18),
    Column(lambda: _("Status"), "text", 20),
    Column(lambda: _("Channel"), "text", 16),
    Column(lambda: _("Region"), "text", 24),
    Column(lambda: _("District"), "text", 24),
    Column(lambda: _("Mahalla"), "text", 28),
    Column(lambda: _("PIN"), "text", 16),
    Column(lambda: _("Applicant"), "text", 32),
    Column(lambda: _("Members"), "count", 10),
    Column(lambda: _("Programmes"), "text", 40),
    Column(lambda: _("Registered"), "datetime", 17),
    Column(lambda: _("Submitted"), "datetime", 17),
    Column(lambda: _("Decision due"), "date", 13),
    Column(lambda: _("Decision"), "text", 16),
    Column(lambda: f"{_('Monthly amount')}, {currency()}", "amount", 18),
]


@task("reports", timeout=3600)
def export_applications(job_id: str, user_id: int, filters: dict, file_format: str = "csv") -> dict:
    """Write the user's filtered application list to a CSV or XLSX file in the user's language; idempotent (same
    job id, same file)."""
    user = db.session.get(User, user_id)
    try:
        args = ApplicationFilterArgs().load(filters)
    except ValidationError:
        args = ApplicationFilterArgs().load({})
    query = operations.filtered_applications(user, args)
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    folder = Path(current_app.config["INSTANCE_DIR"]) / "exports"
    folder.mkdir(parents=True, exist_ok=True)
    file_format = file_format if file_format in FORMATS else "csv"
    name = f"applications-{job_id}.{file_format}"
    with force_locale(_language(user)):
        headers = [column.header() for column in COLUMNS]
        rows = _progress(job_id, total, _rows(query))
        write = _write_xlsx if file_format == "xlsx" else _write_csv
        write(folder / name, headers, rows)
    return {"file": name, "rows": total}


def _language(user) -> str:
    languages = current_app.config["LANGUAGES"]
    return user.language if user is not None and user.language in languages else current_app.config[
        "BABEL_DEFAULT_LOCALE"]


def _progress(job_id: str, total: int, rows: Iterator[list]) -> Iterator[list]:
    for done, row in enumerate(rows, 1):
        yield row
        if done % _BATCH == 0:
            report_progress(job_id, done * 100 // max(total, 1), f"{done}/{total}")


def _rows(query) -> Iterator[list]:
    """One row per application, in batches: the latest assessment of a whole batch is read in one query."""
    result = db.session.execute(query.execution_options(yield_per=_BATCH)).scalars()
    for batch in result.partitions():
        assessments = _latest_assessments([application.id for application in batch])
        for application in batch:
            yield _row(application, assessments.get(application.id))


def _latest_assessments(application_ids: list[int]) -> dict:
    from modules.means_test.models import Assessment  # the means test reads registration, not the reverse

    latest = {}
    for assessment in db.session.scalars(select(Assessment).where(Assessment.application_id.in_(application_ids))
                                         .order_by(Assessment.id)):
        latest[assessment.application_id] = assessment
    return latest


def _row(application, assessment) -> list:
    areas = _area_names(application.area)
    return [application.reference, _(application.status.value), _(application.channel.value),
            areas.get(AreaLevel.region, ""), areas.get(AreaLevel.district, ""), areas.get(AreaLevel.mahalla, ""),
            application.applicant.pin, application.applicant.full_name, len(application.members),
            "; ".join(programme.name for programme in application.programmes),
            _local(application.created_at), _local(application.submitted_at), application.due_at,
            _(assessment.decision.value) if assessment else "",
            Decimal(assessment.monthly_total) if assessment else None]


def _area_names(area) -> dict:
    """The names of an area and the areas it lies in, by level, in the reader's language."""
    names = {}
    while area is not None:
        names.setdefault(area.level, area.name)
        area = area.parent
    return names


def _local(moment: datetime | None) -> datetime | None:
    """Tashkent time, without the zone: a spreadsheet cell has none."""
    local = local_time(moment)
    return local.replace(tzinfo=None) if local else None


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime(TIME_FORMAT)
    if isinstance(value, date):
        return value.strftime(DATE_FORMAT)
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    return str(value)


def _write_csv(path: Path, headers: list[str], rows: Iterator[list]) -> None:
    with open(path, "w", newline="", encoding="utf-8-sig") as handle:  # the BOM tells Excel it is UTF-8
        writer = csv.writer(handle)
        writer.writerow(headers)
        for row in rows:
            writer.writerow([_text(value) for value in row])


def _write_xlsx(path: Path, headers: list[str], rows: Iterator[list]) -> None:
    """A streamed workbook: a styled header row that stays in view, widths per column, dates as dates and
    amounts as numbers."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    book = Workbook(write_only=True)
    sheet = book.create_sheet(_("Applications")[:31])
    for index, column in enumerate(COLUMNS, 1):
        sheet.column_dimensions[get_column_letter(index)].width = column.width
    sheet.freeze_panes = "A2"
    bold, fill = Font(bold=True, color="FFFFFF"), PatternFill("solid", fgColor="1F4E79")
    header_cells = []
    for title in headers:
        cell = WriteOnlyCell(sheet, value=title)
        cell.font, cell.fill, cell.alignment = bold, fill, Alignment(vertical="center", wrap_text=True)
        header_cells.append(cell)
    sheet.append(header_cells)
    count = 0
    for row in rows:
        cells = []
        for column, value in zip(COLUMNS, row, strict=True):
            cell = WriteOnlyCell(sheet, value=value)
            if value is not None and column.kind in _XLSX_FORMATS:
                cell.number_format = _XLSX_FORMATS[column.kind]
            cells.append(cell)
        sheet.append(cells)
        count += 1
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(COLUMNS))}{count + 1}"
    book.save(path)
