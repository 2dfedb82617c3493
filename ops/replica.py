"""A PostgreSQL hot-standby replica of a running server, on 127.0.0.1, in a folder of its own.

For tests and benchmarks of read scaling: ``pg_basebackup -R`` copies the primary and
writes ``standby.signal`` and the connection back to it, the copy starts as a hot standby
on a free port and streams the primary's WAL from then on. `StreamingReplica.destroy`
stops it and removes every file. The primary must allow replication connections from
127.0.0.1 for the URL's role (a superuser, or a role with REPLICATION);
`allow_replication` adds the ``pg_hba.conf`` line when it is missing.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
import sqlalchemy as sa

from geo.kernel.errors import ClusterError
from ops.cluster import find_pg_binaries, free_port, run_as_service, service_user

_HBA_LINE = "host replication all 127.0.0.1/32 scram-sha-256"


def _conninfo(url: str, **overrides: object) -> str:
    parsed = sa.engine.make_url(url).set(drivername="postgresql", **overrides)  # type: ignore[arg-type]
    return parsed.render_as_string(hide_password=False)


def allow_replication(primary_url: str) -> None:
    """Add a replication line for 127.0.0.1 to the primary's ``pg_hba.conf`` if missing.

    ``primary_url`` is a superuser's: it asks the server where its file is and reloads it.
    The file must be writable by this process (the primary is ours, as in the tests).
    """
    with psycopg.connect(_conninfo(primary_url), autocommit=True) as conn:
        row = conn.execute("SHOW hba_file").fetchone()
        assert row is not None
        hba = Path(str(row[0]))
        lines = [" ".join(line.split()) for line in hba.read_text().splitlines()]
        if not any(line.startswith("host replication all 127.0.0.1/32") for line in lines):
            with hba.open("a") as fh:
                fh.write(_HBA_LINE + "\n")
            conn.execute("SELECT pg_reload_conf()")


@dataclass
class StreamingReplica:
    """A running hot standby: where it is and how to steer it.

    ``primary_url`` is the superuser URL of the primary; the replica answers the same
    roles and databases on ``port`` (`url` gives a primary URL's twin on the replica).
    """

    folder: Path
    port: int
    primary_url: str
    pg_bindir: Path | None = None

    @property
    def data_dir(self) -> Path:
        return self.folder / "data"

    def url(self, primary_side: str | None = None) -> str:
        """``primary_side`` (default: the superuser URL) pointed at the replica instead."""
        parsed = sa.engine.make_url(primary_side or self.primary_url)
        return parsed.set(host="127.0.0.1", port=self.port).render_as_string(hide_password=False)

    def _pg_ctl(self, *args: str) -> None:
        binaries = find_pg_binaries(self.pg_bindir)
        run_as_service([binaries.program("pg_ctl"), *args, "-D", str(self.data_dir)])

    def start(self, *, timeout_s: int = 120) -> None:
        """Start the standby and wait until it accepts read-only connections."""
        log = self.folder / "server.log"
        self._pg_ctl("start", "-w", "-t", str(timeout_s), "-l", str(log))

    def stop(self, mode: str = "fast") -> None:
        """Stop it; ``mode="immediate"`` is a crash as the app sees it."""
        self._pg_ctl("stop", "-m", mode, "-w")

    def running(self) -> bool:
        return (self.data_dir / "postmaster.pid").exists()

    def _execute(self, sql: str) -> object:
        with psycopg.connect(_conninfo(self.url()), autocommit=True, connect_timeout=5) as conn:
            row = conn.execute(sql).fetchone()
        return None if row is None else row[0]

    def pause_replay(self) -> None:
        """Stop applying the primary's WAL: the replica is then provably behind."""
        self._execute("SELECT pg_wal_replay_pause()")

    def resume_replay(self) -> None:
        self._execute("SELECT pg_wal_replay_resume()")

    def replay_lsn(self) -> str:
        """Where replay has got to (``pg_lsn`` text)."""
        return str(self._execute("SELECT pg_last_wal_replay_lsn()"))

    def wait_for_catch_up(self, *, timeout_s: float = 60) -> None:
        """Wait until the replica has replayed everything the primary had written now."""
        with psycopg.connect(_conninfo(self.primary_url), autocommit=True) as conn:
            row = conn.execute("SELECT pg_current_wal_insert_lsn()").fetchone()
        assert row is not None
        target = str(row[0])
        deadline = time.monotonic() + timeout_s
        while True:
            caught = self._execute(f"SELECT pg_last_wal_replay_lsn() >= '{target}'::pg_lsn")
            if caught:
                return
            if time.monotonic() > deadline:
                raise ClusterError(f"the replica did not reach {target} in {timeout_s} s")
            time.sleep(0.1)

    def destroy(self) -> None:
        """Stop it (if running) and remove its folder."""
        if self.running():
            with contextlib.suppress(ClusterError):
                self.stop("immediate")
        shutil.rmtree(self.folder, ignore_errors=True)


def start_replica(
    primary_url: str,
    *,
    pg_bindir: Path | None = None,
    server_options: dict[str, str] | None = None,
) -> StreamingReplica:
    """Copy the primary of ``primary_url`` (a superuser's) and start it as a hot standby.

    The copy lives in a new temporary folder; call `StreamingReplica.destroy` when done.
    """
    allow_replication(primary_url)
    binaries = find_pg_binaries(pg_bindir)
    folder = Path(tempfile.mkdtemp(prefix="craftmap-replica-"))
    user = service_user()
    if user is not None:
        entry = pwd.getpwnam(user)
        os.chown(folder, entry.pw_uid, entry.pw_gid)
    primary = sa.engine.make_url(primary_url)
    replica = StreamingReplica(folder, free_port(), primary_url, pg_bindir)
    try:
        run_as_service(
            [
                binaries.program("pg_basebackup"),
                "-h",
                str(primary.host or "127.0.0.1"),
                "-p",
                str(primary.port or 5432),
                "-U",
                str(primary.username),
                "-D",
                str(replica.data_dir),
                "-R",  # standby.signal + primary_conninfo
                "-X",
                "stream",
                "-c",
                "fast",
                "--no-password",
            ],
            env={"PGPASSWORD": primary.password or ""},
        )
        # The copy carries the primary's own settings (its port, its socket folder):
        # these come last in postgresql.conf, so they win.
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(replica.port),
            "unix_socket_directories": f"'{folder}'",
            "hot_standby": "on",
            "logging_collector": "off",
            **{key: f"'{value}'" for key, value in (server_options or {}).items()},
        }
        conf = replica.data_dir / "replica.conf"
        conf.write_text("".join(f"{key} = {value}\n" for key, value in settings.items()))
        with (replica.data_dir / "postgresql.conf").open("a") as fh:
            fh.write("include_if_exists = 'replica.conf'\n")
        # pg_basebackup -R keeps no password from the environment: say it here (the last
        # primary_conninfo in postgresql.auto.conf wins). The folder is the server's, 0700.
        conninfo = (
            f"host={primary.host or '127.0.0.1'} port={primary.port or 5432} "
            f"user={primary.username} password={primary.password or ''} "
            "application_name=craftmap_replica"
        )
        with (replica.data_dir / "postgresql.auto.conf").open("a") as fh:
            fh.write(f"primary_conninfo = '{conninfo}'\n")
        if user is not None:
            entry = pwd.getpwnam(user)
            for path in (conf, replica.data_dir / "postgresql.auto.conf"):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        replica.start()
    except BaseException:
        replica.destroy()
        raise
    return replica
