"""A real ``craftmap serve`` process for tests that must see what a client sees.

Tests that try to crash, hog or poison the server cannot run in-process: a segfault in a
native parser would take pytest down with it, and a TestClient hides the socket. These
start the real command on a free port and talk HTTP to it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from ops.cluster import free_port

CRAFTMAP = str(Path(sys.executable).parent / "craftmap")
# No proxy: an http_proxy in the environment must not intercept 127.0.0.1.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass
class Answer:
    """What the server sent back."""

    status: int
    headers: Mapping[str, str]
    body: bytes


@dataclass
class LiveServer:
    """A running ``craftmap serve`` and how to reach it."""

    url: str
    process: subprocess.Popen[bytes]
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)

    def request(
        self,
        path: str,
        *,
        method: str = "GET",
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float = 30,
    ) -> Answer:
        """Send one request; HTTP errors are answers too. Raises OSError when nobody answers."""
        req = urllib.request.Request(
            self.url + path, data=body, method=method, headers=dict(headers or {})
        )
        try:
            with _OPENER.open(req, timeout=timeout) as r:
                return Answer(r.status, dict(r.headers), r.read())
        except urllib.error.HTTPError as err:
            return Answer(err.code, dict(err.headers), err.read())

    def alive(self) -> bool:
        """The process is running and answers /health."""
        if self.process.poll() is not None:
            return False
        try:
            return self.request("/health", timeout=10).status == 200
        except OSError:
            return False

    def log(self) -> str:
        """Everything the server wrote so far."""
        return self.log_path.read_text(errors="replace")


@contextmanager
def live_server(
    database_url: str,
    log_dir: Path,
    *,
    workers: int = 1,
    env: Mapping[str, str] | None = None,
    startup_seconds: float = 120,  # two workers on a loaded 2-core machine took over 60 s
) -> Iterator[LiveServer]:
    """Run ``craftmap serve`` on ``database_url`` until the block ends (then SIGTERM)."""
    port = free_port()
    base = {k: v for k, v in os.environ.items() if not k.startswith("CRAFTMAP_")}
    full_env = {**base, "DATABASE_URL": database_url, **(env or {})}
    log_path = log_dir / f"serve-{port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [CRAFTMAP, "serve", "--port", str(port), "--workers", str(workers)],
            env=full_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        server = LiveServer(f"http://127.0.0.1:{port}", process, log_path, full_env)
        try:
            deadline = time.monotonic() + startup_seconds
            while not server.alive():
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"craftmap serve did not start:\n{server.log()[-3000:]}")
                time.sleep(0.3)
            yield server
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
