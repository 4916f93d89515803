"""The OpenAPI 3.1 document of /api/v1 and its documentation page.

The document is built on each request from the app's own URL map and the marshmallow schemas the views load and
dump (apispec's marshmallow plugin turns them into JSON Schema), so it cannot drift from the API: a route under
/api/v1 without an entry in `_operations()` is left out, and the tests name it. Words are in the reader's language.
"""

from __future__ import annotations

import copy
import re

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Blueprint, current_app, jsonify, render_template
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.routing import IntegerConverter

from webapp.guard import MAX_NUMBER_DIGITS

PREFIX = "/api/v1"
TITLE = "SRSP API"
VERSION = "1"
JSON = "application/json"

bp = Blueprint("openapi", __name__, url_prefix=PREFIX)

_ARGUMENT = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


def _name(schema) -> str:
    """Component names: the class name without "Schema" (`ApplicationSchema` → `Application`); a schema used with
    fields left out gets its own name."""
    cls = schema if isinstance(schema, type) else type(schema)
    name = cls.__name__.removesuffix("Schema")
    exclude = getattr(schema, "exclude", None) if not isinstance(schema, type) else None
    return name + "".join(f"Without{part.title()}" for part in sorted(exclude or ()))


def _error_schemas() -> dict:
    """The two shapes of a refusal: an HTTP error (webapp/errors.py) and invalid input (webapp/boundary.py)."""
    return {
        "Error": {"type": "object", "required": ["error", "message"],
                  "properties": {"error": {"type": "string"}, "message": {"type": "string"}}},
        "Refusal": {"type": "object", "required": ["error"], "properties": {
            "error": {"type": "string"},
            "errors": {"type": "object", "description": str(_l("Messages by field; nested fields as members.0.pin.")),
                       "additionalProperties": {"type": "array", "items": {"type": "string"}}}}},
    }


def _page_of(item_ref: dict) -> dict:
    """The page a list answers (built in the views around the schema's dump)."""
    count = {"type": "integer", "minimum": 0}
    return {"type": "object", "required": ["items", "page", "per_page", "total", "pages"],
            "properties": {"items": {"type": "array", "items": item_ref}, "page": {"type": "integer", "minimum": 1},
                           "per_page": {"type": "integer", "minimum": 1}, "total": count, "pages": count}}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema, description) -> dict:
    return {"description": str(description), "content": {JSON: {"schema": schema}}}


_ERRORS = {
    400: _l("The request could not be read (characters or sizes no field allows)."),
    401: _l("No valid API token or session."),
    403: _l("The role does not allow this."),
    404: _l("Not found, or outside the user's areas."),
    422: _l("Invalid input: the fields and what is wrong with them."),
}


def _errors(*codes: int) -> dict:
    return {str(code): _json(_ref("Refusal" if code == 422 else "Error"), _ERRORS[code]) for code in codes}


_IDEMPOTENCY_KEY = {"in": "header", "name": "Idempotency-Key", "required": False,
                    "description": _l("Resending with the same key returns the first answer and creates nothing."),
                    "schema": {"type": "string", "minLength": 1, "maxLength": 200}}


