"""The reference pages in docs/ list what the code has: every route, every setting."""

from __future__ import annotations

import re
from pathlib import Path

from api.server.app import create_app
from api.server.settings import Settings

DOCS = Path(__file__).resolve().parents[2] / "docs"
ROUTE_IN_DOCS = re.compile(r"`(GET|POST|PUT|PATCH|DELETE) (/[^`\s]*)`")


def _route(method: str, path: str) -> str:
    """``GET /v1/jobs/{}``: path parameters unnamed, so ``{id}`` matches ``{job_id}``."""
    return f"{method.upper()} {re.sub(r'{[^}]+}', '{}', path)}"


def test_rest_md_lists_every_route_and_only_routes_that_exist() -> None:
    schema = create_app(Settings(database_url="sqlite://")).openapi()
    served = {_route(m, p) for p, methods in schema["paths"].items() for m in methods}
    documented = {_route(m, p) for m, p in ROUTE_IN_DOCS.findall((DOCS / "rest.md").read_text())}
    assert served - documented == set(), "routes missing from docs/rest.md"
    assert documented - served == set(), "docs/rest.md lists routes the server lacks"


def test_settings_md_names_every_server_setting() -> None:
    text = (DOCS / "settings.md").read_text()
    missing = [
        f"EDGENAS_{name.upper()}"
        for name in Settings.model_fields
        if f"EDGENAS_{name.upper()}" not in text
    ]
    assert missing == []
