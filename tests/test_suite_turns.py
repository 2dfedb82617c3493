"""The suite's own scheduling (tests/conftest.py): serial turns and the order of the files."""

from __future__ import annotations

import fcntl
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from tests import conftest
from tests.conftest import REPO_ROOT, SERIAL_FILES, SLOWEST_FILES


def _item(basetemp: Path, serial: bool) -> Any:
    """What the turn hooks read of a test item: its marker and the run's basetemp."""
    return SimpleNamespace(
        config=SimpleNamespace(option=SimpleNamespace(basetemp=str(basetemp))),
        get_closest_marker=lambda name: object() if serial and name == "serial" else None,
    )


def _other_worker_may_start_a_phase(run_dir: Path) -> bool:
    """Whether another xdist worker would get its shared turn now (without waiting)."""
    with (run_dir / "serial-turn.lock").open("a") as turn:
        try:
            fcntl.flock(turn, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True


@pytest.mark.parametrize("phase", ["setup", "call", "teardown"])
@pytest.mark.parametrize("serial", [False, True])
def test_only_the_call_of_a_serial_test_runs_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, phase: str, serial: bool
) -> None:
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw0")
    hook = getattr(conftest, f"pytest_runtest_{phase}")
    running = hook(_item(tmp_path / "gw0", serial))
    next(running)  # inside the phase
    try:
        alone = serial and phase == "call"
        # A serial test's set-up (its servers, its databases) and teardown measure nothing:
        # the other worker keeps running tests meanwhile.
        assert _other_worker_may_start_a_phase(tmp_path) is not alone
    finally:
        running.close()
    assert _other_worker_may_start_a_phase(tmp_path)


def test_the_ordered_files_exist_and_those_with_serial_tests_come_last() -> None:
    ordered = [*SLOWEST_FILES, *SERIAL_FILES]
    assert len(set(ordered)) == len(ordered)
    missing = [path for path in ordered if not (REPO_ROOT / path).is_file()]
    assert missing == [], "renamed or deleted: update SLOWEST_FILES or SERIAL_FILES"
    with_serial = {
        str(path.relative_to(REPO_ROOT))
        for path in (REPO_ROOT / "tests").rglob("test_*.py")
        if "mark.serial" in path.read_text(encoding="utf-8") and path.name != Path(__file__).name
    }
    assert set(SERIAL_FILES) == with_serial


def test_the_order_is_kept_only_under_xdist(monkeypatch: pytest.MonkeyPatch) -> None:
    ordered = [*SLOWEST_FILES, "tests/test_any_other.py", *SERIAL_FILES]
    items = [SimpleNamespace(nodeid=f"{path}::test") for path in reversed(ordered)]
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    conftest.pytest_collection_modifyitems(items)  # type: ignore[arg-type]
    assert [i.nodeid.split("::")[0] for i in items] == list(reversed(ordered))
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw1")
    conftest.pytest_collection_modifyitems(items)  # type: ignore[arg-type]
    assert [i.nodeid.split("::")[0] for i in items] == ordered
