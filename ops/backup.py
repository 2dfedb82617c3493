"""Backups of craftmap's database: ``pg_dump`` custom-format archives and their restore.

A backup is the whole craftmap database in one ``pg_dump --format=custom`` file: schema,
every row (features, history, keys, ``alembic_version``), sequence positions and the
``CREATE EXTENSION`` of PostGIS and unaccent. The archive keeps owners and grants; restore
leaves them out (``--no-owner --no-acl``) because roles are server-wide objects a dump does
not carry: the role that restores owns what it restores, on any server. Grants of a
least-privilege deployment are re-applied by whoever manages those roles.

A restore runs as one transaction (``pg_restore`` writes SQL, ``psql --single-transaction``
runs it): a damaged archive or a refused statement leaves the database as it was.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

from geo.kernel.errors import GeoError, MissingSoftware
from ops.cluster import find_pg_binaries

# The table every craftmap database has once migrated: a dump without it is not ours.
MARKER_TABLE = "alembic_version"
_SYSTEM_SCHEMAS = ("pg_catalog", "information_schema", "pg_toast")
# "1234; 3079 16385 EXTENSION - postgis" and "5678; 0 0 COMMENT - EXTENSION postgis".
_TOC_EXTENSION = re.compile(r"^\d+; \d+ \d+ (?:EXTENSION - |COMMENT - EXTENSION )(\S+)")
_TOC_SCHEMA = re.compile(r"^\d+; \d+ \d+ SCHEMA - (\S+)")
_TOC_TABLE = re.compile(r"^\d+; \d+ \d+ TABLE (?!DATA )(\S+) (\S+)")
_TOC_DATA = re.compile(r"^\d+; \d+ \d+ TABLE DATA (\S+) (\S+)")


class BackupError(GeoError):
    """A backup or restore was refused or failed; the message says why and what to do."""


class DatabaseNotEmpty(BackupError):
    """Restoring would replace data that is already in the target database."""


@dataclass(frozen=True)
class ClientPrograms:
    """``pg_dump``, ``pg_restore`` and ``psql`` able to talk to one server."""

    bindir: Path
    major: int

    def program(self, name: str) -> str:
        """Full path of one client program."""
        return str(self.bindir / name)


@dataclass(frozen=True)
class Archive:
    """What a backup file holds, read from its table of contents."""

    path: Path
    schemas: tuple[str, ...]
    tables: tuple[str, ...]
    extensions: tuple[str, ...]
    toc: tuple[str, ...]


@dataclass(frozen=True)
class Outcome:
    """What a backup or restore did."""

    path: Path
    size: int
    tables: int
    revision: str | None
    database: str


# -- connecting ------------------------------------------------------------------------------
def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """A libpq URL without the password, and an environment carrying it.

    The password goes through ``PGPASSWORD`` so it never shows in the process list.
    """
    parsed = make_url(url).set(drivername="postgresql")
    env = {**os.environ, "PGCONNECT_TIMEOUT": "10", "LC_ALL": "C.UTF-8"}
    if parsed.password is not None:
        env["PGPASSWORD"] = str(parsed.password)
    return parsed.set(password=None).render_as_string(hide_password=False), env


def _where(url: str) -> str:
    parsed = make_url(url)
    return f"database {parsed.database} on {parsed.host or 'localhost'}:{parsed.port or 5432}"


@contextlib.contextmanager
def _connect(url: str) -> Iterator[psycopg.Connection]:
    conninfo, env = _libpq(url)
    try:
        with psycopg.connect(
            conninfo, password=env.get("PGPASSWORD"), connect_timeout=10, autocommit=True
        ) as conn:
            yield conn
    except psycopg.OperationalError as exc:
        raise BackupError(f"cannot connect to {_where(url)}: {exc}".strip()) from exc


def client_programs(url: str, pg_bindir: Path | None = None) -> ClientPrograms:
    """Find ``pg_dump``/``pg_restore``/``psql`` at least as new as the server of ``url``.

    pg_dump refuses servers newer than itself, so Debian's folder of the server's own major
    version is tried first, then the folder craftmap's cluster uses (``CRAFTMAP_PG_BINDIR``).
    """
    with _connect(url) as conn:
        number = int(conn.execute("SHOW server_version_num").fetchone()[0])  # type: ignore[index]
    server_major = number // 10000
    candidates = [Path(f"/usr/lib/postgresql/{server_major}/bin")]
    with contextlib.suppress(MissingSoftware):
        found = find_pg_binaries(pg_bindir)
        if found.major >= server_major:
            candidates.append(found.bindir)
    for bindir in candidates:
        if all((bindir / name).exists() for name in ("pg_dump", "pg_restore", "psql")):
            return ClientPrograms(bindir, server_major)
    raise MissingSoftware(
        f"pg_dump, pg_restore and psql for PostgreSQL {server_major} (or newer) were not "
        f"found. Install them with: apt-get install postgresql-client-{server_major}"
    )


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, env=env, check=False)


def _tail(text: str, limit: int = 1500) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return "\n".join(lines)[-limit:]


# -- backup ----------------------------------------------------------------------------------
def backup(
    url: str, path: Path, *, overwrite: bool = False, pg_bindir: Path | None = None
) -> Outcome:
    """Write the database of ``url`` to ``path`` as a custom-format archive.

    The archive is written beside ``path`` and renamed into place only once ``pg_restore``
    has read it back, so ``path`` is either a complete backup or untouched.

    Raises
    ------
    BackupError
        When ``path`` exists (and not ``overwrite``), the database is not a migrated
        craftmap database, or pg_dump fails.
    """
    path = path.expanduser()
    if path.exists() and not overwrite:
        raise BackupError(f"{path} exists; choose another file name or pass --force to overwrite")
    if path.is_dir():
        raise BackupError(f"{path} is a folder; give a file name such as craftmap.dump")
    if not path.parent.is_dir():
        raise BackupError(f"folder {path.parent} does not exist")
    with _connect(url) as conn:
        if conn.execute("SELECT to_regclass('public.alembic_version')").fetchone() == (None,):
            raise BackupError(
                f"{_where(url)} is not a craftmap database (no {MARKER_TABLE}); nothing to back up"
            )
    programs = client_programs(url, pg_bindir)
    conninfo, env = _libpq(url)
    try:
        handle = tempfile.NamedTemporaryFile(
            dir=path.parent, prefix=f".{path.name}.", suffix=".partial", delete=False
        )
    except OSError as exc:
        raise BackupError(f"cannot write in {path.parent}: {exc.strerror}") from exc
    partial = Path(handle.name)
    handle.close()
    try:
        dumped = _run(
            [
                programs.program("pg_dump"),
                "--format=custom",
                "--no-password",
                # The tile cache and the rate-limit counts are UNLOGGED: derived or
                # short-lived, rebuilt as they are used. A seeded cache can outweigh the data.
                "--no-unlogged-table-data",
                f"--file={partial}",
                f"--dbname={conninfo}",
            ],
            env,
        )
        if dumped.returncode != 0:
            raise BackupError(f"pg_dump failed: {_tail(dumped.stderr)}")
        archive = read_archive(partial, pg_bindir=programs.bindir)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return Outcome(
        path=path,
        size=path.stat().st_size,
        tables=len(archive.tables),
        revision=_revision(url),
        database=_where(url),
    )


def _revision(url: str) -> str | None:
    with _connect(url) as conn:
        if conn.execute("SELECT to_regclass('public.alembic_version')").fetchone() == (None,):
            return None
        row = conn.execute("SELECT version_num FROM public.alembic_version").fetchone()
    return None if row is None else str(row[0])


def read_archive(path: Path, *, pg_bindir: Path | None = None) -> Archive:
    """Read the table of contents of a backup, refusing files that are not craftmap's.

    Raises
    ------
    BackupError
        When the file is missing, not a pg_dump custom-format archive, or holds no
        craftmap database.
    """
    path = path.expanduser()
    if not path.is_file():
        raise BackupError(f"{path}: no such backup file; nothing was restored")
    bindir = pg_bindir or find_pg_binaries().bindir
    listed = _run([str(bindir / "pg_restore"), "--list", str(path)], {**os.environ})
    if listed.returncode != 0:
        reason = _tail(listed.stderr).removeprefix("pg_restore: error: ")
        raise BackupError(
            f"{path} is not a craftmap backup ({reason}); "
            "nothing was restored. Backups are written by 'craftmap backup FILE'."
        )
    toc = tuple(line for line in listed.stdout.splitlines() if line and not line.startswith(";"))
    tables = tuple(f"{m[1]}.{m[2]}" for line in toc if (m := _TOC_TABLE.match(line)))
    if f"public.{MARKER_TABLE}" not in tables:
        raise BackupError(
            f"{path} is a PostgreSQL archive but not of a craftmap database "
            f"(it has no {MARKER_TABLE} table); nothing was restored"
        )
    return Archive(
        path=path,
        schemas=tuple(m[1] for line in toc if (m := _TOC_SCHEMA.match(line))),
        tables=tables,
        extensions=tuple(sorted({m[1] for line in toc if (m := _TOC_EXTENSION.match(line))})),
        toc=toc,
    )


# -- restore ---------------------------------------------------------------------------------
def existing_tables(url: str) -> list[str]:
    """Tables and views of ``url`` that are not part of an extension (empty: safe target)."""
    with _connect(url) as conn:
        rows = conn.execute(
            """
            SELECT n.nspname || '.' || c.relname
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
              AND n.nspname <> ALL(%s) AND n.nspname NOT LIKE 'pg_temp%%'
              AND NOT EXISTS (
                SELECT 1 FROM pg_depend d
                WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                  AND d.deptype = 'e')
            ORDER BY 1
            """,
            (list(_SYSTEM_SCHEMAS),),
        ).fetchall()
    return [str(r[0]) for r in rows]


def _empty_extension_data(
    line: str, archive: Archive, pg_restore: str, env: dict[str, str]
) -> bool:
    """True for the rows of an extension's table (spatial_ref_sys) when there are none.

    pg_dump saves the user-added rows of an extension's configuration tables. When there
    are none, restoring them is an empty COPY that still needs INSERT on the table, which
    a role restoring into a database where an administrator created PostGIS lacks.
    """
    m = _TOC_DATA.match(line)
    if m is None or f"{m[1]}.{m[2]}" in archive.tables:
        return False
    with tempfile.NamedTemporaryFile("w", suffix=".list", encoding="utf-8") as one:
        one.write(line + "\n")
        one.flush()
        out = _run(
            [pg_restore, "--data-only", f"--use-list={one.name}", "-f", "-", str(archive.path)], env
        )
    lines = out.stdout.splitlines()
    copy = next((i for i, text in enumerate(lines) if text.startswith("COPY ")), None)
    return out.returncode == 0 and copy is not None and lines[copy + 1 : copy + 2] == ["\\."]


# Every table, view, sequence, routine and type of the public schema that no extension
# owns. An object of another kind left behind makes the restore fail ("already exists")
# and roll back, never half-replace.
_DROP_OWN_OBJECTS = """
DO $drop$
DECLARE
  statements text[];
  statement text;