def _operations(spec: APISpec) -> dict[tuple[str, str], dict]:
    """(endpoint, method) → the operation, with the schemas the view uses."""
    from modules.grievances import sla
    from modules.grievances.categories import categories
    from modules.grievances.schemas import (
        CaseArgs,
        CaseCreatedSchema,
        CaseEventSchema,
        CaseFilterArgs,
        CaseSchema,
        PublicCaseSchema,
    )
    from modules.means_test.api import EvaluateArgs, EvaluationSchema
    from modules.registration.schemas import ApplicationArgs, ApplicationFilterArgs, ApplicationSchema

    components = spec.components
    components.schema("Application", schema=ApplicationSchema)
    components.schema("ApplicationListItem", schema=ApplicationSchema(exclude=("timeline",)))
    components.schema("CaseCreated", schema=CaseCreatedSchema)
    components.schema("CaseEvent", schema=CaseEventSchema)  # PublicCaseSchema.events names it
    components.schema("PublicCase", schema=PublicCaseSchema)
    components.schema("Case", schema=CaseSchema)
    # The list adds the SLA status to each case (computed in the view).
    case_item = copy.deepcopy(components.schemas["Case"])
    case_item["properties"]["sla_status"] = {"type": "string", "enum": [sla.ON_TRACK, sla.AT_RISK, sla.BREACHED]}
    components.schema("CaseListItem", case_item)
    public_case = components.schemas["PublicCase"]
    public_case["properties"]["sla_status"] = case_item["properties"]["sla_status"]
    # A dump writes every field of these schemas (null when empty): a client may count on each.
    for name in ("Application", "ApplicationListItem", "ApplicationMember", "ApplicationEvent", "Person", "AreaRef",
                 "CaseCreated", "CaseEvent", "PublicCase", "Case", "CaseListItem"):
        components.schemas[name]["required"] = sorted(components.schemas[name]["properties"])
    # A category is checked against the list of categories (a validator apispec cannot read): the list is named here.
    components.schema("CaseArgs", schema=CaseArgs)
    components.schemas["CaseArgs"]["properties"]["category"]["enum"] = [item.code for item in categories()]
    components.schema("Facts", _facts_schema(components))
    components.schema("EvaluateEnvelope", _envelope(spec, EvaluateArgs))
    components.schema("Category", {"type": "object", "required": ["code", "kind", "name", "group", "sla_working_days"],
                                   "properties": {"code": {"type": "string"}, "name": {"type": "string"},
                                                  "group": {"type": "string"},
                                                  "kind": {"type": "array", "items": {"type": "string"}},
                                                  "sla_working_days": {"type": "integer"}}})
    created = {"Location": {"description": str(_l("The address of what was created.")),
                            "schema": {"type": "string"}}}
    return {
        ("registration_api.list", "get"): {
            "tags": ["applications"], "summary": _l("Applications in the user's areas, a page at a time"),
            "parameters": [{"in": "query", "schema": ApplicationFilterArgs}],
            "responses": {"200": _json(_page_of(_ref("ApplicationListItem")), _l("A page of applications.")),
                          **_errors(400, 401, 403, 422)}},
        ("registration_api.create", "post"): {
            "tags": ["applications"], "summary": _l("Register an application (and submit it unless told not to)"),
            "parameters": [_IDEMPOTENCY_KEY],
            "requestBody": {"required": True, "content": {JSON: {"schema": ApplicationArgs}}},
            "responses": {"201": {**_json(_ref("Application"), _l("The application.")), "headers": created},
                          **_errors(400, 401, 403, 422)}},
        ("registration_api.detail", "get"): {
            "tags": ["applications"], "summary": _l("One application with its timeline"),
            "responses": {"200": _json(_ref("Application"), _l("The application.")),
                          **_errors(400, 401, 403, 404)}},
        ("grievances_api.categories", "get"): {
            "tags": ["cases"], "summary": _l("The categories of cases the user may open"),
            "responses": {"200": _json({"type": "array", "items": _ref("Category")}, _l("The categories.")),
                          **_errors(400, 401, 403)}},
        ("grievances_api.list", "get"): {
            "tags": ["cases"], "summary": _l("Cases the user may see, a page at a time"),
            "parameters": [{"in": "query", "schema": CaseFilterArgs}],
            "responses": {"200": _json(_page_of(_ref("CaseListItem")), _l("A page of cases.")),
                          **_errors(400, 401, 403, 422)}},
        ("grievances_api.create", "post"): {
            "tags": ["cases"], "summary": _l("Open a case (an enquiry, an update, a grievance or an appeal)"),
            "parameters": [_IDEMPOTENCY_KEY],
            "requestBody": {"required": True, "content": {JSON: {"schema": CaseArgs}}},
            "responses": {"201": {**_json(_ref("CaseCreated"), _l("The case's tracking number.")),
                                  "headers": created}, **_errors(400, 401, 403, 422)}},
        ("grievances_api.detail", "get"): {
            "tags": ["cases"], "summary": _l("A case by its tracking number, as its citizen may read it"),
            "responses": {"200": _json(_ref("PublicCase"), _l("The case.")), **_errors(400, 401, 403, 404)}},
        ("means_test_api.evaluate", "post"): {
            "tags": ["means test"], "summary": _l("Run the means test on a facts document; nothing is stored"),
            "description": _l("The body is a facts document (the other settings then come from the query string) "
                              "or an envelope with the facts and the settings."),
            "parameters": [{"in": "query", "schema": EvaluateArgs}],
            "requestBody": {"required": True, "content": {JSON: {"schema": {
                "anyOf": [_ref("Facts"), _ref("EvaluateEnvelope")]}}}},
            "responses": {"200": _json(EvaluationSchema, _l("The decision, its reasons and the amounts.")),
                          **_errors(400, 401, 403, 422)}},
        ("sms_callbacks.status_callback", "post"): {
            "tags": ["callbacks"], "summary": _l("Twilio's delivery report on an SMS"),
            "security": [{"twilio": []}],
            "requestBody": {"required": True, "content": {"application/x-www-form-urlencoded": {"schema": {
                "type": "object", "properties": {name: {"type": "string"} for name in (
                    "MessageSid", "SmsSid", "MessageStatus", "SmsStatus", "ErrorCode")}}}}},
            "responses": {"200": _json({"type": "object", "required": ["status", "changed"], "properties": {
                "status": {"type": "string"}, "changed": {"type": "boolean"}}}, _l("The notification's status.")),
                **_errors(400, 403, 404)}},
        ("civil_events.notify", "post"): _dci_receiver(_l("The civil registry's signed DCI notify (births and "
                                                          "deaths)")),
        ("civil_events.on_search", "post"): _dci_receiver(_l("The civil registry's signed answer to an asynchronous "
                                                             "DCI search")),
        ("civil_events.on_subscribe", "post"): _dci_receiver(_l("The civil registry's signed confirmation of a DCI "
                                                                "subscription")),
        ("civil_events.on_unsubscribe", "post"): _dci_receiver(_l("The civil registry's signed confirmation that a DCI "
                                                                  "subscription ended")),
        ("openapi.document", "get"): {
            "tags": ["documentation"], "summary": _l("This document"), "security": [],
            "responses": {"200": _json({"type": "object"}, _l("The OpenAPI document.")), **_errors(400)}},
        ("openapi.docs", "get"): {
            "tags": ["documentation"], "summary": _l("This document as a page"), "security": [],
            "responses": {"200": {"description": str(_l("The page.")), "content": {"text/html": {
                "schema": {"type": "string"}}}}, **_errors(400)}},
    }


