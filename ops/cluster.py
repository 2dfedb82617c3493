"""A private PostgreSQL + PostGIS cluster under craftmap's data folder.

With no ``DATABASE_URL`` craftmap runs its own cluster: ``initdb`` on first use, then
``pg_ctl`` listening on 127.0.0.1 (a free port) and on a unix socket, with a generated
password kept in ``cluster.json`` (mode 0600). PostgreSQL refuses to run as root, so when
craftmap runs as root the server runs as the unprivileged ``postgres`` account (created by
Debian's postgresql-common), which then owns the cluster folder.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import pwd
import re
import secrets
import shutil
import socket
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from geo.kernel.errors import ClusterError, MissingSoftware
from geo.store import roles

DATABASE_NAME = "craftmap"
SUPERUSER = "craftmap"
SERVICE_ACCOUNT = "postgres"
APT_POSTGRESQL = "postgresql"
# Unix socket paths are limited to 107 bytes; deep data folders fall back to /tmp.
_MAX_SOCKET_DIR = 80


@dataclass(frozen=True)
class PgBinaries:
    """Where the PostgreSQL server programs are, and their major version."""

    bindir: Path
    major: int

    def program(self, name: str) -> str:
        """Full path of one server program (``initdb``, ``pg_ctl``…)."""
        return str(self.bindir / name)

    @property
    def apt_postgis_package(self) -> str:
        """Debian's package name for PostGIS built for this server."""
        return f"postgresql-{self.major}-postgis-3"


def find_pg_binaries(bindir: Path | None = None) -> PgBinaries:
    """Find ``initdb``/``pg_ctl``: in ``bindir`` if given, else Debian's folders, then ``PATH``.

    Raises
    ------
    MissingSoftware
        With the apt package to install when no server programs are found.
    """
    candidates: list[Path] = [bindir] if bindir is not None else []
    debian_root = Path("/usr/lib/postgresql")
    if bindir is None and debian_root.is_dir():
        versions = sorted(
            (p for p in debian_root.iterdir() if p.name.isdigit()),
            key=lambda p: int(p.name),
            reverse=True,
        )
        candidates += [v / "bin" for v in versions]
    on_path = shutil.which("pg_ctl")
    if bindir is None and on_path:
        candidates.append(Path(on_path).resolve().parent)
    for bindir in candidates:
        if (bindir / "initdb").exists() and (bindir / "pg_ctl").exists():
            out = subprocess.run(
                [str(bindir / "pg_ctl"), "--version"], capture_output=True, text=True, check=True
            ).stdout
            match = re.search(r"(\d+)", out)
            if match:
                return PgBinaries(bindir=bindir, major=int(match.group(1)))
    raise MissingSoftware(
        "PostgreSQL server programs (initdb, pg_ctl) were not found"
        + (f" in {bindir}" if bindir is not None else "")
        + ". Install them with: "
        f"apt-get install {APT_POSTGRESQL} postgresql-15-postgis-3 "
        "(or set DATABASE_URL to use an existing PostGIS server)."
    )


def check_postgis(binaries: PgBinaries) -> None:
    """Raise `MissingSoftware` naming the package when PostGIS is not installed."""
    sharedir = Path(f"/usr/share/postgresql/{binaries.major}")
    pg_config = binaries.bindir / "pg_config"
    if pg_config.exists():
        sharedir = Path(
            subprocess.run(
                [str(pg_config), "--sharedir"], capture_output=True, text=True, check=True
            ).stdout.strip()
        )
    if not (sharedir / "extension" / "postgis.control").exists():
        raise MissingSoftware(
            f"PostGIS is not installed for PostgreSQL {binaries.major}. Install it with: "
            f"apt-get install {binaries.apt_postgis_package}"
        )
    # The road network (issue 13) is built and routed with pgRouting.
    if not (sharedir / "extension" / "pgrouting.control").exists():
        raise MissingSoftware(
            f"pgRouting is not installed for PostgreSQL {binaries.major}. Install it with: "
            f"apt-get install postgresql-{binaries.major}-pgrouting"
        )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # PostgreSQL binds with SO_REUSEADDR, so a port in TIME_WAIT is still usable.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


