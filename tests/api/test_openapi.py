"""The OpenAPI document of /api/v1: valid OpenAPI 3.1, the same routes as the app, and a page that shows it."""

from __future__ import annotations

import re

from openapi_spec_validator import validate

from webapp.openapi import api_rules

_ARGUMENT = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


def _document(client) -> dict:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    return response.get_json()


def test_the_document_is_valid_openapi_3_1(client):
    document = _document(client)
    assert document["openapi"].startswith("3.1")
    validate(document)


def test_the_document_describes_every_api_route_and_no_other(app, client):
    served = {(_ARGUMENT.sub(r"{\1}", rule.rule), method.lower())
              for rule in api_rules(app) for method in rule.methods - {"HEAD", "OPTIONS"}}
    documented = {(path, method) for path, operations in _document(client)["paths"].items() for method in operations}
    assert documented == served


def test_the_views_schemas_are_the_documents(client):
    schemas = _document(client)["components"]["schemas"]
    assert set(schemas["ApplicationArgs"]["required"]) == {"applicant_pin", "phone", "programmes", "channel"}
    assert "timeline" in schemas["Application"]["properties"]
    assert "timeline" not in schemas["ApplicationListItem"]["properties"]
    assert schemas["Case"]["properties"]["status"]["enum"][0] == "new"
    assert schemas["Facts"]["properties"]["members"]["items"] == {"$ref": "#/components/schemas/Facts.member"}


def test_api_operations_need_a_bearer_token_and_the_documentation_does_not(client):
    document = _document(client)
    bearer = document["components"]["securitySchemes"]["bearer"]
    assert (bearer["type"], bearer["scheme"]) == ("http", "bearer")
    assert document["security"] == [{"bearer": []}]
    assert document["paths"]["/api/v1/openapi.json"]["get"]["security"] == []
    refused = document["paths"]["/api/v1/applications"]["post"]["responses"]
    assert refused["422"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Refusal"}


def test_the_documentation_page_shows_every_operation_in_the_readers_language(client):
    document = _document(client)
    page = client.get("/api/v1/docs").get_data(as_text=True)
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            assert f'id="{operation["operationId"]}"' in page
            assert f"{method.upper()} {path}" in page
    for name in document["components"]["schemas"]:
        assert f'id="schema-{name}"' in page
    assert "Request body" in page and "Responses" in page
    assert "{{" not in page and "%(" not in page and "$ref" not in page

    russian = client.get("/api/v1/docs", headers={"Accept-Language": "ru"}).get_data(as_text=True)
    assert '<html lang="ru">' in russian


def test_the_documentation_page_loads_nothing_from_elsewhere(client):
    page = client.get("/api/v1/docs").get_data(as_text=True)
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)
    assert "<script" not in page