def _dci_receiver(summary) -> dict:
    """A receiver of the civil registry's DCI messages: signed envelopes in, a DCI acknowledgement out."""
    return {"tags": ["callbacks"], "summary": summary, "security": [],
            "description": _l("A signed DCI envelope; the answer is a DCI acknowledgement, also when refused."),
            "requestBody": {"required": True, "content": {JSON: {"schema": {"type": "object"}}}},
            "responses": {code: _json({"type": "object"}, description) for code, description in (
                ("200", _l("The acknowledgement.")), ("400", _l("The envelope is malformed.")),
                ("401", _l("The signature or the sender is not the civil registry's.")),
                ("503", _l("The civil registry's keys cannot be loaded.")))}}


def _facts_schema(components) -> dict:
    """rules/facts.schema.json (what the means test validates facts against), its definitions as components."""
    from rules.facts import SCHEMA

    schema = copy.deepcopy(SCHEMA)
    definitions = schema.pop("$defs", {})
    for key in ("$schema", "$id"):
        schema.pop(key, None)

    def relink(node):
        if isinstance(node, dict):
            return {key: (f"#/components/schemas/Facts.{value.removeprefix('#/$defs/')}" if key == "$ref"
                          else relink(value)) for key, value in node.items()}
        return [relink(item) for item in node] if isinstance(node, list) else node

    # The input guard refuses any number in a JSON body from 10¹⁸ on (webapp/guard.py); amounts are numbers.
    definitions["amount"] = {**definitions["amount"], "maximum": 10**MAX_NUMBER_DIGITS - 1}
    for name, definition in definitions.items():
        components.schema(f"Facts.{name}", relink(definition))
    return relink(schema)