@dataclass
class ClusterState:
    """What ``cluster.json`` remembers between commands."""

    cluster_dir: str
    port: int
    password: str
    socket_dir: str
    major: int
    # Login roles of the least-privilege set-up (geo.store.roles); made on start when missing.
    owner_password: str = ""
    app_password: str = ""


@dataclass(frozen=True)
class ClusterStatus:
    """Whether the private cluster exists and runs, and where."""

    initialised: bool
    running: bool
    port: int | None
    data_dir: str | None


class LocalCluster:
    """A private PostgreSQL cluster kept under ``home``.

    Parameters
    ----------
    home
        craftmap's data folder (``CRAFTMAP_HOME``, default ``.craftmap``).
    server_options
        Extra ``postgresql.conf`` settings, e.g. ``{"fsync": "off"}`` for throwaway
        test clusters.
    pg_bindir
        Folder of the PostgreSQL server programs, when not Debian's or on ``PATH``.
    """

    def __init__(
        self,
        home: Path,
        *,
        server_options: dict[str, str] | None = None,
        pg_bindir: Path | None = None,
    ) -> None:
        self.home = home.resolve()
        self.pg_bindir = pg_bindir
        self.server_options = server_options or {}
        self.state_file = self.home / "cluster.json"

    # -- state -----------------------------------------------------------------------------
    def _load_state(self) -> ClusterState | None:
        if not self.state_file.exists():
            return None
        return ClusterState(**json.loads(self.state_file.read_text()))

    def _save_state(self, state: ClusterState) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(asdict(state), fh, indent=2)
        tmp.replace(self.state_file)

    # -- running programs as the right account ---------------------------------------------
    @staticmethod
    def _service_user() -> str | None:
        return service_user()

    def _run(self, args: list[str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
        return run_as_service(args, check=check)

    def _cluster_dir_for_new_cluster(self) -> Path:
        """Folder for data and log; the service account must be able to reach it."""
        preferred = self.home / "postgres"
        user = self._service_user()
        if user is None:
            return preferred
        self.home.mkdir(parents=True, exist_ok=True)
        reachable = subprocess.run(["test", "-x", str(self.home)], user=user, check=False)
        if reachable.returncode == 0:
            return preferred
        # A parent folder is closed to the service account (e.g. a clone under /root):
        # keep the server files in a folder it can reach, remembered in cluster.json.
        digest = hashlib.sha256(str(self.home).encode()).hexdigest()[:12]
        return Path("/var/tmp/craftmap-clusters") / digest

    # -- lifecycle -------------------------------------------------------------------------
    def status(self) -> ClusterStatus:
        """Report whether the cluster is initialised and running."""
        state = self._load_state()
        if state is None or not (Path(state.cluster_dir) / "data" / "PG_VERSION").exists():
            return ClusterStatus(False, False, None, None)
        data_dir = str(Path(state.cluster_dir) / "data")
        binaries = find_pg_binaries(self.pg_bindir)
        result = self._run([binaries.program("pg_ctl"), "status", "-D", data_dir], check=False)
        return ClusterStatus(True, result.returncode == 0, state.port, data_dir)

    def init(self) -> ClusterState:
        """Create the cluster (initdb) unless it exists; return its state."""
        state = self._load_state()
        if state is not None and (Path(state.cluster_dir) / "data" / "PG_VERSION").exists():
            return state
        binaries = find_pg_binaries(self.pg_bindir)
        check_postgis(binaries)
        cluster_dir = self._cluster_dir_for_new_cluster()
        data_dir = cluster_dir / "data"
        if data_dir.exists():
            shutil.rmtree(data_dir)
        cluster_dir.mkdir(parents=True, exist_ok=True)
        socket_dir = cluster_dir if len(str(cluster_dir)) < _MAX_SOCKET_DIR else Path("/tmp")
        password = secrets.token_urlsafe(24)
        pwfile = cluster_dir / ".pwfile"
        pwfile.write_text(password + "\n")
        os.chmod(pwfile, 0o600)
        user = self._service_user()
        if user is not None:
            entry = pwd.getpwnam(user)
            for path in (cluster_dir, pwfile):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        try:
            self._run(
                [
                    binaries.program("initdb"),
                    "-D",
                    str(data_dir),
                    "-U",
                    SUPERUSER,
                    f"--pwfile={pwfile}",
                    "--auth=scram-sha-256",
                    "--encoding=UTF8",
                    "--locale=C.UTF-8",
                    # Page checksums let PostgreSQL (and `craftmap backup`, which reads every
                    # table page) report silent disk corruption instead of serving it.
                    "--data-checksums",
                ]
            )
        finally:
            pwfile.unlink(missing_ok=True)
        state = ClusterState(
            cluster_dir=str(cluster_dir),
            port=free_port(),
            password=password,
            socket_dir=str(socket_dir),
            major=binaries.major,
        )
        self._save_state(state)
        return state

    def _write_server_conf(self, state: ClusterState) -> None:
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(state.port),
            "unix_socket_directories": f"'{state.socket_dir}'",
            "logging_collector": "off",
            **{key: f"'{value}'" for key, value in self.server_options.items()},
        }
        conf = Path(state.cluster_dir) / "data" / "craftmap.conf"
        conf.write_text("".join(f"{key} = {value}\n" for key, value in settings.items()))
        main_conf = Path(state.cluster_dir) / "data" / "postgresql.conf"
        include = "include_if_exists = 'craftmap.conf'\n"
        if include not in main_conf.read_text():
            with main_conf.open("a") as fh:
                fh.write(include)
        user = self._service_user()
        if user is not None:
            entry = pwd.getpwnam(user)
            os.chown(conf, entry.pw_uid, entry.pw_gid)

    def start(self, *, timeout_s: int = 60) -> ClusterState:
        """Initialise if needed and start the server; a running cluster is left as is."""
        state = self.init()
        current = self.status()
        if current.running:
            if not state.owner_password or not state.app_password:
                self._ensure_roles(state)  # a cluster made before the roles existed
            return state
        if not _port_is_free(state.port):
            state.port = free_port()
            self._save_state(state)
        self._write_server_conf(state)
        binaries = find_pg_binaries(self.pg_bindir)
        log = Path(state.cluster_dir) / "server.log"
        self._run(
            [
                binaries.program("pg_ctl"),
                "start",
                "-D",
                str(Path(state.cluster_dir) / "data"),
                "-l",
                str(log),
                "-w",
                "-t",
                str(timeout_s),
            ]
        )
        self._ensure_database(state)
        self._ensure_roles(state)
        return state

    def stop(self) -> bool:
        """Stop the server (fast shutdown); return whether it was running."""
        state = self._load_state()
        if state is None or not self.status().running:
            return False
        binaries = find_pg_binaries(self.pg_bindir)
        self._run(
            [
                binaries.program("pg_ctl"),
                "stop",
                "-D",
                str(Path(state.cluster_dir) / "data"),
                "-m",
                "fast",
                "-w",
            ]
        )
        return True

    def destroy(self) -> None:
        """Stop the server and delete every file of the cluster."""
        state = self._load_state()
        with contextlib.suppress(ClusterError):
            self.stop()
        if state is not None:
            shutil.rmtree(state.cluster_dir, ignore_errors=True)
        self.state_file.unlink(missing_ok=True)

    # -- connecting ------------------------------------------------------------------------
    def url(self, database: str = DATABASE_NAME) -> str:
        """SQLAlchemy URL (psycopg 3) of a database in this cluster, over TCP, as superuser.

        For administration; the app uses `app_url`, migrations `owner_url`.
        """
        state = self._load_state()
        if state is None:
            raise ClusterError(
                f"No private cluster under {self.home}; run 'craftmap db start' first."
            )
        return (
            f"postgresql+psycopg://{SUPERUSER}:{state.password}@127.0.0.1:{state.port}/{database}"
        )

    def owner_url(self, database: str = DATABASE_NAME) -> str:
        """URL of the schema owner role (migrations run as it)."""
        return self._role_url(roles.OWNER_ROLE, "owner_password", database)

    def app_url(self, database: str = DATABASE_NAME) -> str:
        """URL of the app role (the server connects as it: rows only, owns nothing)."""
        return self._role_url(roles.APP_ROLE, "app_password", database)

    def _role_url(self, role: str, password_field: str, database: str) -> str:
        state = self._load_state()
        if state is None:
            raise ClusterError(
                f"No private cluster under {self.home}; run 'craftmap db start' first."
            )
        password = getattr(state, password_field)
        if not password:
            raise ClusterError(
                f"The private cluster under {self.home} has no {role} role yet; "
                "run 'craftmap db start' to create it."
            )
        return f"postgresql+psycopg://{role}:{password}@127.0.0.1:{state.port}/{database}"

    def _ensure_roles(self, state: ClusterState) -> None:
        """Create the owner and app roles and hand the database to the owner (idempotent)."""
        import psycopg

        if not state.owner_password or not state.app_password:
            state.owner_password = state.owner_password or secrets.token_urlsafe(24)
            state.app_password = state.app_password or secrets.token_urlsafe(24)
            self._save_state(state)
        conninfo = f"host=127.0.0.1 port={state.port} user={SUPERUSER} password={state.password}"
        with psycopg.connect(f"{conninfo} dbname=postgres", autocommit=True) as conn:
            roles.ensure_roles(
                conn, owner_password=state.owner_password, app_password=state.app_password
            )
        with psycopg.connect(f"{conninfo} dbname={DATABASE_NAME}", autocommit=True) as conn:
            roles.prepare_database(conn)

    def _ensure_database(self, state: ClusterState, *, attempts: int = 50) -> None:
        import psycopg

        conninfo = (
            f"host=127.0.0.1 port={state.port} user={SUPERUSER} "
            f"password={state.password} dbname=postgres"
        )
        for attempt in range(attempts):
            try:
                with psycopg.connect(conninfo, autocommit=True, connect_timeout=5) as conn:
                    exists = conn.execute(
                        "SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE_NAME,)
                    ).fetchone()
                    if not exists:
                        conn.execute(f'CREATE DATABASE "{DATABASE_NAME}"')
                    return
            except psycopg.OperationalError:
                if attempt == attempts - 1:
                    raise
                time.sleep(0.1)


# -- running programs as the right account (the cluster, replicas) ------------------------------
def service_user() -> str | None:
    """The account the server runs as: ``postgres`` when we are root, else ourselves."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(SERVICE_ACCOUNT)
    except KeyError as exc:
        raise MissingSoftware(
            "craftmap runs as root, and PostgreSQL refuses to run as root; the "
            f"unprivileged '{SERVICE_ACCOUNT}' account is missing. Install it with: "
            f"apt-get install {APT_POSTGRESQL}"
        ) from exc
    return SERVICE_ACCOUNT


def run_as_service(
    args: list[str], *, check: bool = True, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a PostgreSQL program as the service account; ``ClusterError`` when it fails."""
    user = service_user()
    result = subprocess.run(
        args,
        capture_output=True,
        text=True,
        user=user,
        group=user,
        cwd="/",
        env={**os.environ, "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8", **(env or {})},
    )
    if check and result.returncode != 0:
        raise ClusterError(
            f"{Path(args[0]).name} failed ({result.returncode}): "
            f"{(result.stderr or result.stdout).strip()[-2000:]}"
        )
    return result
