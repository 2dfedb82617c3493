"""The container image as built from this tree (no Docker engine here: read what it builds)."""

from __future__ import annotations

import fnmatch
import json
import subprocess

from tests.conftest import REPO_ROOT


def test_the_image_serves_through_craftmap_serve() -> None:
    # Plain uvicorn would run without craftmap's logging config: no JSON access log.
    lines = (REPO_ROOT / "Dockerfile").read_text().splitlines()
    command = json.loads(
        next(line for line in lines if line.startswith("CMD ")).removeprefix("CMD ")
    )
    assert command[:2] == ["craftmap", "serve"]
    assert "0.0.0.0" in command


def test_secrets_and_local_state_stay_out_of_the_build_context() -> None:
    patterns = [
        line.strip().rstrip("/")
        for line in (REPO_ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]

    def ignored(path: str) -> bool:
        return any(fnmatch.fnmatch(path, p) or path.startswith(p + "/") for p in patterns)

    for path in (".craftmap/cluster.json", ".craftmap/data/PG_VERSION", ".venv/bin/python", ".env"):
        assert ignored(path), path
    # What the image needs is still sent: every tracked file under the packages and data.
    tracked = subprocess.run(
        [
            "git",
            "ls-files",
            "api",
            "geo",
            "maps",
            "migrations",
            "data",
            "pyproject.toml",
            "uv.lock",
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert tracked and not [path for path in tracked if ignored(path)]
