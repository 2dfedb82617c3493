"""The examples in docstrings run, so that they cannot go stale unnoticed.

Every module of api, geo, maps and ops is searched; a module whose import needs the
database or a browser has no doctests, so importing them all is cheap.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil
from types import ModuleType

import pytest

import api
import geo
import maps
import ops


def _modules() -> list[ModuleType]:
    found = []
    for package in (api, geo, maps, ops):
        found.append(package)
        for info in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
            found.append(importlib.import_module(info.name))
    return found


def _doctests() -> list[doctest.DocTest]:
    finder = doctest.DocTestFinder()
    return [test for module in _modules() for test in finder.find(module) if test.examples]


DOCTESTS = _doctests()


def test_the_public_functions_have_examples() -> None:
    names = {test.name for test in DOCTESTS}
    assert {
        "geo.cql2.parse.parse_filter",
        "geo.cql2.sql.filter_to_sql",
        "geo.kernel.crs.served_crs",
    } <= names, sorted(names)


@pytest.mark.parametrize("test", DOCTESTS, ids=lambda test: test.name)
def test_docstring_examples_hold(test: doctest.DocTest) -> None:
    report: list[str] = []
    result = doctest.DocTestRunner().run(test, out=report.append)
    assert result.attempted == len(test.examples)
    assert result.failed == 0, "".join(report)
