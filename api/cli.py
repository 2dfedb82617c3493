"""The ``craftmap`` command line: database, migrations, demo data and the web server."""

from __future__ import annotations

import getpass
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from geo.kernel.errors import GeoError, InvalidInput
from geo.kernel.text import LANGS, language
from geo.store import roles
from geo.store.db import Connection, Engine, make_engine, set_actor
from ops.settings import DatabaseSettings

app = typer.Typer(
    help="craftmap: craft villages, raw-material zones and tourism routes on PostGIS.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="The private PostgreSQL + PostGIS cluster.", no_args_is_help=True)
demo_app = typer.Typer(help="The Thanh Hóa demo dataset.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys for writing through the API.", no_args_is_help=True)
layers_app = typer.Typer(
    help="Reference layers: exclusion areas, land use, roads.", no_args_is_help=True
)
network_app = typer.Typer(
    help="The road network: OSM extracts or line layers built for routing (pgRouting).",
    no_args_is_help=True,
)
app.add_typer(layers_app, name="layers")
app.add_typer(network_app, name="network")
app.add_typer(db_app, name="db")
app.add_typer(demo_app, name="demo")
app.add_typer(keys_app, name="keys")
map_app = typer.Typer(help="Standalone map pages and the map pages' scripts.", no_args_is_help=True)
app.add_typer(map_app, name="map")
analysis_app = typer.Typer(
    help="Planner analysis: supply coverage, what-if scenarios, siting, zone checks.",
    no_args_is_help=True,
)
app.add_typer(analysis_app, name="analysis")
figures_app = typer.Typer(
    help="Yearly supply figures: village demand and zone capacity, measured or estimated.",
    no_args_is_help=True,
)
app.add_typer(figures_app, name="figures")
route_app = typer.Typer(
    help="The route designer: road legs, best order, timetable, villages on the way, hand-outs.",
    no_args_is_help=True,
)
app.add_typer(route_app, name="route")
programme_app = typer.Typer(
    help="Programmes and their targets (801/QĐ-TTg, a province's plan).", no_args_is_help=True
)
app.add_typer(programme_app, name="programme")
stats_app = typer.Typer(
    help="A village's yearly programme figures (the indicators' records): load, list, export.",
    no_args_is_help=True,
)
app.add_typer(stats_app, name="stats")
tiles_app = typer.Typer(
    help="The tile cache (built vector tiles kept in PostgreSQL): warm, empty, inspect.",
    no_args_is_help=True,
)
app.add_typer(tiles_app, name="tiles")

T = TypeVar("T")


@contextmanager
def readable_errors() -> Iterator[None]:
    """Print domain errors as one readable line and exit 1, instead of a traceback."""
    from alembic.util import CommandError

    try:
        yield
    except (GeoError, CommandError) as exc:
        typer.secho(f"craftmap: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from exc


def _settings() -> DatabaseSettings:
    return DatabaseSettings()


def database_url(settings: DatabaseSettings) -> str:
    """The URL to use, starting the private cluster first when no DATABASE_URL is set."""
    if settings.uses_private_cluster:
        settings.cluster().start()
    return settings.resolved_url()


@contextmanager
def _engine(url: str, **options: Any) -> Iterator[Engine]:
    """An engine for one command, disposed of (its connections closed) when it ends."""
    engine = make_engine(url, **options)
    try:
        yield engine
    finally:
        engine.dispose()


def _with_url(action: Callable[[str], T]) -> T:
    with readable_errors():
        return action(database_url(_settings()))


def _as_owner(settings: DatabaseSettings, action: Callable[[str], T]) -> T:
    """Run ``action`` with the schema owner's URL (backups and restores touch every object)."""
    with readable_errors():
        database_url(settings)
        return action(settings.migration_url())


# -- db ------------------------------------------------------------------------------------
@db_app.command("start")
def db_start() -> None:
    """Create (first time) and start the private cluster."""
    settings = _settings()
    if not settings.uses_private_cluster:
        typer.echo("DATABASE_URL is set: craftmap uses that server and starts no cluster.")
        return
    with readable_errors():
        state = settings.cluster().start()
    typer.echo(f"PostGIS cluster running on 127.0.0.1:{state.port} (data in {settings.home}).")


@db_app.command("stop")
def db_stop() -> None:
    """Stop the private cluster."""
    settings = _settings()
    if not settings.uses_private_cluster:
        typer.echo("DATABASE_URL is set: there is no private cluster to stop.")
        return
    with readable_errors():
        was_running = settings.cluster().stop()
    typer.echo("Stopped." if was_running else "The cluster was not running.")


@db_app.command("status")
def db_status() -> None:
    """Say whether the private cluster exists and runs (exit 3 when it is not running)."""
    settings = _settings()
    if not settings.uses_private_cluster:
        typer.echo("DATABASE_URL is set: craftmap uses an external server.")
        return
    with readable_errors():
        status = settings.cluster().status()
    if not status.initialised:
        typer.echo(f"No cluster under {settings.home.resolve()}; 'craftmap db start' creates it.")
        raise typer.Exit(3)
    if status.running:
        typer.echo(f"running on 127.0.0.1:{status.port}, data in {status.data_dir}")
        return
    typer.echo(f"stopped (data in {status.data_dir})")
    raise typer.Exit(3)


@db_app.command("url")
def db_url(
    role: Annotated[
        str,
        typer.Option(
            help="app: what the server uses; owner: what migrations use; "
            "admin: the private cluster's superuser."
        ),
    ] = "app",
) -> None:
    """Print the database URL (the private cluster's, or DATABASE_URL)."""
    settings = _settings()
    with readable_errors():
        if role == "app":
            typer.echo(settings.resolved_url())
        elif role == "owner":
            typer.echo(settings.migration_url())
        elif role == "admin" and settings.uses_private_cluster:
            typer.echo(settings.cluster().url())
        else:
            raise typer.BadParameter("role must be app, owner or admin (private cluster only)")


# -- schema and data -------------------------------------------------------------------------
@app.command()
def migrate(
    to: Annotated[str, typer.Option(help="Revision to upgrade to.")] = "head",
    down_to: Annotated[
        str | None, typer.Option(help="Downgrade to this revision instead ('base' empties).")
    ] = None,
) -> None:
    """Upgrade the schema to the newest revision (or downgrade with --down-to)."""
    from geo.store import migrate as migrations

    settings = _settings()
    with readable_errors():
        # Migrations run as the schema owner; the app role is granted its rights after.
        database_url(settings)
        url, app_role = settings.migration_url(), settings.app_role()
        if down_to is not None:
            migrations.downgrade(url, down_to, app_role=app_role)
            typer.echo(f"Schema downgraded to {down_to}.")
        else:
            migrations.upgrade(url, to, app_role=app_role)
            typer.echo(f"Schema at {to if to != 'head' else migrations.head_revision()}.")


def default_demo_dir() -> Path:
    """Where the demo dataset is: ``data/demo`` beside the code, else in the working folder."""
    # A checkout keeps data/ beside the packages; an installed app (the container image)
    # keeps it in the working directory.
    beside_code = Path(__file__).resolve().parents[1] / "data" / "demo"
    return beside_code if beside_code.is_dir() else Path.cwd() / "data" / "demo"


def _programmes_dir(demo_dir: Path) -> Path | None:
    """The programme files beside the demo folder (``data/programmes``), when there."""
    folder = demo_dir.parent / "programmes"
    return folder if folder.is_dir() else None


@demo_app.command("load")
def demo_load(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check and count, then roll back.")
    ] = False,
    folder: Annotated[
        Path | None,
        typer.Option(help="The dataset's folder (default: data/demo of the checkout or cwd)."),
    ] = None,
) -> None:
    """Load the Thanh Hóa demo dataset (idempotent: a second load changes nothing)."""
    from geo.io import ingest

    demo_dir = folder or default_demo_dir()

    def run(url: str) -> None:
        with _engine(url, pool_size=1) as engine:
            report = ingest.load_demo(
                engine,
                demo_dir=demo_dir,
                dry_run=dry_run,
                programmes_dir=_programmes_dir(demo_dir),
            )
        for table, counts in report.tables.items():
            typer.echo(
                f"{table:15} {counts.inserted:5} new  {counts.updated:5} changed  "
                f"{counts.unchanged:5} unchanged"
            )
        if dry_run:
            typer.echo("Dry run: nothing was written.")

    _with_url(run)


# -- programme -------------------------------------------------------------------------------
@programme_app.command("load")
def programme_load(
    files: Annotated[
        list[Path], typer.Argument(help="Programme files (CSV with a '# key: value' header).")
    ],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check and count, then roll back.")
    ] = False,
) -> None:
    """Load programme targets (idempotent; national programmes first, all or nothing)."""
    from geo.io import programmes

    def run(url: str) -> None:
        with _engine(url, pool_size=1) as engine:
            results = programmes.load_programmes(
                engine,
                programmes.ordered(files),
                actor=f"cli:{getpass.getuser()}",
                dry_run=dry_run,
            )
        for name, tables in results:
            for table, counts in tables.items():
                typer.echo(
                    f"{name:24} {table:17} {counts.inserted:4} new  {counts.updated:4} changed  "
                    f"{counts.unchanged:4} unchanged"
                )
        if dry_run:
            typer.echo("Dry run: nothing was written.")

    _with_url(run)


@programme_app.command("list")
def programme_list() -> None:
    """List the loaded programmes: code, level, province, parent, decision date, targets."""
    from geo.io import programmes

    def run(url: str) -> None:
        with _engine(url, pool_size=1) as engine:
            rows = programmes.list_programmes(engine)
        if not rows:
            typer.echo("No programmes loaded (craftmap programme load FILE).")
        for row in rows:
            typer.echo(
                f"{row['code']:16} {row['level']:9} {row['province_code'] or '-':5} "
                f"{row['parent'] or '-':16} {row['decision_date'] or '-'!s:10} "
                f"{row['targets']:3} targets  {row['title']}"
            )

    _with_url(run)