BEGIN
  -- Names are spelled out before the first drop: a cascade may remove later ones.
  SELECT coalesce(array_agg(sql), '{}') INTO statements FROM (
    SELECT format('DROP %s IF EXISTS %s CASCADE',
                  CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
                                 WHEN 'S' THEN 'SEQUENCE' WHEN 'f' THEN 'FOREIGN TABLE'
                                 ELSE 'TABLE' END,
                  c.oid::regclass) AS sql
    FROM pg_class c
    WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
      AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                      AND d.objid = c.oid AND d.deptype = 'e')
    UNION ALL
    SELECT format('DROP %s IF EXISTS %s CASCADE',
                  CASE p.prokind WHEN 'a' THEN 'AGGREGATE' WHEN 'p' THEN 'PROCEDURE'
                                 ELSE 'FUNCTION' END,
                  p.oid::regprocedure)
    FROM pg_proc p
    WHERE p.pronamespace = 'public'::regnamespace
      AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass
                      AND d.objid = p.oid AND d.deptype = 'e')
    UNION ALL
    SELECT format('DROP %s IF EXISTS %s CASCADE',
                  CASE t.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END, t.oid::regtype)
    FROM pg_type t
    WHERE t.typnamespace = 'public'::regnamespace AND t.typtype IN ('e', 'd', 'r', 'c')
      AND (t.typtype <> 'c' OR (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c')
      AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_type'::regclass
                      AND d.objid = t.oid AND d.deptype = 'e')
  ) AS found;
  FOREACH statement IN ARRAY statements LOOP
    EXECUTE statement;
  END LOOP;
