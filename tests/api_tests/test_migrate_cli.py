"""``edgenas migrate``: a deployment's one-shot schema upgrade, on a real database."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.server.database import schema_is_current
from latency.database import create_db_engine
from tests.databases import BACKENDS, database_url
from tests.databases import operator_command as edgenas


@pytest.mark.parametrize("backend", BACKENDS)
def test_migrate_brings_the_schema_up_to_date_once_and_again(backend: str, tmp_path: Path) -> None:
    with database_url(backend, tmp_path) as url:
        for _ in range(2):  # the second run finds nothing to do
            done = edgenas("migrate", url=url)
            assert done.returncode == 0, done.stderr
            assert done.stdout.strip() == "database schema is current"
        engine = create_db_engine(url)
        try:
            assert schema_is_current(engine)
        finally:
            engine.dispose()


def test_a_database_that_cannot_be_reached_is_one_error_line_without_the_password() -> None:
    failed = edgenas("migrate", url="postgresql+psycopg://edgenas:s3cret@127.0.0.1:1/edgenas")
    assert failed.returncode == 2
    lines = failed.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: cannot use the database at ")
    assert "s3cret" not in failed.stderr and "***" in lines[0]