@app.command("indicators")
def indicators_cmd(
    year: Annotated[int, typer.Option(help="The report year.")],
    programme: Annotated[
        str | None,
        typer.Option(help="A programme code (default: the province plan of the data)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="The whole report as JSON.")] = False,
) -> None:
    """The programme's indicators for a year: the province table (or the report as JSON)."""
    import datetime as dt

    from geo.workflows import indicators

    def run(url: str) -> str:
        with _engine(url, pool_size=1) as engine, engine.connect() as conn:
            report = indicators.indicator_report(
                conn, programme=programme, year=year, today=dt.date.today()
            )
        if as_json:
            document = indicators.report_document(report)
            return json.dumps(document, ensure_ascii=False, indent=2)
        return indicators.province_table(report)

    typer.echo(_with_url(run))


# -- keys ------------------------------------------------------------------------------------
def _in_transaction(url: str, action: Callable[[Connection], T]) -> T:
    with _engine(url, pool_size=1) as engine:
        with engine.begin() as conn:
            set_actor(conn, f"cli:{getpass.getuser()}")
            return action(conn)


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Option(help="Who or what uses the key.")],
    role: Annotated[str, typer.Option(help="viewer, planner, tourism or admin.")],
) -> None:
    """Create a key and print it once (only its hash is stored)."""
    from geo.store import keys

    token, info = _with_url(
        lambda url: _in_transaction(url, lambda conn: keys.create_key(conn, name=name, role=role))
    )
    typer.echo(token)
    typer.echo(
        f"key {info.prefix} for {info.name} ({info.role.value}); store it now, "
        "it cannot be shown again",
        err=True,
    )


@keys_app.command("list")
def keys_list() -> None:
    """List keys (prefix, role, state, last use, name); secrets are never shown."""
    from geo.store import keys

    found = _with_url(lambda url: _in_transaction(url, keys.list_keys))
    for info in found:
        state = "revoked" if info.revoked else "active"
        used = (
            info.last_used_at.astimezone().strftime("%Y-%m-%d %H:%M")
            if info.last_used_at
            else "never used"
        )
        typer.echo(f"{info.prefix}  {info.role.value:8} {state:8} {used:16} {info.name}")


@keys_app.command("revoke")
def keys_revoke(
    prefix: Annotated[str, typer.Argument(help="The key's prefix (see 'keys list').")],
) -> None:
    """Revoke a key: it stops working at once."""
    from geo.store import keys

    _with_url(lambda url: _in_transaction(url, lambda conn: keys.revoke_key(conn, prefix)))
    typer.echo(f"Revoked {prefix}.")


# -- reference layers --------------------------------------------------------------------------
@layers_app.command("import")
def layers_import(
    path: Annotated[Path, typer.Argument(help="Any vector file GDAL reads (GPKG, SHP, GeoJSON…).")],
    name: Annotated[str, typer.Option(help="Collection id: lowercase letters, digits, '-'.")],
    title: Annotated[str, typer.Option(help="Title shown to people.")],
    kind: Annotated[str, typer.Option(help="exclusion, land_use, roads or other.")] = "other",
    replace: Annotated[
        bool, typer.Option(help="Replace the features of an existing layer.")
    ] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Check, then roll back.")] = False,
) -> None:
    """Import a reference layer; it is served as a collection of its own."""
    from geo.io import ingest

    def run(url: str) -> int:
        with _engine(url, pool_size=1) as engine:
            return ingest.import_reference_layer(
                engine,
                path,
                name=name,
                title=title,
                kind=kind,
                actor=f"cli:{getpass.getuser()}",
                replace=replace,
                dry_run=dry_run,
            )

    count = _with_url(run)
    typer.echo(f"{count} features {'checked (dry run)' if dry_run else 'imported'} into {name}.")


# -- province and commune packages (issue 13, point 4) ----------------------------------------
@app.command()
def package(
    out: Annotated[Path, typer.Option(help="The file to write: NAME.gpkg (QGIS) or NAME.kmz.")],
    area: Annotated[
        str | None, typer.Option(help="Province code, e.g. 38 (current scheme).")
    ] = None,
    commune: Annotated[str | None, typer.Option(help="Commune code (current scheme).")] = None,
    bbox: Annotated[str | None, typer.Option(help="minlon,minlat,maxlon,maxlat (WGS 84).")] = None,
    scheme: Annotated[
        str | None, typer.Option(help="Admin scheme of the code (default: the current one).")
    ] = None,
    crs: Annotated[str, typer.Option(help="CRS of the GeoPackage, e.g. EPSG:5897.")] = "EPSG:4326",
) -> None:
    """Write a province's or commune's package: styled GeoPackage for QGIS, or KMZ."""
    from geo.io.package import parse_area, write_package
    from geo.kernel.crs import served_crs
    from maps.styles import PACKAGE_PALETTE

    def run(url: str) -> dict[str, int]:
        chosen = parse_area(area=area, commune=commune, bbox=bbox, scheme=scheme)
        srid = served_crs(crs).srid
        with _engine(url, pool_size=1) as engine:
            return write_package(engine, chosen, out, srid, palette=PACKAGE_PALETTE)

    counts = _with_url(run)
    summary = ", ".join(f"{name} {count}" for name, count in counts.items())
    typer.echo(f"Wrote {out}: {summary}.")


# -- imports (issue 13) ----------------------------------------------------------------------
@app.command("import")
def import_file(
    path: Annotated[
        Path,
        typer.Argument(
            help="GeoJSON, GPKG, zipped SHP, TAB/MIF, KML/KMZ, GPX, CSV, XLSX or FlatGeobuf."
        ),
    ],
    into: Annotated[
        str,
        typer.Option(
            help="villages, material-zones, admin-units, routes, route-stops or layers/<name>."
        ),
    ],
    layer: Annotated[str | None, typer.Option(help="The file's layer or sheet.")] = None,
    crs: Annotated[
        str | None,
        typer.Option(help="The coordinates' CRS: EPSG:<code> or vn2000-tm3:<central meridian>."),
    ] = None,
    encoding: Annotated[str, typer.Option(help="auto, utf-8, tcvn3 or vni.")] = "auto",
    mapping: Annotated[
        str | None,
        typer.Option(help="A saved mapping's name, or a JSON mapping file."),
    ] = None,
    map_: Annotated[
        list[str] | None, typer.Option("--map", help="source=field (repeatable).")
    ] = None,
    values: Annotated[
        list[str] | None,
        typer.Option("--values", help="field:source value=code (repeatable)."),
    ] = None,
    save_mapping: Annotated[
        str | None, typer.Option(help="Save the mapping under this name for reuse.")
    ] = None,
    title: Annotated[str | None, typer.Option(help="A new reference layer's title.")] = None,
    kind: Annotated[
        str, typer.Option(help="A new reference layer's kind: exclusion, land_use, roads, other.")
    ] = "other",
    apply: Annotated[
        bool, typer.Option("--apply", help="Write (all or nothing); without it, a dry run.")
    ] = False,
    report: Annotated[
        Path | None, typer.Option(help="Write the report to a .json, .html or .csv file.")
    ] = None,
    lang: Annotated[str, typer.Option(help="The HTML report's language: vi or en.")] = "vi",
) -> None:
    """Import a file into a collection: a dry run with a per-row report, then --apply."""
    import json
    import sys

    from geo.io.imports import ImportRequest, parse_inline, read_mapping_file, run_import
    from geo.io.imports import report as reports
    from geo.workflows import route_design  # noqa: F401  (its write steps for 'roads' routes)

    if report is not None and report.suffix.lower() not in (".json", ".html", ".csv"):
        raise typer.BadParameter("--report must end in .json, .html or .csv")

    def run(url: str) -> Any:
        inline = parse_inline(map_ or [], values or [])
        mapping_name = None
        if mapping is not None and Path(mapping).suffix.lower() == ".json":
            inline = read_mapping_file(Path(mapping)).merged(inline)
        elif mapping is not None:
            mapping_name = mapping
        request = ImportRequest(
            into=into,
            actor=f"cli:{getpass.getuser()}",
            layer=layer,
            crs=crs,
            encoding=encoding,
            mapping=inline,
            mapping_name=mapping_name,
            save_mapping=save_mapping,
            apply=apply,
            layer_title=title,
            layer_kind=kind,
        )
        with _engine(url, pool_size=1) as engine:
            return run_import(engine, path, request, progress=_progress_printer())

    outcome = _with_url(run)
    document = outcome.as_json()
    if report is not None:
        suffix = report.suffix.lower()
        if suffix == ".json":
            report.write_text(json.dumps(document, ensure_ascii=False, indent=2), "utf-8")
        elif suffix == ".csv":
            report.write_text(reports.as_csv(document), encoding="utf-8-sig")
        else:
            report.write_text(reports.as_html(document, lang), encoding="utf-8")
        typer.echo(f"Report written to {report}.", err=True)
    for row in document["rows"]:
        if row["status"] != "ok":
            typer.echo(
                f"row {row['row']} {row['key']} {row['status']}: {'; '.join(row['reasons'])}",
                err=True,
            )
    for change in document["reassigned"]:
        typer.echo(
            f"village {change['village']}: commune {change['old_commune_code']} → "
            f"{change['new_commune_code']}"
        )
    colour = typer.colors.RED if document["counts"]["rejected"] else None
    typer.secho(outcome.message, fg=colour, file=sys.stdout)
    if document["counts"]["rejected"]:
        raise typer.Exit(1)


def _progress_printer() -> Callable[[int, int], None]:
    """A progress bar on a terminal (rich), a line every 10 % otherwise."""
    import sys

    if sys.stderr.isatty():
        from rich.progress import Progress

        bar = Progress(transient=True)
        task: list[Any] = []

        def show(done: int, total: int) -> None:
            if not task:
                bar.start()
                task.append(bar.add_task("import", total=total))
            bar.update(task[0], completed=done)
            if done >= total:
                bar.stop()

        return show
    step: list[int] = [0]

    def plain(done: int, total: int) -> None:
        tenth = (10 * done) // max(total, 1)
        if tenth > step[0] or done == total:
            step[0] = tenth
            typer.echo(f"checked {done}/{total} rows", err=True)

    return plain


