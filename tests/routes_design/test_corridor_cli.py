"""``craftmap route corridor`` and ``craftmap route insert``, in-process (typer's CliRunner).

The commands run on the test's rolled-back connection: ``api.cli._engine`` is swapped for
one that hands it out (a savepoint for ``begin``), so nothing is committed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy.engine import Connection
from typer.testing import CliRunner

from api import cli
from tests.routes_design.corridor_cases import Case, build


class _OnConnection:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        yield self.conn

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        with self.conn.begin_nested():
            yield self.conn


@pytest.fixture
def case(connection: Connection, monkeypatch: pytest.MonkeyPatch) -> Case:
    @contextmanager
    def engine(url: str, **options: Any) -> Iterator[_OnConnection]:
        yield _OnConnection(connection)

    monkeypatch.setattr(cli, "_engine", engine)
    monkeypatch.setattr(cli, "database_url", lambda settings: "postgresql://unused")
    return build(connection)


def invoke(*args: str) -> Any:
    return CliRunner().invoke(cli.app, list(args))


def code_of(connection: Connection, table: str, key: int) -> str:
    return str(
        connection.exec_driver_sql(f"SELECT code FROM {table} WHERE id = {int(key)}").scalar_one()
    )


def test_corridor_table_and_json(connection: Connection, case: Case) -> None:
    route = code_of(connection, "tourism_route", case.route_id)
    m = code_of(connection, "craft_village", case.m)
    n = code_of(connection, "craft_village", case.n)
    table = invoke("route", "corridor", route, "--km", "5", "--craft-group", "G4")
    assert table.exit_code == 0, table.output
    lines = table.output.splitlines()
    assert "the dwell is not in it" in lines[0] and "test-corridor" in lines[0]
    mine = [line for line in lines if m in line or n in line]
    assert m in mine[0] and n in mine[1]  # by detour, not by distance
    assert mine[0].split()[:2] == ["3.7", "2"]
    as_json = invoke("route", "corridor", str(case.route_id), "--format", "json")
    assert as_json.exit_code == 0
    body = json.loads(as_json.output)
    assert {case.m, case.n, case.p, case.q} <= {c["village_id"] for c in body["candidates"]}
    only = invoke("route", "corridor", route, "--tourism", "--ocop-min-stars", "4")
    assert code_of(connection, "craft_village", case.p) in only.output and m not in only.output


def test_insert_and_readable_errors(connection: Connection, case: Case) -> None:
    route = code_of(connection, "tourism_route", case.route_id)
    m = code_of(connection, "craft_village", case.m)
    done = invoke("route", "insert", route, "--village", m, "--dwell", "45")
    assert done.exit_code == 0, done.output
    assert "inserted as stop 3" in done.output and "adding 3.7 min" in done.output
    assert "Làng M" in done.output.splitlines()[3]
    again = invoke("route", "insert", route, "--village", m)
    assert again.exit_code == 1
    assert "is a stop of route" in again.output and "Traceback" not in again.output
    bad = invoke("route", "corridor", route, "--km", "80")
    assert bad.exit_code == 1 and "at most 50" in bad.output
    missing = invoke("route", "corridor", "NO-SUCH-ROUTE")
    assert missing.exit_code == 1 and "does not exist" in missing.output
    history = connection.exec_driver_sql(
        "SELECT actor FROM feature_history WHERE table_name = 'route_stop' "
        f"AND feature_id IN (SELECT id::text FROM route_stop WHERE village_id = {case.m})"
    ).scalar_one()
    assert history.startswith("cli:")