def _envelope(spec: APISpec, args_schema) -> dict:
    """The evaluate envelope: the settings of `args_schema` with the facts beside them."""
    spec.components.schema("EvaluateArgs", schema=args_schema)
    envelope = copy.deepcopy(spec.components.schemas["EvaluateArgs"])
    envelope.setdefault("properties", {})["facts"] = _ref("Facts")
    envelope["required"] = ["facts"]
    return envelope


def _path(rule) -> tuple[str, list[dict]]:
    """An OpenAPI path and its parameters from a werkzeug rule (`<int:id>` → `{id}`, an integer in range)."""
    parameters = []
    for name in _ARGUMENT.findall(rule.rule):
        converter = rule._converters[name]
        if isinstance(converter, IntegerConverter):
            schema = {"type": "integer", "minimum": converter.min or 0}
            if converter.max is not None:
                schema["maximum"] = converter.max
        else:
            schema = {"type": "string", "pattern": f"^{converter.regex}$"}
        parameters.append({"in": "path", "name": name, "required": True, "schema": schema})
    return _ARGUMENT.sub(r"{\1}", rule.rule), parameters


def api_rules(app) -> list:
    return sorted((rule for rule in app.url_map.iter_rules() if rule.rule.startswith(PREFIX + "/")),
                  key=lambda rule: rule.rule)


def build_document(app=None) -> dict:
    """The OpenAPI document of every /api/v1 route that has an operation here."""
    app = app or current_app
    spec = APISpec(title=TITLE, version=VERSION, openapi_version="3.1.0", plugins=[MarshmallowPlugin(_name)],
                   info={"description": _("Single Registry for Social Protection: the API for machine clients. "
                                          "Send an API token in the header Authorization: Bearer <token>; "
                                          "answers and error messages are in the language of Accept-Language.")},
                   security=[{"bearer": []}])
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer",
                                               "description": _("An API token issued to a user; its role decides.")})
    spec.components.security_scheme("twilio", {"type": "apiKey", "in": "header", "name": "X-Twilio-Signature"})
    for name, schema in _error_schemas().items():
        spec.components.schema(name, schema)
    operations = _operations(spec)
    by_path: dict[str, dict] = {}
    for rule in api_rules(app):
        path, parameters = _path(rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            operation = operations.get((rule.endpoint, method.lower()))
            if operation is None:
                continue
            operation = _translated(operation)
            operation["operationId"] = f"{rule.endpoint}.{method.lower()}"
            operation["parameters"] = parameters + operation.get("parameters", [])
            by_path.setdefault(path, {})[method.lower()] = operation
    for path, path_operations in by_path.items():
        spec.path(path=path, operations=path_operations)
    return _without_null_in_queries(spec.to_dict())


def _translated(node):
    """Lazy strings made plain in the reader's language; schemas (classes, instances) left to apispec."""
    if isinstance(node, dict):
        return {key: _translated(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_translated(item) for item in node]
    return str(node) if type(node).__name__ == "LazyString" else node


def _without_null_in_queries(document: dict) -> dict:
    """A query argument is absent or a string, never JSON null: `load_default=None` in a schema means "absent"."""
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                schema = parameter.get("schema", {})
                if parameter.get("in") == "query" and isinstance(schema.get("type"), list):
                    schema["type"] = next(kind for kind in schema["type"] if kind != "null")
                    if "enum" in schema:
                        schema["enum"] = [value for value in schema["enum"] if value is not None]
                    if schema.get("default", 0) is None:
                        del schema["default"]
    return document


def document():
    return jsonify(build_document())


def docs():
    return render_template("api_docs.html", document=build_document())


bp.add_url_rule("/openapi.json", "document", document, methods=["GET"])
bp.add_url_rule("/docs", "docs", docs, methods=["GET"])