# -- export (issue 13) -----------------------------------------------------------------------
@app.command("export")
def export_command(
    collection: Annotated[
        str, typer.Argument(help="Collection id: villages, material-zones, routes… or a layer.")
    ],
    out: Annotated[
        Path,
        typer.Argument(
            help="File to write; its ending names the format: .gpkg, .shp.zip, .kml, .kmz, "
            ".csv, .xlsx, .fgb, .parquet, .geojson."
        ),
    ],
    file_format: Annotated[
        str | None,
        typer.Option(
            "--format",
            help="gpkg, shp, kml, kmz, csv, xlsx, fgb, parquet or geojson (default: from OUT).",
        ),
    ] = None,
    crs: Annotated[
        str | None,
        typer.Option(help="CRS of the file, e.g. EPSG:5897 (VN-2000 TM-3 105°); default CRS84."),
    ] = None,
    cql2_filter: Annotated[
        str | None, typer.Option("--filter", help="CQL2 text, e.g. \"material = 'sedge'\".")
    ] = None,
    bbox: Annotated[
        str | None, typer.Option(help="minx,miny,maxx,maxy in CRS84 (longitude, latitude).")
    ] = None,
    where: Annotated[
        list[str] | None,
        typer.Option(help="PROPERTY=VALUE: only features whose property has this value."),
    ] = None,
    sortby: Annotated[str | None, typer.Option(help="e.g. code or -area_ha")] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite OUT if it exists.")] = False,
) -> None:
    """Export a collection, or the features a filter selects, to a file (any size)."""
    import tempfile

    from starlette.datastructures import QueryParams

    from api import params
    from api.settings import ApiSettings
    from geo.io import export
    from geo.kernel.errors import InvalidInput
    from geo.store import catalog

    def run(url: str) -> Any:
        fmt = export.format_named(file_format) if file_format else export.format_of_path(out)
        if out.exists() and not force:
            raise InvalidInput(f"{out} exists; give --force to overwrite it")
        if not out.parent.is_dir():
            raise InvalidInput(f"there is no folder {out.parent}")
        asked = [
            (name, value)
            for name, value in (("crs", crs), ("filter", cql2_filter), ("bbox", bbox))
            if value is not None
        ]
        asked += [("sortby", sortby)] if sortby is not None else []
        with _engine(url, pool_size=1) as engine, engine.connect() as conn:
            found = catalog.get_collection(conn, collection)
            for condition in where or []:
                name, equals, value = condition.partition("=")
                # What ?property=value filters on: a queryable that is neither a list nor
                # the geometry (--filter says more, e.g. "crafts A_CONTAINS ('mây')").
                usable = [
                    n for n, q in found.queryables().items() if q.type not in {"geometry", "array"}
                ]
                if not equals or name.strip() not in usable:
                    raise InvalidInput(
                        f"--where {condition!r}: give PROPERTY=VALUE with one of {found.id}'s "
                        f"properties ({', '.join(usable)}), or use --filter"
                    )
                asked.append((name.strip(), value))
            query, _ = params.items_query(
                QueryParams(asked), found, filter_max_length=ApiSettings().filter_max_length
            )
            query.limit = None
            # Written beside OUT, then moved: OUT is never left half-written.
            with tempfile.TemporaryDirectory(dir=out.parent, prefix=".craftmap-export-") as tmp:
                done = export.export(conn, found, query, fmt, Path(tmp))
                os.replace(done.path, out)
        return done

    done = _with_url(run)
    for note in done.notes:
        typer.echo(f"Note: {note}.", err=True)
    if done.renamed:
        typer.echo(
            f"Note: {len(done.renamed)} field names were shortened to 10 characters "
            "(a Shapefile's limit); README.txt in the zip lists them.",
            err=True,
        )
    typer.echo(
        f"Wrote {done.features} features of {collection} to {out} "
        f"({done.format.title.en}, {done.crs.title})."
    )


# -- road network (issue 13) -------------------------------------------------------------------
@network_app.command("import")
def network_import(
    path: Annotated[
        Path,
        typer.Argument(
            help="An OSM extract (.osm.pbf, .osm) or a line layer (GPKG, SHP, GeoJSON…)."
        ),
    ],
    name: Annotated[
        str | None, typer.Option(help="Network name (default: from the file name).")
    ] = None,
    replace: Annotated[bool, typer.Option(help="Replace a network of the same name.")] = False,
    snap_m: Annotated[
        float,
        typer.Option("--snap-m", help="Line layers: ends and crossings this close (m) meet."),
    ] = 1.0,
    approximate: Annotated[
        bool, typer.Option(help="Mark the network as approximate (drawn, not surveyed).")
    ] = False,
) -> None:
    """Build a routable road network from a file, all or nothing, and report it."""
    from geo.io import network
    from geo.workflows import route_design

    def run(url: str) -> tuple[network.NetworkReport, list[int]]:
        actor = f"cli:{getpass.getuser()}"
        with _engine(url, pool_size=1) as engine:
            report = network.import_network(
                engine,
                path,
                actor=actor,
                name=name,
                replace=replace,
                snap_m=snap_m,
                approximate=approximate,
            )
            # Right after the build: the routes that follow this network's roads (or no
            # network any more) get their legs again, with the history of each change.
            with engine.begin() as conn:
                routes = route_design.redesign_network_routes(conn, report.name, actor=actor)
        return report, routes

    report, routes = _with_url(run)
    typer.echo(report.summary())
    if routes:
        typer.echo(f"Redesigned {len(routes)} route(s) along the new roads: ids {routes}.")


@network_app.command("info")
def network_info() -> None:
    """List the stored road networks with their size and connectivity."""
    from geo.io import network

    def run(url: str) -> list[network.NetworkReport]:
        with _engine(url, pool_size=1) as engine:
            with engine.connect() as conn:
                return network.networks(conn)

    found = _with_url(run)
    if not found:
        typer.echo("No road network yet: 'craftmap network import FILE' builds one.")
    for report in found:
        built = report.built_at.strftime("%Y-%m-%d %H:%M") if report.built_at else "?"
        typer.echo(f"{report.summary()}; built {built} by {report.built_by or '?'}")


# -- zone checks (issue 14 point 4) -----------------------------------------------------------
@analysis_app.command("zone-checks")
def analysis_zone_checks(
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Date certificates are checked against (today).")
    ] = None,
    expiring_days: Annotated[
        int, typer.Option(help="Report certificates expiring within this many days.")
    ] = 90,
    area_tolerance_pct: Annotated[
        float, typer.Option(help="Declared vs boundary area, % (0.5 ha always allowed).")
    ] = 10.0,
    overlap_min_m2: Annotated[
        float, typer.Option("--overlap-min-m2", help="Smaller overlaps are not reported (m²).")
    ] = 100.0,
    haul_km: Annotated[
        float, typer.Option(help="Longest haul to a village, km in a straight line.")
    ] = 50.0,
    material: Annotated[str | None, typer.Option(help="Only zones of this material.")] = None,
    status: Annotated[
        str | None, typer.Option(help="Only these statuses, e.g. existing,planned (all).")
    ] = None,
    checks: Annotated[
        str | None,
        typer.Option(
            help="Only these checks: overlap, exclusion, certificate, area_mismatch, "
            "no_village, capacity_unknown (all)."
        ),
    ] = None,
    output_format: Annotated[
        str, typer.Option("--format", help="table, json, csv or geojson.")
    ] = "table",
    out: Annotated[Path | None, typer.Option(help="Write to this file, not the screen.")] = None,
    lang: Annotated[str, typer.Option(help="Language of the reasons in the table: vi or en.")] = (
        "vi"
    ),
    api_root: Annotated[
        str | None, typer.Option(help="Root URL the zone links start with (relative if none).")
    ] = None,
    fail_on: Annotated[
        str,
        typer.Option(
            help="'error': exit 1 when any zone has an error-severity reason (for cron); "
            "'none' (default): exit 0, the list is information."
        ),
    ] = "none",
) -> None:
    """Material zones that need attention, with the reason for each.

    Exit 0 whatever is found, unless --fail-on error is given and a reason of severity
    error (overlap, exclusion overlap, expired certificate) exists: then 1. A command
    that cannot run (bad option, no database) exits 1 too, with one line on stderr.
    """
    import datetime as dt
    import json

    from geo.kernel import vocab
    from geo.kernel.errors import InvalidInput
    from geo.workflows import zone_checks

    def run(url: str) -> tuple[zone_checks.ZoneChecks, str]:
        if output_format not in {"table", "json", "csv", "geojson"}:
            raise InvalidInput("--format must be one of: table, json, csv, geojson")
        if fail_on not in {"none", "error"}:
            raise InvalidInput("--fail-on must be one of: none, error")
        if lang not in LANGS:
            raise InvalidInput("--lang must be one of: vi, en")
        options = zone_checks.ZoneCheckOptions(
            as_of=zone_checks.parse_date("--as-of", as_of, dt.date.today()),
            expiring_days=expiring_days,
            area_tolerance_pct=area_tolerance_pct,
            overlap_min_m2=overlap_min_m2,
            haul_km=haul_km,
            material=material or None,
            statuses=zone_checks.parse_list("--status", status, vocab.ZoneStatus),
            checks=zone_checks.parse_list("--checks", checks, zone_checks.CHECKS)
            or zone_checks.CHECKS,
        )
        root = (api_root or "").rstrip("/")

        def zone_url(zone_id: int) -> str:
            return f"{root}/collections/material-zones/items/{zone_id}"

        with _engine(url, pool_size=1) as engine, engine.connect() as conn:
            if output_format == "geojson":
                report, collection = zone_checks.run_geojson(conn, options)
                collection["parameters"] = options.stated()
                return report, json.dumps(collection, ensure_ascii=False, indent=1)
            report = zone_checks.run(conn, options)
        if output_format == "json":
            return report, json.dumps(report.as_json(), ensure_ascii=False, indent=1)
        if output_format == "csv":
            return report, zone_checks.csv_text(report, zone_url)
        return report, _zone_checks_table(report, language(lang))

    report, text = _with_url(run)
    if out is not None:
        with readable_errors():
            try:
                out.write_text(text, encoding="utf-8")
            except OSError as exc:
                raise GeoError(f"cannot write {out}: {exc.strerror}") from None
        typer.echo(f"Wrote {len(report.findings)} findings to {out}.", err=True)
    else:
        typer.echo(text.removeprefix("\ufeff"), nl=not text.endswith("\n"))
    if fail_on == "error" and report.has_errors():
        raise typer.Exit(1)