END
$drop$"""


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def restore(
    url: str, path: Path, *, replace: bool = False, pg_bindir: Path | None = None
) -> Outcome:
    """Restore the backup at ``path`` into the database of ``url``, all or nothing.

    An empty database (a new private cluster, or one created for it) is filled. A database
    that holds tables is replaced only with ``replace``: its schemas are dropped and the
    backup restored in the same transaction, so a failure leaves the old data in place.

    Raises
    ------
    DatabaseNotEmpty
        When the database holds tables and ``replace`` is false.
    BackupError
        When the file is not a craftmap backup or the restore fails (nothing is changed).
    """
    programs = client_programs(url, pg_bindir)
    archive = read_archive(path, pg_bindir=programs.bindir)
    present = existing_tables(url)
    if present and not replace:
        raise DatabaseNotEmpty(
            f"{_where(url)} is not empty ({len(present)} tables, e.g. "
            f"{', '.join(present[:3])}); restoring would replace its data. "
            "Back it up first ('craftmap backup FILE'), then restore with --force."
        )
    conninfo, env = _libpq(url)
    with _connect(url) as conn:
        installed = {str(r[0]) for r in conn.execute("SELECT extname FROM pg_extension")}
    prelude = "SELECT 1"
    if replace:
        # craftmap's own objects go, in the same transaction as the restore that recreates
        # them; installed extensions (PostGIS, unaccent) stay, so a role that may not create
        # PostGIS can still replace its data.
        own_schemas = [s for s in archive.schemas if s != "public"]
        prelude = _DROP_OWN_OBJECTS + "".join(
            f"; DROP SCHEMA IF EXISTS {_quote(s)} CASCADE" for s in own_schemas
        )
    # An extension already installed (e.g. PostGIS created by an administrator for a role
    # that may not create it) is kept: its CREATE and COMMENT entries are left out.
    keep = [
        line
        for line in archive.toc
        if not ((m := _TOC_EXTENSION.match(line)) and m[1] in installed)
    ]
    if installed & set(archive.extensions):
        keep = [
            line
            for line in keep
            if not _empty_extension_data(line, archive, programs.program("pg_restore"), env)
        ]
    with tempfile.TemporaryDirectory(prefix="craftmap-restore-") as folder:
        listing = Path(folder) / "toc.list"
        listing.write_text("\n".join(keep) + "\n", encoding="utf-8")
        script = Path(folder) / "restore.sql"
        written = _run(
            [
                programs.program("pg_restore"),
                "--no-owner",
                "--no-acl",
                f"--use-list={listing}",
                f"--file={script}",
                str(archive.path),
            ],
            env,
        )
        if written.returncode != 0:
            raise BackupError(
                f"{archive.path} is damaged ({_tail(written.stderr)}); nothing was restored"
            )
        ran = _run(
            [
                programs.program("psql"),
                "--no-psqlrc",
                "--quiet",
                "--no-password",
                "--set=ON_ERROR_STOP=1",
                "--single-transaction",
                f"--command={prelude}",
                f"--file={script}",
                f"--dbname={conninfo}",
            ],
            env,
        )
    if ran.returncode != 0:
        raise BackupError(
            f"restore into {_where(url)} failed and was rolled back, nothing was changed: "
            f"{_tail(ran.stderr)}"
        )
    return Outcome(
        path=archive.path,
        size=archive.path.stat().st_size,
        tables=len(archive.tables),
        revision=_revision(url),
        database=_where(url),
    )
