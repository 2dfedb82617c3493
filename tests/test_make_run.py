"""The README's ``make run`` path, far enough to answer /ready and show the demo."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from ops.cluster import LocalCluster, free_port
from tests.conftest import REPO_ROOT


def _get(url: str, accept: str = "application/json") -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers={"Accept": accept})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@pytest.mark.slow
def test_make_run_serves_the_demo(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRAFTMAP_")}
    env.pop("DATABASE_URL", None)
    env.update({"CRAFTMAP_HOME": str(tmp_path / "home"), "CRAFTMAP_PORT": str(port)})
    log = (tmp_path / "make-run.log").open("w")
    server = subprocess.Popen(
        ["make", "run"],
        cwd=REPO_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 600
        status = 0
        while time.monotonic() < deadline and server.poll() is None:
            try:
                status, _ = _get(f"{base}/ready")
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                status = 0
            if status == 200:
                break
            time.sleep(1)
        output = (tmp_path / "make-run.log").read_text()
        assert status == 200, f"/ready never answered 200; make run said:\n{output[-4000:]}"
        status, body = _get(f"{base}/")
        counts = {c["id"]: c["feature_count"] for c in json.loads(body)["collections"]}
        assert counts["villages"] >= 30 and counts["material-zones"] >= 10
        assert counts["routes"] >= 3
        # The server writes one JSON line per request.
        time.sleep(0.5)
        access = [
            json.loads(line)
            for line in (tmp_path / "make-run.log").read_text().splitlines()
            if line.startswith("{") and '"craftmap.access"' in line
        ]
        assert any(entry["path"] == "/ready" and entry["status"] == 200 for entry in access)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
        LocalCluster(Path(env["CRAFTMAP_HOME"])).destroy()
        log.close()