def _zone_checks_table(report: Any, lang: str) -> str:
    """The findings as a plain-text table: a summary, the rules, one line per reason."""
    from geo.kernel.text import date_format, number
    from geo.workflows import zone_checks

    options = report.options
    severities = report.severity_counts()
    lines = [
        f"Zone checks as of {options.as_of.strftime(date_format(lang))}: "
        f"{report.zones_checked} zones checked, {len(report.findings)} findings "
        f"({', '.join(f'{n} {s}' for s, n in severities.items())})",
        "  " + " · ".join(f"{check} {n}" for check, n in report.counts().items()),
        f"  tolerances: overlap > {number(options.overlap_min_m2, lang, 0)} m², certificates "
        f"within {options.expiring_days} days, declared area ±"
        f"{number(options.area_tolerance_pct, lang)}% and ±"
        f"{number(zone_checks.AREA_FLOOR_HA, lang)} ha, haul "
        f"{number(options.haul_km, lang, 0)} km (straight line); statuses: "
        f"{', '.join(options.statuses) or 'all, proposed included'}",
    ]
    if report.findings:
        code_width = max(len(_printable(f.code)) for f in report.findings)
        lines.append("")
        lines.append(
            f"{'SEVERITY':<8}  {'ZONE':<{code_width}}  {'NAME':<28}  {'CHECK':<16}  REASON"
        )
        for f in report.findings:
            name = _printable(f.name)
            name = name if len(name) <= 28 else name[:27] + "…"
            lines.append(
                f"{f.severity:<8}  {_printable(f.code):<{code_width}}  {name:<28}  "
                f"{f.check:<16}  {_printable(f.reason(lang))}"
            )
    return "\n".join(lines) + "\n"


def _printable(value: str) -> str:
    """Typed text made safe for a terminal: control characters (escape sequences) as ?."""
    import unicodedata

    return "".join("?" if unicodedata.category(c) in {"Cc", "Cf"} else c for c in value)


# -- planner analysis: supply coverage and what-if (issue 14) --------------------------------
COVERAGE_FORMATS = ("table", "json", "csv", "geojson")


def _capacities(values: list[str]) -> dict[int | str, float]:
    """``CODE=t`` (or ``CODE:t``) options → {code: tonnes}."""
    import math

    from geo.kernel.errors import InvalidInput

    found: dict[int | str, float] = {}
    for value in values:
        sep = "=" if "=" in value else ":"
        code, _, tonnes = value.rpartition(sep)
        try:
            amount = float(tonnes)
        except ValueError:
            amount = math.nan
        if not code.strip() or not math.isfinite(amount) or amount < 0:
            raise InvalidInput(f"--capacity must be CODE=tonnes (tonnes ≥ 0), got {value[:60]!r}")
        found[code.strip()] = amount
    return found


def _listed(values: list[str]) -> list[str]:
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def _extra_zones(path: Path | None, material: str) -> list[Any]:
    """Unsaved zones from a GeoJSON FeatureCollection: polygons with ``capacity_t``."""
    import json

    from geo.kernel.errors import InvalidInput
    from geo.workflows.coverage import ExtraZone

    if path is None:
        return []
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InvalidInput(f"--zones {path}: not a readable GeoJSON file ({exc})") from exc
    features = doc.get("features") if isinstance(doc, dict) else None
    if not isinstance(features, list):
        raise InvalidInput(f"--zones {path}: a GeoJSON FeatureCollection is needed")
    zones = []
    for number, feature in enumerate(features, start=1):
        props = (feature.get("properties") if isinstance(feature, dict) else None) or {}
        capacity = props.get("capacity_t")
        if isinstance(capacity, bool) or not isinstance(capacity, int | float):
            raise InvalidInput(f"--zones {path}: feature {number} needs a numeric capacity_t")
        zones.append(
            ExtraZone(
                geometry=feature.get("geometry"),
                capacity_t=float(capacity),
                code=str(props["code"])[:32] if props.get("code") else None,
                name=str(props["name"]) if props.get("name") else None,
                material=props.get("material") or material,
            )
        )
    return zones


def _coverage_request(
    material: str,
    haul_km: float,
    mode: str,
    year: int | None,
    include: list[str],
    capacity: list[str],
    exclude: list[str],
    network: str | None,
    zones: Path | None = None,
) -> Any:
    from geo.workflows.coverage import CoverageRequest, Scenario

    return CoverageRequest(
        material=material,
        haul_km=haul_km,
        mode=mode,
        year=year,
        network=network,
        scenario=Scenario(
            include_statuses=_listed(include),
            capacity_overrides=_capacities(capacity),
            exclude_zones=_listed(exclude),
            extra_zones=_extra_zones(zones, material),
        ),
    )


def _coverage_table(result: Any) -> str:
    """The result as plain text: mode, totals, villages, zones, missing."""
    totals = result.totals
    mode = result.distance_mode + (f" (network {result.network})" if result.network else "")
    lines = [
        f"Material {result.request.material}, haul {result.request.haul_km:g} km, "
        f"distances: {mode}" + (f" — {result.note}" if result.note else ""),
        f"Demand {totals.demand_t:,.1f} t, supplied {totals.supplied_t:,.1f} t, "
        f"unmet {totals.unmet_t:,.1f} t; capacity {totals.capacity_t:,.1f} t, used "
        f"{totals.used_t:,.1f} t; {totals.tonne_km:,.0f} t·km",
        f"Villages: {totals.villages} ({totals.villages_covered} covered, "
        f"{totals.villages_short} short); zones: {totals.zones} ({totals.zones_used} used); "
        f"{totals.pairs} pairs within the haul",
        "",
        f"{'village':<20} {'demand t':>10} {'supplied t':>11} {'covered':>8} {'unmet t':>10}",
    ]
    for row in result.villages.sort_values(
        ["unmet_t", "code"], ascending=[False, True]
    ).itertuples():
        lines.append(
            f"{str(row.code):<20} {row.demand_t:>10,.1f} {row.supplied_t:>11,.1f} "
            f"{100 * row.covered_share:>7.0f}% {row.unmet_t:>10,.1f}"
        )
    lines += ["", f"{'zone':<20} {'status':<9} {'capacity t':>11} {'used t':>10}  serves"]
    for row in result.zones.itertuples():
        lines.append(
            f"{str(row.code):<20} {str(row.status):<9} {row.capacity_t:>11,.1f} "
            f"{row.used_t:>10,.1f}  {', '.join(row.serves) or '-'}"
        )
    if result.missing:
        lines += ["", "Missing:"]
        lines += [f"  {m.kind} {m.code}: {m.reason}" for m in result.missing]
    return "\n".join(lines) + "\n"


def _emit(text: str, out: Path | None) -> None:
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        typer.echo(f"written {out}", err=True)


_MATERIAL_OPTION = typer.Option(help="The material (luong, bamboo, rattan, sedge, medicinal…).")
_HAUL_OPTION = typer.Option("--haul-km", help="The longest haul in km (0 < haul ≤ 500).")
_MODE_OPTION = typer.Option(help="auto (roads when a network is loaded), road or geodesic.")
_YEAR_OPTION = typer.Option(help="The figures' year (default: the latest).")
_INCLUDE_OPTION = typer.Option(help="Zone statuses besides existing: planned, proposed.")
_CAPACITY_OPTION = typer.Option(help="A zone's capacity instead of its figure: CODE=tonnes.")
_EXCLUDE_OPTION = typer.Option(help="A zone code left out.")
_NETWORK_OPTION = typer.Option(help="The road network (default: the latest built).")
_OUT_OPTION = typer.Option(help="Write to this file instead of standard output.")


@analysis_app.command("coverage")
def analysis_coverage(
    material: Annotated[str, _MATERIAL_OPTION],
    haul_km: Annotated[float, _HAUL_OPTION] = 50.0,
    mode: Annotated[str, _MODE_OPTION] = "auto",
    year: Annotated[int | None, _YEAR_OPTION] = None,
    include: Annotated[list[str] | None, _INCLUDE_OPTION] = None,
    capacity: Annotated[list[str] | None, _CAPACITY_OPTION] = None,
    exclude: Annotated[list[str] | None, _EXCLUDE_OPTION] = None,
    network: Annotated[str | None, _NETWORK_OPTION] = None,
    fmt: Annotated[
        str, typer.Option("--format", help="table, json, csv (per village) or geojson.")
    ] = "table",
    out: Annotated[Path | None, _OUT_OPTION] = None,
) -> None:
    """Which villages each zone supplies and who goes short, at the least tonne-km."""
    import json

    from geo.kernel.errors import InvalidInput
    from geo.workflows import coverage

    def run(url: str) -> str:
        if fmt not in COVERAGE_FORMATS:
            raise InvalidInput(f"--format must be one of {', '.join(COVERAGE_FORMATS)}")
        request = _coverage_request(
            material, haul_km, mode, year, include or [], capacity or [], exclude or [], network
        )
        with _engine(url, pool_size=1) as engine, engine.connect() as conn:
            result = coverage.run_coverage(conn, request)
        if fmt == "json":
            return json.dumps(coverage.result_document(result), ensure_ascii=False, indent=2)
        if fmt == "geojson":
            return json.dumps(coverage.result_geojson(result), ensure_ascii=False)
        if fmt == "csv":
            return coverage.villages_csv(result)
        return _coverage_table(result)

    _emit(_with_url(run), out)


