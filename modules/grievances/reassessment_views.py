"""Staff pages for re-assessing a household from a case: record a change of circumstances (shown before it is
saved), review an appealed decision, and confirm or discard the new assessment (its consequences shown first).

Thin: load, check access, validate the form, call modules/grievances/reassessment.py, render or redirect. The
boundary commits; a refusal is flashed (or shown beside its field) and nothing changes."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from marshmallow import ValidationError
from sqlalchemy import select

from modules.grievances import reassessment as operations
from modules.grievances.models import Reassessment
from modules.grievances.page_access import case_or_404, page_today
from modules.grievances.reassessment_forms import MAX_CHANGES, ChangeRows, ReviewForm, rows_from
from modules.grievances.reassessment_panel import OUTCOME_DONE, words
from modules.registration.models import Person, Relation
from webapp.auth.permissions import require
from webapp.boundary import Refusal, caught_refusal, flatten_errors
from webapp.extensions import db

RELATIONS = [relation.value for relation in Relation if relation is not Relation.head]


def _back(case_id: int):
    return redirect(url_for("grievances.case_detail", case_id=case_id) + "#reassessment")


def _changes(rows: list[dict]) -> list[operations.Change]:
    """The typed rows as changes; a PIN the register does not know is refused beside its row."""
    pins = [row["pin"] for row in rows]
    people = {p.pin: p for p in db.session.scalars(select(Person).where(Person.pin.in_(pins)))}
    errors, changes = {}, []
    for index, row in enumerate(rows):
        person = people.get(row["pin"])
        if person is None:
            errors[f"pin-{index}"] = [_("No person with PIN %(pin)s in the population register.", pin=row["pin"])]
            continue
        relation = Relation(row["relation"]) if row.get("relation") else None
        changes.append(operations.Change(row["kind"], person, relation, row["date"]))
    if errors:
        raise Refusal(errors=errors)
    return changes


def _checked(form) -> list[dict]:
    try:
        return ChangeRows().load({"rows": rows_from(form)})["rows"]
    except ValidationError as error:
        raise Refusal(errors=_row_errors(error.messages)) from error


def _row_errors(messages: dict) -> dict:
    """marshmallow's {"rows": {0: {"pin": [...]}}} as {"pin-0": [...]}, the names the page gives its fields."""
    rows = messages.get("rows", {})
    if not isinstance(rows, dict):
        return {"rows": rows}
    flat = {}
    for index, fields in rows.items():
        for name, problems in (fields.items() if isinstance(fields, dict) else [("kind", fields)]):
            flat[f"{name}-{index}"] = problems
    return flat or flatten_errors(messages)


@require("case.manage")
def change_new(case_id: int):
    case = case_or_404(case_id)
    if not operations.can_change(case):
        abort(404)
    form = [dict(row) for row in rows_from(request.form)] if request.method == "POST" else prefilled(case)
    errors, shape, confirmed, told = {}, None, False, []  # "edit" (back from the preview) shows the rows again
    if request.method == "POST" and request.form.get("action") != "edit":
        with caught_refusal(flash_it=False) as caught:
            changes = _changes(_checked(request.form))
            if request.form.get("action") == "confirm":
                operations.record_change(case, changes, current_user)
                confirmed = True
            else:
                shape = operations.composition(case, changes)
                told = [change.as_json() for change in changes]
        errors = caught.errors
        if caught and caught.refusal.message is not None:
            flash(str(caught.refusal), "error")
        if confirmed and not caught:
            flash(_("The change is recorded and the household is being re-assessed."), "success")
            return _back(case_id)
    before_ids = {person.id for person, _relation in shape.before} if shape else set()
    return render_template("grievances/change_form.html", case=case, form=form, errors=errors, shape=shape,
                           changes=told, before_ids=before_ids,
                           kinds=operations.CHANGE_KINDS, relations=RELATIONS, max_rows=MAX_CHANGES,
                           today=page_today(), **words()), 422 if errors else 200


# What an update case's category says changed.
_CATEGORY_KINDS = {"birth": "birth", "death": "death", "member_moved_in": "moved_in",
                   "member_moved_out": "moved_out", "new_job": "income"}


def prefilled(case) -> list[dict]:
    """The change the case already tells of, so the worker only checks it: the death or the birth an alert
    reported (person, date), or the kind of change an update case's category names."""
    if case.category_code == "death_reported" and case.person_id:
        person = db.session.get(Person, case.person_id)
        return [{"kind": "death", "pin": person.pin,
                 "date": person.death_date.isoformat() if person.death_date else ""}]
    if case.category_code == "birth_reported" and case.source_key and ":birth:" in case.source_key:
        pin = case.source_key.rsplit(":", 1)[1]
        child = db.session.scalar(select(Person).where(Person.pin == pin))
        return [{"kind": "birth", "pin": pin, "relation": "child",
                 "date": child.birth_date.isoformat() if child else ""}]
    kind = _CATEGORY_KINDS.get(case.category_code)
    return [{"kind": kind}] if kind else []


@require("case.manage")
def appeal_review(case_id: int):
    case = case_or_404(case_id)
    with caught_refusal() as caught:
        try:
            args = ReviewForm().load(request.form)
        except ValidationError as error:
            raise Refusal(errors=flatten_errors(error.messages)) from error
        operations.start_appeal_review(case, current_user, refresh=args["refresh"])
    if not caught:
        flash(_("The decision is being taken again."), "success")
    return _back(case_id)


def _reassessment_or_404(case_id: int, reassessment_id: int) -> Reassessment:
    case = case_or_404(case_id)
    found = db.session.get(Reassessment, reassessment_id)
    if found is None or found.case_id != case.id:
        abort(404)
    return found


@require("case.manage")
def reassessment_confirm(case_id: int, reassessment_id: int):
    found = _reassessment_or_404(case_id, reassessment_id)
    with caught_refusal() as caught:
        outcome = operations.confirm(found, page_today(), current_user)
    if not caught:
        flash(str(OUTCOME_DONE[outcome.value]), "success")
    return _back(case_id)


@require("case.manage")
def reassessment_discard(case_id: int, reassessment_id: int):
    found = _reassessment_or_404(case_id, reassessment_id)
    with caught_refusal() as caught:
        operations.discard(found, current_user)
    if not caught:
        flash(_("The re-assessment was discarded; the household's benefits are unchanged."), "success")
    return _back(case_id)
