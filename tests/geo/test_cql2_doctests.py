"""The examples in geo.cql2's docstrings run, so that they cannot go stale unnoticed."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import geo.cql2


def _doctests() -> list[doctest.DocTest]:
    modules = [geo.cql2] + [
        importlib.import_module(f"geo.cql2.{module.name}")
        for module in pkgutil.iter_modules(geo.cql2.__path__)
    ]
    finder = doctest.DocTestFinder()
    return [test for module in modules for test in finder.find(module) if test.examples]


DOCTESTS = _doctests()


def test_the_public_functions_have_examples() -> None:
    names = {test.name for test in DOCTESTS}
    assert {"geo.cql2.parse.parse_filter", "geo.cql2.sql.filter_to_sql"} <= names


@pytest.mark.parametrize("test", DOCTESTS, ids=lambda test: test.name)
def test_docstring_examples_hold(test: doctest.DocTest) -> None:
    report: list[str] = []
    result = doctest.DocTestRunner().run(test, out=report.append)
    assert result.attempted == len(test.examples)
    assert result.failed == 0, "".join(report)
