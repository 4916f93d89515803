"""Staff actions on data collection. Thin: load in scope, check permission, call the operation (the boundary
commits)."""

from __future__ import annotations

from flask import abort, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from connectors.catalog import BY_NAME
from modules.means_test import manual, operations
from modules.means_test.labels import source_title
from modules.means_test.models import ManualEntry
from modules.registration.operations import get_application
from webapp import audit
from webapp.auth.permissions import has_permission, require
from webapp.boundary import caught_refusal
from webapp.extensions import db
from webapp.guard import int_arg


@require("application.change")
def retry(application_id: int):
    """Retry one source (form field `source`) or every missing one; allowed from manual verification or after
    collection (to refresh a source), never while a collection is running."""
    application = get_application(current_user, application_id)
    if application is None:
        abort(404)
    source = request.form.get("source") or None
    if source is not None and source not in BY_NAME:
        flash(_("Unknown source %(name)s.", name=source), "error")
    elif not operations.can_restart(application):
        flash(_("Data collection cannot be restarted while the application is %(status)s.",
                status=_(application.status.value)), "error")
    else:
        operations.start_collection(application, current_user, [source] if source else None, probe=True)
        flash(_("Data collection restarted."), "success")
    return redirect(url_for("registration.application_detail", application_id=application_id))


def _application(application_id: int):
    application = get_application(current_user, application_id)
    if application is None:
        abort(404)  # out of scope looks exactly like missing
    return application


def _entry(application, entry_id: int) -> ManualEntry:
    entry = db.session.get(ManualEntry, entry_id)
    if entry is None or entry.application_id != application.id:
        abort(404)
    return entry


def _detail(application_id: int):
    return redirect(url_for("registration.application_detail", application_id=application_id))


@require("manual_record.enter")
def manual_entry(application_id: int, source: str):
    """The form for a missing source's records, generated from the fields the source returns; POST keeps them
    pending until a second person confirms."""
    application = _application(application_id)
    if source not in BY_NAME:
        abort(404)
    rows = int_arg("rows", manual.DEFAULT_ROWS, 1, manual.MAX_ROWS)
    errors, message = {}, None
    if request.method == "POST":
        with caught_refusal(flash_it=False) as caught:
            manual.enter(application, source, request.form, request.files.get("document_file"), current_user, rows)
        if not caught:
            flash(_("Records entered. They count once another staff member confirms them."), "success")
            return _detail(application_id)
        if not caught.errors:
            flash(str(caught.refusal), "error")
            return _detail(application_id)
        errors, message = caught.errors, caught.refusal.message
    else:
        with caught_refusal() as caught:
            manual.check_can_enter(application, source)
        if caught:
            return _detail(application_id)
    members = manual.missing_members(application, source)
    kinds = [(kind, manual.KIND_LABELS[kind], manual.fields_of(kind, source), manual.rows_for(kind, rows))
             for kind in manual.record_kinds(source)]
    return render_template("means_test/manual_entry.html", app=application, source=BY_NAME[source],
                           title=source_title(source), members=members, kinds=kinds, rows=rows,
                           max_rows=manual.MAX_ROWS, errors=errors, message=message, form=request.form,
                           document_types=manual.DOCUMENT_TYPES, field_name=manual.field_name,
                           today=manual.local_today()), 422 if errors else 200


@require("manual_record.confirm")
def manual_confirm(application_id: int, entry_id: int):
    application = _application(application_id)
    entry = _entry(application, entry_id)
    with caught_refusal() as caught:
        manual.confirm(entry, current_user)
    if not caught:
        flash(_("Records confirmed: they now count as the answer of %(source)s.", source=source_title(entry.source)),
              "success")
    return _detail(application_id)


@require("application.view")
def manual_reject(application_id: int, entry_id: int):
    """Discard pending records: a person who may confirm them, or the one who entered them."""
    application = _application(application_id)
    entry = _entry(application, entry_id)
    own = entry.entered_by_id == current_user.id and has_permission(current_user, "manual_record.enter")
    if not (own or has_permission(current_user, "manual_record.confirm")):
        abort(403)
    with caught_refusal() as caught:
        manual.reject(entry, current_user, request.form.get("reason", ""))
    if not caught:
        flash(_("The records entered by hand were rejected; they do not count."), "success")
    return _detail(application_id)


@require("application.view")
def manual_document(application_id: int, entry_id: int):
    """The scan attached to records entered by hand (a read of a person's document: audited)."""
    application = _application(application_id)
    entry = _entry(application, entry_id)
    if entry.document_content is None:
        abort(404)
    audit.record("manual_record.document_viewed", "application", application.id, {"entry": entry.id},
                 actor=current_user)
    response = make_response(entry.document_content)
    response.headers["Content-Type"] = entry.document_mime or "application/octet-stream"
    response.headers["Content-Disposition"] = f'attachment; filename="{entry.document_name or "document"}"'
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "no-store"
    return response
