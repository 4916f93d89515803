"""POST /api/v1/means-test/evaluate: the means test as a calculator for staff and machine clients.

It stores nothing. The body is either a facts document (pack, as_of and lang then come from the query string)
or an envelope `{"facts": {...}, "pack": "uz", "as_of": "YYYY-MM-DD", "lang": "en"}`. Invalid input: 422 with
the field that is wrong, answered by the transaction boundary.
"""

from __future__ import annotations

from flask import current_app, jsonify, request
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_ngettext
from marshmallow import Schema, fields, validate

from rules.engines import ENGINES, evaluate, public
from rules.evaluation import EngineInputError
from rules.facts import FactsError
from rules.pack import PackError, pack_ids
from webapp.auth.permissions import check_api_permission
from webapp.boundary import Refusal
from webapp.config import LANGUAGES

# Far above any real household; the engines' work grows with the members, so the calculator stops here.
MAX_MEMBERS = 50


class EvaluateArgs(Schema):
    pack = fields.String(load_default=None, validate=validate.OneOf(pack_ids()))
    as_of = fields.Date(load_default=None)
    lang = fields.String(load_default="en", validate=validate.OneOf(list(LANGUAGES)))
    engine = fields.String(load_default="durable_rules", validate=validate.OneOf(ENGINES))
    trace = fields.Boolean(load_default=False)


class ReasonSchema(Schema):
    rule = fields.String()
    message = fields.String()


class ProgrammeAmountSchema(Schema):
    code = fields.String()
    monthly_amount = fields.Float()
    months = fields.Integer()


class EvaluationSchema(Schema):
    """The answer: the decision, why (reasons), what is paid (programmes); the trace only when asked for."""

    decision = fields.String(validate=validate.OneOf(["eligible", "ineligible"]))
    per_capita_income = fields.Float()
    reasons = fields.List(fields.Nested(ReasonSchema))
    programmes = fields.List(fields.Nested(ProgrammeAmountSchema))
    pack_version = fields.String()
    trace = fields.Dict(metadata={"description": "How the rules reached the decision (with ?trace=true)."})


# The facts checker (rules/) words its problems in English; the common ones are said in the reader's language.
_PROBLEMS = {"is required": _l("is required")}


def _refused(field: str, problem) -> Refusal:
    return Refusal(_l("The facts cannot be evaluated."), errors={field: [_PROBLEMS.get(problem, problem)]})


def evaluate_facts():
    check_api_permission("means_test.evaluate")
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise _refused("(document)", _l("Send a JSON object: a facts document or {\"facts\": {…}}."))
    envelope = "facts" in body
    args = EvaluateArgs().load({k: v for k, v in (body if envelope else request.args).items() if k != "facts"})
    facts = body["facts"] if envelope else body
    members = facts.get("members") if isinstance(facts, dict) else None
    if isinstance(members, list) and len(members) > MAX_MEMBERS:
        raise _refused("members", lazy_ngettext("A household has at most %(num)d member here.",
                                                "A household has at most %(num)d members here.", MAX_MEMBERS))
    try:
        result = evaluate(facts, args["pack"] or current_app.config["COUNTRY"],
                          args["as_of"], args["engine"], args["lang"])
    except FactsError as error:
        raise _refused(error.field, error.problem) from error
    except (PackError, EngineInputError) as error:
        raise _refused("as_of" if isinstance(error, PackError) else "members", str(error)) from error
    return jsonify(EvaluationSchema().dump(result if args["trace"] else public(result)))