@analysis_app.command("what-if")
def analysis_what_if(
    material: Annotated[str, _MATERIAL_OPTION],
    haul_km: Annotated[float, _HAUL_OPTION] = 50.0,
    mode: Annotated[str, _MODE_OPTION] = "auto",
    year: Annotated[int | None, _YEAR_OPTION] = None,
    include: Annotated[list[str] | None, _INCLUDE_OPTION] = None,
    capacity: Annotated[list[str] | None, _CAPACITY_OPTION] = None,
    exclude: Annotated[list[str] | None, _EXCLUDE_OPTION] = None,
    zones: Annotated[
        Path | None,
        typer.Option(help="Unsaved zones: a GeoJSON FeatureCollection with capacity_t."),
    ] = None,
    network: Annotated[str | None, _NETWORK_OPTION] = None,
    fmt: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
    out: Annotated[Path | None, _OUT_OPTION] = None,
) -> None:
    """A scenario against the current state; nothing is written."""
    import json

    from geo.kernel.errors import InvalidInput
    from geo.workflows import coverage

    def run(url: str) -> str:
        if fmt not in ("table", "json"):
            raise InvalidInput("--format must be table or json")
        request = _coverage_request(
            material,
            haul_km,
            mode,
            year,
            include or [],
            capacity or [],
            exclude or [],
            network,
            zones,
        )
        with _engine(url, pool_size=1) as engine, engine.connect() as conn:
            current, scenario, diff = coverage.what_if(conn, request)
        if fmt == "json":
            doc = {
                "current": coverage.result_document(current),
                "scenario": coverage.result_document(scenario),
                "diff": coverage.diff_document(diff),
            }
            return json.dumps(doc, ensure_ascii=False, indent=2)
        lines = [
            f"Unmet {diff.unmet_before_t:,.1f} t → {diff.unmet_after_t:,.1f} t; supplied "
            f"{diff.supplied_before_t:,.1f} t → {diff.supplied_after_t:,.1f} t; villages short "
            f"{diff.villages_short_before} → {diff.villages_short_after}",
            f"Newly covered: {', '.join(diff.newly_covered) or '-'}",
            f"Newly short: {', '.join(diff.newly_short) or '-'}",
        ]
        lines += [
            f"  {c.code}: {c.supplied_before_t:,.1f} t → {c.supplied_after_t:,.1f} t"
            for c in diff.changed
        ]
        return "\n".join(lines) + "\n\nThe scenario:\n" + _coverage_table(scenario)

    _emit(_with_url(run), out)


# -- backup and restore (issue 9, ops) -------------------------------------------------------
CONFIRM_WORD = "replace"


@app.command()
def backup(
    file: Annotated[Path, typer.Argument(help="Archive to write (pg_dump custom format).")],
    force: Annotated[bool, typer.Option("--force", help="Overwrite FILE if it exists.")] = False,
) -> None:
    """Write the whole database (features, history, keys, schema) to FILE."""
    from ops import backup as backups

    settings = _settings()
    done = _as_owner(
        settings,
        lambda url: backups.backup(url, file, overwrite=force, pg_bindir=settings.pg_bindir),
    )
    typer.echo(
        f"Backed up {done.database} to {done.path} ({done.size / 1e6:.1f} MB, "
        f"{done.tables} tables, schema revision {done.revision})."
    )


@app.command()
def restore(
    file: Annotated[Path, typer.Argument(help="A file written by 'craftmap backup'.")],
    force: Annotated[
        bool, typer.Option("--force", help="Replace a database that holds data, without asking.")
    ] = False,
) -> None:
    """Restore FILE into the database (all or nothing); asks before replacing data."""
    import sys

    from geo.store import migrate as migrations
    from ops import backup as backups

    settings = _settings()

    def run(url: str) -> backups.Outcome:
        backups.read_archive(
            file, pg_bindir=backups.client_programs(url, settings.pg_bindir).bindir
        )
        present = backups.existing_tables(url)
        if present and not force:
            if not sys.stdin.isatty():
                raise backups.DatabaseNotEmpty(
                    f"the database is not empty ({len(present)} tables); restoring would "
                    "replace its data. Back it up first ('craftmap backup FILE'), then run "
                    "restore in a terminal to confirm, or pass --force."
                )
            typer.echo(
                f"The database holds {len(present)} tables ({', '.join(present[:4])}…). "
                f"Restoring {file} replaces ALL of its data; 'craftmap backup FILE' saves "
                "it first."
            )
            answer = typer.prompt(f"Type '{CONFIRM_WORD}' to continue", default="")
            if answer.strip() != CONFIRM_WORD:
                typer.echo("Nothing was changed.")
                raise typer.Exit(1)
        restored = backups.restore(url, file, replace=bool(present), pg_bindir=settings.pg_bindir)
        # A backup carries no grants (roles belong to the server): give the app role its
        # rights on the restored objects again, as after a migration.
        app_role = settings.app_role()
        if app_role is not None:
            with _engine(url) as engine:
                with engine.begin() as conn:
                    roles.grant_app_privileges(conn, app_role)
        return restored

    done = _as_owner(settings, run)
    typer.echo(f"Restored {done.path} into {done.database} ({done.tables} tables).")
    from alembic.script import ScriptDirectory

    head = migrations.head_revision()
    script = ScriptDirectory.from_config(migrations.alembic_config(""))
    known = {revision.revision for revision in script.walk_revisions()}
    if done.revision not in known:
        typer.echo(
            f"The backup's schema revision {done.revision} is newer than this craftmap "
            f"(at {head}): serve it with the craftmap version that wrote it.",
            err=True,
        )
    elif done.revision != head:
        typer.echo(
            f"The backup's schema is at revision {done.revision}, this craftmap's at {head}: "
            "run 'craftmap migrate'.",
            err=True,
        )


# -- server ----------------------------------------------------------------------------------
# -- maps ------------------------------------------------------------------------------------
Lang = Annotated[str, typer.Option(help="vi or en")]
ApiRoot = Annotated[
    str | None,
    typer.Option(
        help="The server the file's links open, e.g. https://craftmap.example.gov.vn "
        "(default: CRAFTMAP_PUBLIC_URL, else this machine's http://127.0.0.1:8000)"
    ),
]
Basemap = Annotated[
    str,
    typer.Option(
        help="'none' (the default: the file needs no internet), an XYZ tile URL, or "
        "'configured' for CRAFTMAP_BASEMAP_URL"
    ),
]
_LOCAL_ROOT = "http://127.0.0.1:8000"


def _map_settings(lang: str, api_root: str | None, basemap: str) -> Any:
    from api.settings import ApiSettings
    from maps.build import MapSettings

    if lang not in LANGS:
        raise typer.BadParameter("lang must be vi or en")
    configured = ApiSettings()
    root = api_root or configured.public_url
    if root is None:
        root = _LOCAL_ROOT
        typer.echo(
            f"The file's links open {root} (this machine); give --api-root to share it.",
            err=True,
        )
    if not root.startswith(("http://", "https://")):
        raise typer.BadParameter(f"--api-root must be an http(s) URL, got {root!r}")
    return MapSettings(
        api_root=root.rstrip("/"),
        lang=language(lang),
        basemap_url=configured.basemap_url if basemap == "configured" else basemap,
        basemap_attribution=configured.basemap_attribution,
    )


def _write_map(page: str, out: Path) -> None:
    from api.settings import ApiSettings
    from maps import assets

    folder = ApiSettings().map_assets_dir
    if assets.missing(folder):
        assets.fetch(folder)
    out.write_text(assets.inline(page, folder), encoding="utf-8")
    typer.echo(f"Wrote {out} ({out.stat().st_size // 1024} KB).")


@map_app.command("overview")
def map_overview(
    out: Annotated[Path, typer.Option(help="HTML file to write")],
    lang: Lang = "vi",
    api_root: ApiRoot = None,
    basemap: Basemap = "none",
) -> None:
    """Write the overview map as one standalone HTML file (scripts included)."""
    from geo.query import mapdata
    from maps import build

    settings = _map_settings(lang, api_root, basemap)

    def run(url: str) -> None:
        with _engine(url, pool_size=1) as engine:
            with engine.connect() as conn:
                data = mapdata.overview(conn)
        _write_map(build.build_overview(data, settings).get_root().render(), out)

    _with_url(run)


@map_app.command("route")
def map_route(
    route_id: Annotated[int, typer.Argument(help="The route's id")],
    out: Annotated[Path, typer.Option(help="HTML file to write")],
    lang: Lang = "vi",
    api_root: ApiRoot = None,
    basemap: Basemap = "none",
) -> None:
    """Write one route's map (stops, cards, print layout) as a standalone HTML file."""
    from geo.io import route_handouts
    from geo.kernel.errors import NotFound
    from geo.query import mapdata
    from maps import build

    settings = _map_settings(lang, api_root, basemap)

    def run(url: str) -> None:
        with _engine(url, pool_size=1) as engine:
            with engine.connect() as conn:
                routes, stops = mapdata.route(conn, route_id)
                plan = None if routes.empty else route_handouts.load_plan(conn, route_id)
        if routes.empty:
            raise NotFound(f"no route {route_id} (or it has no line yet)")
        page = build.build_route_map(routes.iloc[0], stops, settings, plan)
        _write_map(page.get_root().render(), out)

    _with_url(run)


@map_app.command("assets")
def map_assets() -> None:
    """Fetch the pinned Leaflet scripts the map pages need (npm registry, checked by hash)."""
    from api.settings import ApiSettings
    from maps import assets

    folder = ApiSettings().map_assets_dir
    try:
        fetched = assets.fetch(folder)
    except RuntimeError as exc:
        typer.secho(f"craftmap: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from exc
    names = ", ".join(f"{p.name}@{p.version}" for p in fetched) or "nothing (all present)"
    typer.echo(f"Map assets in {folder}: fetched {names}.")


@app.command()
def serve(
    host: Annotated[str, typer.Option(envvar="CRAFTMAP_HOST")] = "127.0.0.1",
    port: Annotated[int, typer.Option(envvar="CRAFTMAP_PORT")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
    reload: Annotated[bool, typer.Option(help="Restart on code changes (development).")] = False,
) -> None:
    """Serve the web app with uvicorn (starting the private cluster when it is used)."""
    import uvicorn

    from api.logs import log_config

    settings = _settings()
    with readable_errors():
        if settings.uses_private_cluster:
            settings.cluster().start()
            # Workers are separate processes: give them the same absolute data folder.
            os.environ["CRAFTMAP_HOME"] = str(settings.home.resolve())
    typer.echo(f"craftmap on http://{host}:{port}", err=True)
    # (light, issue 17) glibc gives threads that allocate at once arenas of their own (up
    # to 8 per core), each keeping freed memory; the thread pool's threads grew a worker's
    # RSS after load. Workers are spawned, so they read this at their start.
    os.environ.setdefault("MALLOC_ARENA_MAX", "2")
    uvicorn.run(
        "api.main:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        reload=reload,
        # Named, not "auto": a missing uvloop/httptools must fail loudly, not fall back
        # silently to asyncio's loop and the pure-Python h11 parser, both slower.
        loop="uvloop",
        http="httptools",
        access_log=False,  # RequestLogMiddleware writes the structured access log
        # A worker importing geopandas on a busy 2-core machine can take longer than
        # uvicorn's 5 s to answer its first health ping; it was then killed and respawned.
        timeout_worker_healthcheck=30,
        # SIGTERM must end a worker even with a client holding a connection open: orphaned
        # workers of a stopped server were seen still running half an hour later.
        timeout_graceful_shutdown=10,
        log_config=log_config(),
    )


# -- siting suggestions (issue 14) -----------------------------------------------------------
@analysis_app.command("sites")
def analysis_sites(
    material: Annotated[str, typer.Option(help="Material code: luong, bamboo, rattan, …")],
    k: Annotated[int, typer.Option("--k", help="How many new zones to site (1–50).")] = 3,
    haul_km: Annotated[float, typer.Option(help="Maximum haul in km.")] = 50.0,
    resolution: Annotated[int, typer.Option(help="H3 resolution 5–9 (7: ~5.2 km² cells).")] = 7,
    mode: Annotated[str, typer.Option(help="Coverage distance mode: auto, road, geodesic.")] = (
        "auto"
    ),
    year: Annotated[int | None, typer.Option(help="The figures' year (default: latest).")] = None,
    capacity_t: Annotated[
        float | None, typer.Option(help="Typical new-zone capacity, t/yr (capacitated model).")
    ] = None,
    min_zone_km: Annotated[
        float | None, typer.Option(help="Keep this many km from existing zones.")
    ] = None,
    land_use: Annotated[
        str | None, typer.Option(help="Allowed land-use classes, comma-separated.")
    ] = None,
    output_format: Annotated[
        str, typer.Option("--format", help="table, json or geojson.")
    ] = "table",
    out: Annotated[Path | None, typer.Option(help="Write to this file instead of stdout.")] = None,
    save: Annotated[
        int | None, typer.Option(help="Save the site of this rank as a proposed zone.")
    ] = None,
    name: Annotated[str | None, typer.Option(help="The saved zone's name (with --save).")] = None,
) -> None:
    """Suggest where k new zones of a material would serve the most unmet demand."""
    import json

    from geo.workflows import siting

    if output_format not in ("table", "json", "geojson"):
        typer.secho("craftmap: --format must be table, json or geojson", fg="red", err=True)
        raise typer.Exit(2)
    if save is not None and not name:
        typer.secho("craftmap: --save needs --name for the new zone", fg="red", err=True)
        raise typer.Exit(2)

    def run(url: str) -> tuple[siting.SitingResult, str]:
        classes = None
        if land_use:
            classes = tuple(c.strip() for c in land_use.split(",") if c.strip()) or None
        request = siting.SitingRequest(
            material=material,
            k=k,
            haul_km=haul_km,
            resolution=resolution,
            mode=mode,  # type: ignore[arg-type]  # checked by SitingRequest
            year=year,
            capacity_t=capacity_t,
            min_zone_distance_km=min_zone_km,
            land_use_classes=classes,
        )
        saved = ""
        with _engine(url, pool_size=1) as engine, engine.begin() as conn:
            result = siting.suggest_sites(conn, request)
            if save is not None:
                chosen = [s for s in result.sites if s.rank == save]
                if not chosen:
                    raise InvalidInput(
                        f"there is no site of rank {save} (found {len(result.sites)})"
                    )
                written = siting.save_site(
                    conn,
                    siting.SaveSite(
                        name=name or "",
                        material=material,
                        cell=chosen[0].cell,
                        capacity_t=capacity_t,
                        parameters=result.parameters,
                    ),
                    actor=f"cli:{getpass.getuser()}",
                )
                saved = f"saved site {save} as proposed zone DX-{chosen[0].cell} (id {written.id})"
        return result, saved

    result, saved = _with_url(run)
    if output_format == "json":
        text = json.dumps(result.to_dict(), ensure_ascii=False, indent=2)
    elif output_format == "geojson":
        text = json.dumps(result.to_geojson(), ensure_ascii=False)
    else:
        text = _sites_table(result)
    if out is not None:
        out.write_text(text + "\n", encoding="utf-8")
    else:
        typer.echo(text)
    if saved:
        typer.echo(saved, err=out is None and output_format != "table")


def _sites_table(result: Any) -> str:
    totals = result.totals
    share = "-" if totals.share is None else f"{100 * totals.share:.1f} %"
    lines = [
        f"unmet demand {totals.unmet_before_t:,.1f} t; the {totals.sites_found} sites serve "
        f"{totals.served_t:,.1f} t ({share}); greedy {totals.greedy_t:,.1f} t; "
        f"{totals.candidates} candidate cells, {totals.excluded} excluded; model {result.model}",
        *result.notes,
        f"{'rank':>4}  {'cell':<16} {'score t':>10}  villages / excluded nearby",
    ]
    for site in result.sites:
        villages = ", ".join(f"{v.code} {v.served_t:,.1f} t {v.km:.1f} km" for v in site.villages)
        reasons = sorted(
            {f"{r.kind}: {r.subject}" for c in site.excluded_nearby for r in c.reasons}
        )
        lines.append(f"{site.rank:>4}  {site.cell:<16} {site.score_t:>10,.1f}  {villages}")
        if reasons:
            lines.append(f"{'':>33}excluded nearby: {'; '.join(reasons)}")
    return "\n".join(lines)


@analysis_app.command("save-site")
def analysis_save_site(
    cell: Annotated[str, typer.Option(help="The H3 cell id of a suggested site.")],
    name: Annotated[str, typer.Option(help="The new zone's name.")],
    material: Annotated[str, typer.Option(help="The zone's material code.")],
    capacity_t: Annotated[float | None, typer.Option(help="Yearly capacity, t.")] = None,
    code: Annotated[str | None, typer.Option(help="Zone code (default DX-<cell>).")] = None,
) -> None:
    """Save a suggested site (an H3 cell) as a proposed material zone."""
    from geo.workflows import siting

    def run(url: str) -> int:
        with _engine(url, pool_size=1) as engine, engine.begin() as conn:
            save = siting.SaveSite(
                name=name, material=material, cell=cell, capacity_t=capacity_t, code=code
            )
            return siting.save_site(conn, save, actor=f"cli:{getpass.getuser()}").id

    zone_id = _with_url(run)
    typer.echo(f"saved as proposed zone {code or 'DX-' + cell} (id {zone_id})")


# -- villages on the way (geo.workflows.route_corridor) ---------------------------------------
@route_app.command("corridor")
def route_corridor_command(
    route: Annotated[str, typer.Argument(help="The route's id or code.")],
    km: Annotated[float, typer.Option(help="The corridor's width either side, km (0–50].")] = 5.0,
    craft_group: Annotated[str | None, typer.Option(help="Only this craft group (G1–G7).")] = None,
    tourism: Annotated[
        bool | None, typer.Option("--tourism/--no-tourism", help="Only villages (not) linked.")
    ] = None,
    ocop_min_stars: Annotated[
        int | None, typer.Option(help="Only villages with OCOP products of 3–5 stars or more.")
    ] = None,
    mode: Annotated[str | None, typer.Option(help="Travel mode (default: the route's).")] = None,
    output_format: Annotated[
        str, typer.Option("--format", help="table, json or geojson.")
    ] = "table",
) -> None:
    """The villages near a route, by the extra driving each would add at its best place."""
    from geo.workflows import route_corridor

    if output_format not in {"table", "json", "geojson"}:
        typer.secho("craftmap: --format is table, json or geojson", fg=typer.colors.RED, err=True)
        raise typer.Exit(2)

    def run(url: str) -> Any:
        with _engine(url, pool_size=1) as engine, engine.connect() as conn:
            request = route_corridor.CorridorRequest(
                route_id=route_corridor.route_id_of(conn, route),
                km=km,
                craft_group=craft_group,
                tourism=tourism,
                ocop_min_stars=ocop_min_stars,
                mode=mode,
            )
            return route_corridor.corridor(conn, request)

    result = _with_url(run)
    if output_format == "json":
        typer.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
        return
    if output_format == "geojson":
        typer.echo(json.dumps(result.to_geojson(), ensure_ascii=False))
        return
    typer.echo(
        f"route {result.route_code}: {len(result.candidates)} villages within {km:g} km, "
        f"{result.mode} on {result.network or 'no network (straight lines)'}; "
        "detour = extra driving at the best place (the dwell is not in it)"
    )
    typer.echo(f"{'detour min':>10}  {'after stop':>10}  {'km':>6}  {'measured':<8}  village")
    for c in result.candidates:
        typer.echo(
            f"{c.detour_min:>10.1f}  {c.best_after_seq:>10}  {c.distance_km:>6.2f}  "
            f"{c.kind:<8}  {c.code} {c.name}" + (f" ({c.note})" if c.note else "")
        )


@route_app.command("insert")
def route_insert_command(
    route: Annotated[str, typer.Argument(help="The route's id or code.")],
    village: Annotated[str, typer.Option(help="The village's code (or id).")],
    dwell: Annotated[int | None, typer.Option(help="Minutes spent there (default 60).")] = None,
    position: Annotated[
        int | None, typer.Option(help="The new stop's number (default: its best place).")
    ] = None,
) -> None:
    """Insert a village as a stop of a route, at its best place unless --position says."""
    from geo.workflows import route_corridor

    def run(url: str) -> Any:
        with _engine(url, pool_size=1) as engine, engine.begin() as conn:
            return route_corridor.insert_stop(
                conn,
                route_corridor.route_id_of(conn, route),
                int(village) if village.isdigit() else village,
                actor=f"cli:{getpass.getuser()}",
                dwell_min=dwell,
                position=position,
            )

    inserted = _with_url(run)
    detour = "" if inserted.detour_min is None else f", adding {inserted.detour_min:.1f} min"
    typer.echo(f"inserted as stop {inserted.seq} (id {inserted.stop_id}){detour}")
    for row in inserted.timetable:
        times = " ".join(
            str(row[k])[:5] for k in ("arrive_at", "depart_at") if row.get(k) is not None
        )
        typer.echo(f"{row['seq']:>3}  {times:<11}  {row['name'] or ''}")


def main() -> None:
    """Entry point for ``python -m api.cli``."""
    app(prog_name="craftmap")


if __name__ == "__main__":
    main()


# -- figures -----------------------------------------------------------------------------------
@figures_app.command("record")
def figures_record(
    year: Annotated[int, typer.Option(help="The figure's year.")],
    tonnes: Annotated[float, typer.Option(help="Tonnes a year (≥ 0).")],
    village: Annotated[str | None, typer.Option(help="A village's code (demand).")] = None,
    zone: Annotated[str | None, typer.Option(help="A zone's code (capacity).")] = None,
    material: Annotated[
        str | None, typer.Option(help="Material code (a village's; a zone's must match).")
    ] = None,
    estimate: Annotated[bool, typer.Option(help="An estimate (needs --basis).")] = False,
    basis: Annotated[str | None, typer.Option(help="How the estimate was made.")] = None,
    source: Annotated[list[str] | None, typer.Option(help="A source (repeat for several).")] = None,
) -> None:
    """Record a village's demand or a zone's capacity for a year (history keeps it)."""
    from geo.workflows import figures as workflow

    if (village is None) == (zone is None):
        raise typer.BadParameter("give either --village or --zone")
    if village is not None and material is None:
        raise typer.BadParameter("a village's figure needs --material")

    def run(url: str) -> Any:
        data = workflow.FigureInput.checked(tonnes, estimate, basis, source or [])
        actor = f"cli:{getpass.getuser()}"
        with _engine(url, pool_size=1) as engine, engine.begin() as conn:
            if village is not None:
                assert material is not None
                return workflow.record_village(conn, village, material, year, data, actor=actor)
            assert zone is not None
            return workflow.record_zone(conn, zone, year, data, actor=actor, material=material)

    done = _with_url(run)
    what = "recorded" if done.created else ("changed" if done.changed else "unchanged")
    feature = "; the feature's current figure follows" if done.feature_updated else ""
    typer.echo(
        f"{done.figure['code']} {done.figure['material']} {done.figure['year']}: "
        f"{done.figure['tonnes']:g} t ({what}){feature}"
    )


@figures_app.command("list")
def figures_list(
    material: Annotated[str | None, typer.Option(help="Only this material.")] = None,
    year: Annotated[int | None, typer.Option(help="Only this year.")] = None,
    format_: Annotated[str, typer.Option("--format", help="table, csv or json.")] = "table",
) -> None:
    """List the recorded yearly figures."""
    from geo.io import figures as files
    from geo.workflows import figures as workflow

    if format_ not in ("table", "csv", "json"):
        raise typer.BadParameter("--format must be table, csv or json")

    def run(url: str) -> list[dict[str, Any]]:
        with _engine(url, pool_size=1) as engine, engine.connect() as conn:
            return workflow.list_figures(conn, material=material, year=year)

    found = _with_url(run)
    if format_ == "csv":
        typer.echo(files.to_csv(found), nl=False)
    elif format_ == "json":
        typer.echo(json.dumps(found, ensure_ascii=False, indent=2))
    else:
        for f in found:
            kind = "E" if f["estimate"] else "M"
            typer.echo(
                f"{f['code']:<10} {f['material']:<10} {f['year']} {f['tonnes']:>12,.1f} t {kind}"
                f"  {f['name']}"
            )
        typer.echo(f"{len(found)} figures (E = estimate, M = measured)")


@figures_app.command("import")
def figures_import(
    path: Annotated[Path, typer.Argument(help="A CSV with the demo's columns.")],
    dry_run: Annotated[bool, typer.Option(help="Check and count, write nothing.")] = False,
) -> None:
    """Import figures from a CSV: every row or none (a bad row names its line)."""
    from geo.workflows import figures as workflow

    def run(url: str) -> Any:
        with _engine(url, pool_size=1) as engine:
            return workflow.import_csv(
                engine, path, actor=f"cli:{getpass.getuser()}", dry_run=dry_run
            )

    summary = _with_url(run)
    typer.echo(
        f"{summary.rows} rows: {summary.inserted} new, {summary.updated} changed, "
        f"{summary.unchanged} unchanged; {summary.features_updated} features' current "
        f"figures updated{' (dry run: nothing written)' if summary.dry_run else ''}"
    )


# -- route hand-outs -------------------------------------------------------------------------
@route_app.command("export")
def route_export(
    route: Annotated[str, typer.Argument(help="The route's id or code")],
    fmt: Annotated[str, typer.Option("--format", help="gpx, kml or kmz")],
    out: Annotated[Path, typer.Option(help="The file to write")],
    lang: Lang = "vi",
    api_root: ApiRoot = None,
) -> None:
    """Write a route's hand-out for a guide: GPX 1.1, KML or KMZ (times, dwell, legs)."""
    from geo.io import route_handouts
    from maps.build import SPEED_KMH

    if fmt not in route_handouts.FORMATS:
        raise typer.BadParameter(f"--format must be one of {', '.join(route_handouts.FORMATS)}")
    settings = _map_settings(lang, api_root, "none")

    def run(url: str) -> Any:
        with _engine(url, pool_size=1) as engine:
            with engine.connect() as conn:
                return route_handouts.load_plan(conn, route)

    plan = _with_url(run)
    body = route_handouts.build(
        plan,
        fmt,
        page_url=f"{settings.api_root}/maps/routes/{plan.id}?lang={settings.lang}",
        lang=settings.lang,
        speed_kmh=SPEED_KMH.get(plan.mode, SPEED_KMH["car"]),
    )
    out.write_bytes(body)
    typer.echo(f"{out}: {plan.code} ({len(plan.stops)} stops) as {fmt}, {len(body):,} bytes")


# -- route designer (issue 15) -----------------------------------------------------------------
@route_app.command("design")
def route_design_cmd(
    route: Annotated[str, typer.Argument(help="The route's id or code.")],
    optimise: Annotated[bool, typer.Option("--optimise", help="Find the best order.")] = False,
    objective: Annotated[
        str, typer.Option(help="What the order minimises: time or distance.")
    ] = "time",
    end: Annotated[
        str, typer.Option(help="open (end anywhere), fixed (at the last stop) or return.")
    ] = "open",
    network: Annotated[
        str | None, typer.Option(help="Road network name (default: the latest built).")
    ] = None,
    output: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
) -> None:
    """Design a route along the roads, save it on the route and its stops, print it."""
    from geo.workflows import route_design

    if output not in ("table", "json"):
        typer.secho("craftmap: --format must be table or json", fg=typer.colors.RED, err=True)
        raise typer.Exit(2)

    def run(url: str) -> str:
        with _engine(url, pool_size=1) as engine, engine.begin() as conn:
            design = route_design.design_route(
                conn,
                route,
                optimise=optimise,
                objective=objective,  # type: ignore[arg-type]  # checked by the workflow
                end=end,  # type: ignore[arg-type]
                network=network,
                actor=f"cli:{getpass.getuser()}",
            )
        if output == "json":
            return json.dumps(route_design.design_document(design), ensure_ascii=False, indent=2)
        return route_design.design_table(design)

    typer.echo(_with_url(run))


@route_app.command("preview")
def route_preview_cmd(
    stops: Annotated[
        Path,
        typer.Option(
            "--stops",
            help='A JSON file: {"stops": [{"village_id" | "lon", "lat", "dwell_min", …}], '
            '"mode", "start_time", "optimise", …} (as POST /routes/design/preview).',
        ),
    ],
    output: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
) -> None:
    """Design unsaved stops from a file and print the result; nothing is written."""
    from geo.kernel.errors import InvalidInput
    from geo.workflows import route_design

    def run(url: str) -> str:
        try:
            body = json.loads(stops.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InvalidInput(f"cannot read {stops}: {str(exc)[:200]}") from exc
        request = route_design.parse_preview(body)
        with _engine(url, pool_size=1) as engine, engine.connect() as conn:
            design = route_design.preview_design(conn, request)
            conn.rollback()
        if output == "json":
            return json.dumps(route_design.design_document(design), ensure_ascii=False, indent=2)
        return route_design.design_table(design)

    typer.echo(_with_url(run))


# -- stats (issue 16) --------------------------------------------------------------------------
@stats_app.command("load")
def stats_load(
    path: Annotated[Path, typer.Argument(help="A CSV (UTF-8) or XLSX: village_code, year, facts.")],
    actor: Annotated[
        str | None, typer.Option(help="Who the history names (default: cli:<user>).")
    ] = None,
    dry_run: Annotated[bool, typer.Option(help="Check and count, write nothing.")] = False,
) -> None:
    """Load yearly figures by (village, year): every row or none (bad lines are named)."""
    from geo.workflows import village_stats as workflow

    who = actor if actor is not None else f"cli:{getpass.getuser()}"

    def run(url: str) -> Any:
        with _engine(url, pool_size=1) as engine:
            return workflow.import_file(engine, path, actor=who, dry_run=dry_run)

    summary = _with_url(run)
    typer.echo(
        f"{summary.rows} rows: {summary.inserted} inserted, {summary.updated} updated, "
        f"{summary.unchanged} unchanged{' (dry run: nothing written)' if summary.dry_run else ''}"
    )


@stats_app.command("list")
def stats_list(
    village_code: Annotated[str, typer.Argument(help="The village's code (e.g. TH-V-005).")],
    as_json: Annotated[bool, typer.Option("--json", help="JSON instead of a table.")] = False,
) -> None:
    """List a village's recorded years and their figures (blank: unknown)."""
    from geo.workflows import village_stats as workflow

    def run(url: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        with _engine(url, pool_size=1) as engine, engine.connect() as conn:
            found = workflow.village_by_code(conn, village_code)
            return found, workflow.years_of(conn, found["id"])

    found, years = _with_url(run)
    if as_json:
        typer.echo(json.dumps({"village": found, "stats": years}, ensure_ascii=False, indent=2))
        return
    typer.echo(f"{found['code']} {found['name']}: {len(years)} years")
    for stat in years:
        facts = ", ".join(
            f"{name}={stat[name]}" for name in workflow.FACTS if stat[name] is not None
        )
        sources = f" [{'; '.join(stat['sources'])}]" if stat["sources"] else ""
        typer.echo(f"{stat['year']}: {facts or '(no facts known)'}{sources}")


@stats_app.command("delete")
def stats_delete(
    village_code: Annotated[str, typer.Argument(help="The village's code (e.g. TH-V-005).")],
    year: Annotated[int, typer.Argument(help="The year whose figures go.")],
    actor: Annotated[
        str | None, typer.Option(help="Who the history names (default: cli:<user>).")
    ] = None,
) -> None:
    """Delete a village's figures of one year (the history keeps them)."""
    from geo.workflows import village_stats as workflow

    who = actor if actor is not None else f"cli:{getpass.getuser()}"

    def run(url: str) -> dict[str, Any]:
        with _engine(url, pool_size=1) as engine, engine.begin() as conn:
            found = workflow.village_by_code(conn, village_code)
            workflow.delete(conn, found["id"], year, actor=workflow.check_actor(who))
            return found

    found = _with_url(run)
    typer.echo(f"{found['code']} {found['name']}: {year} deleted")


@stats_app.command("export")
def stats_export(
    out: Annotated[Path, typer.Option("--out", help="The file to write: .csv, or .xlsx.")],
    year: Annotated[int | None, typer.Option(help="Only this year.")] = None,
) -> None:
    """Write every recorded year as CSV (or XLSX) in the format ``stats load`` reads back."""
    from geo.io import village_stats as files
    from geo.workflows import village_stats as workflow

    def run(url: str) -> list[dict[str, Any]]:
        with _engine(url, pool_size=1) as engine, engine.connect() as conn:
            return workflow.list_all(conn, year=year)

    found = _with_url(run)
    with readable_errors():
        try:
            if out.suffix.lower() == ".xlsx":
                out.write_bytes(files.to_xlsx(found))
            else:
                # The BOM makes Excel read the file as UTF-8; `stats load` takes it either way.
                out.write_text("\ufeff" + files.to_csv(found), encoding="utf-8")
        except OSError as exc:
            raise InvalidInput(f"cannot write {out}: {exc.strerror}") from exc
    typer.echo(f"{len(found)} rows written to {out}")


# -- the annual programme report (issue 16) ----------------------------------------------------
_REPORT_FORMATS = {".pdf": "pdf", ".xlsx": "xlsx"}


@app.command("report")
def report_command(
    year: Annotated[int, typer.Option(help="The report's year (2000–2100).")],
    out: Annotated[Path, typer.Option(help="The file to write: FILE.pdf or FILE.xlsx.")],
    programme: Annotated[
        str | None,
        typer.Option(help="The programme's code (default: the province's plan, 4182/QĐ-UBND)."),
    ] = None,
    lang: Lang = "vi",
    api_root: ApiRoot = None,
) -> None:
    """Write the annual programme report: a printable PDF or its tables as XLSX."""
    from api.routers.report import TEMPLATES_DIR, now
    from api.settings import ApiSettings
    from geo.io import report_xlsx
    from geo.workflows import annual_report
    from maps import report

    with readable_errors():
        fmt = _REPORT_FORMATS.get(out.suffix.lower())
        if fmt is None:
            raise InvalidInput(f"--out must end in .pdf or .xlsx, not {out.name!r}")
        if lang not in LANGS:
            raise InvalidInput("--lang must be vi or en")
        folder = out.parent if str(out.parent) else Path(".")
        if not folder.is_dir() or not os.access(folder, os.W_OK):
            raise InvalidInput(f"cannot write {out}: {folder} is not a writable folder")
    root = (api_root or ApiSettings().public_url or "").rstrip("/")
    made = now()

    def run(url: str) -> Any:
        with _engine(url, pool_size=1) as engine, engine.connect() as conn:
            return annual_report.annual_report(
                conn,
                programme=programme,
                year=year,
                today=made.date(),
                generated_at=made,
                with_maps=fmt == "pdf",
            )

    data = _with_url(run)
    if fmt == "pdf":

        def item_url(collection: str, feature_id: int) -> str:
            return f"{root}/collections/{collection}/items/{feature_id}?lang={lang}"

        body = report.render_pdf(
            data, lang=lang, template_dir=TEMPLATES_DIR, item_url=item_url if root else None
        )
    else:
        body = report_xlsx.workbook(data.report, data.actions, lang=lang, generated_at=made)
    with readable_errors():
        try:
            out.write_bytes(body)
        except OSError as exc:
            raise InvalidInput(f"cannot write {out}: {exc.strerror or exc}") from exc
    typer.echo(
        f"{out}: {data.report.programme_code} {data.report.year}, "
        f"{len(data.report.province)} indicators, {len(body):,} bytes"
    )


# -- the tile cache (issue 17, point 1) ---------------------------------------------------------
@tiles_app.command("seed")
def tiles_seed(
    zooms: Annotated[str, typer.Option(help="Zoom levels, e.g. 5-10 or 8.")] = "5-10",
    province: Annotated[
        str | None,
        typer.Option(help="A province by name (its boundary, else the extent of the data)."),
    ] = None,
    bbox: Annotated[str | None, typer.Option(help="W,S,E,N in degrees instead.")] = None,
    collections: Annotated[
        str | None,
        typer.Option(help="Comma-separated collection ids (default: every collection)."),
    ] = None,
    combined: Annotated[
        bool, typer.Option(help="Seed the combined tileset (/tiles/...) of every collection.")
    ] = False,
) -> None:
    """Build and cache the tiles of an area (already cached tiles are left as they are)."""
    from api.settings import ApiSettings
    from geo.query import tile_cache
    from geo.store import catalog

    cap = ApiSettings().tile_max_features
    with readable_errors():
        levels = tile_cache.parse_zooms(zooms)
        if province is not None and bbox is not None:
            raise InvalidInput("give --province or --bbox, not both")
        box = tile_cache.parse_bbox(bbox) if bbox is not None else None

    def run(url: str) -> list[tuple[str, tile_cache.SeedReport]]:
        done = []
        with _engine(url, pool_size=1, for_reads=True) as engine, engine.connect() as conn:
            every = catalog.list_collections(conn)
            if collections is not None:
                ids = [c.strip() for c in collections.split(",") if c.strip()]
                chosen = [catalog.get_collection(conn, c) for c in ids]
            else:
                chosen = [] if combined else every
            sets = [[c] for c in chosen] + ([every] if combined else [])
            area = box
            if area is None and province is not None:
                area = tile_cache.province_bbox(conn, province)
            if area is None:
                area = tile_cache.data_bbox(conn, every)
            addresses = tile_cache.tiles_over(area, levels)
            for layer_set in sets:
                name = "combined" if len(layer_set) > 1 else layer_set[0].id
                done.append((name, tile_cache.seed(conn, layer_set, addresses, cap=cap)))
        return done

    for name, report in _with_url(run):
        kept = f", {report.uncached} built during a write (not kept)" if report.uncached else ""
        typer.echo(
            f"{name}: zooms {levels[0]}-{levels[-1]}: {report.built} tiles built, "
            f"{report.empty} empty, {report.cached} already cached{kept} "
            f"in {report.seconds:.1f} s"
        )


@tiles_app.command("clear")
def tiles_clear() -> None:
    """Empty the tile cache (tiles are built again on request)."""
    from geo.query import tile_cache

    def run(url: str) -> int:
        with _engine(url, pool_size=1) as engine, engine.begin() as conn:
            return tile_cache.clear(conn)

    typer.echo(f"Tile cache emptied: {_with_url(run)} tiles dropped.")


@tiles_app.command("stats")
def tiles_stats() -> None:
    """What the tile cache holds: tiles, empty tiles and bytes per zoom."""
    from geo.query import tile_cache

    def run(url: str) -> list[tile_cache.ZoomStats]:
        with _engine(url, pool_size=1) as engine, engine.connect() as conn:
            return tile_cache.stats(conn)

    found = _with_url(run)
    if not found:
        typer.echo("The tile cache is empty.")
        return
    typer.echo(f"{'zoom':>4} {'tiles':>8} {'empty':>8} {'bytes':>14}")
    for row in found:
        typer.echo(f"{row.z:>4} {row.tiles:>8,} {row.empty:>8,} {row.bytes:>14,}")
    typer.echo(
        f"{'all':>4} {sum(r.tiles for r in found):>8,} {sum(r.empty for r in found):>8,} "
        f"{sum(r.bytes for r in found):>14,}"
    )
