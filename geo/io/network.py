"""The road network: OSM extracts and line layers → a routable pgRouting topology.

Two readers make edge records, one builder stores them:

- ``read_osm``: an ``.osm.pbf``/``.osm`` extract read with osmium. Ways with a
  ``highway`` of a known class (and ``route=ferry``) are split at every node another kept
  way uses too: OSM's own topology, so a bridge drawn over a road without a shared node
  stays unconnected, as it should.
- ``read_lines``: any line layer pyogrio reads, with a field mapping; line ends within
  ``snap_m`` metres of another line are moved onto it, then lines are noded geometrically
  (snap rounding on a centimetre grid), so crossings become junctions, bridges included:
  a line layer does not say which crossings are grade-separated.

``build_network`` writes the network, its edges and their vertices in one transaction:
vertices come from ``pgr_extractVertices`` (the non-deprecated way in pgRouting 3.4;
``pgr_createTopology`` snaps with a tolerance we do not want, since ends already meet
exactly, and is deprecated since 3.8), ``source``/``target`` from its in/out edge lists,
and the connected components from ``pgr_connectedComponents``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import shapely
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from geo.io.files import sha256_of
from geo.kernel.crs import SRID_STORAGE
from geo.kernel.errors import InvalidInput
from geo.kernel.vocab import RoadClass
from geo.store import models
from geo.store.db import set_actor, translate_errors

_NETWORK = models.table_of(models.RoadNetwork)
_EDGE = models.table_of(models.RoadEdge)
_VERTEX = models.table_of(models.RoadVertex)

NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
DEMO_NETWORK = "thanh-hoa-demo"
DEMO_FILE = "roads.geojson"


@dataclass(frozen=True)
class Speeds:
    """Travel speeds in km/h by mode; 0 where the mode may not use the road."""

    car: float
    motorbike: float
    bicycle: float
    walking: float


# Typical speeds on Vietnamese roads (not limits): Circular 38/2024/TT-BGTVT caps cars at
# 90 km/h outside built-up areas on two-way roads and motorbikes at 70; motorbikes,
# bicycles and pedestrians may not use expressways. Ferries include boarding time.
SPEEDS: dict[RoadClass, Speeds] = {
    RoadClass.MOTORWAY: Speeds(90, 0, 0, 0),
    RoadClass.TRUNK: Speeds(60, 50, 15, 5),
    RoadClass.PRIMARY: Speeds(50, 45, 15, 5),
    RoadClass.SECONDARY: Speeds(45, 40, 15, 5),
    RoadClass.TERTIARY: Speeds(40, 35, 15, 5),
    RoadClass.UNCLASSIFIED: Speeds(30, 30, 12, 5),
    RoadClass.RESIDENTIAL: Speeds(25, 25, 12, 5),
    RoadClass.SERVICE: Speeds(15, 15, 10, 5),
    RoadClass.TRACK: Speeds(15, 20, 10, 4),
    RoadClass.PATH: Speeds(0, 0, 10, 4),
    RoadClass.FERRY: Speeds(8, 8, 8, 4),
}
# A motorbike never goes faster than this, whatever a road's limit says.
MOTORBIKE_MAX = 60.0

# OSM highway values and the class each counts as; other values are not roads to route on.
OSM_CLASSES: dict[str, RoadClass] = {
    "motorway": RoadClass.MOTORWAY,
    "motorway_link": RoadClass.MOTORWAY,
    "trunk": RoadClass.TRUNK,
    "trunk_link": RoadClass.TRUNK,
    "primary": RoadClass.PRIMARY,
    "primary_link": RoadClass.PRIMARY,
    "secondary": RoadClass.SECONDARY,
    "secondary_link": RoadClass.SECONDARY,
    "tertiary": RoadClass.TERTIARY,
    "tertiary_link": RoadClass.TERTIARY,
    "unclassified": RoadClass.UNCLASSIFIED,
    "road": RoadClass.UNCLASSIFIED,
    "residential": RoadClass.RESIDENTIAL,
    "living_street": RoadClass.RESIDENTIAL,
    "service": RoadClass.SERVICE,
    "track": RoadClass.TRACK,
    "path": RoadClass.PATH,
    "footway": RoadClass.PATH,
    "pedestrian": RoadClass.PATH,
    "cycleway": RoadClass.PATH,
    "bridleway": RoadClass.PATH,
    "steps": RoadClass.PATH,
}
_YES = {"yes", "true", "1"}


def speeds_for(road_class: RoadClass, maxspeed: int | None) -> Speeds:
    """Speeds of a class, with a posted limit lowering (or raising) the motor modes.

    Examples
    --------
    >>> speeds_for(RoadClass.PRIMARY, None).car
    50
    >>> speeds_for(RoadClass.PRIMARY, 80)
    Speeds(car=80, motorbike=60.0, bicycle=15, walking=5)
    >>> speeds_for(RoadClass.PATH, 30).car
    0
    """
    base = SPEEDS[road_class]
    if maxspeed is None:
        return base
    car = maxspeed if base.car > 0 else 0
    motorbike = min(float(maxspeed), MOTORBIKE_MAX) if base.motorbike > 0 else 0
    return Speeds(car, motorbike, base.bicycle, base.walking)


def parse_maxspeed(value: Any) -> int | None:
    """A ``maxspeed`` in km/h (``"50"``, ``"60 km/h"``, ``"30 mph"``); None if unreadable.

    Examples
    --------
    >>> parse_maxspeed("60"), parse_maxspeed("30 mph"), parse_maxspeed("VN:urban")
    (60, 48, None)
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    match = re.match(r"^\s*(\d+(?:\.\d+)?)\s*(mph|km/h|kmh)?\s*$", str(value))
    if match is None:
        return None
    speed = float(match.group(1)) * (1.609344 if match.group(2) == "mph" else 1.0)
    return round(speed) if speed > 0 else None


def parse_oneway(value: Any) -> int:
    """1 for one-way in the drawn direction, -1 against it, 0 for two-way.

    Examples
    --------
    >>> parse_oneway("yes"), parse_oneway("-1"), parse_oneway(None), parse_oneway(True)
    (1, -1, 0, 1)
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return 0
    if isinstance(value, bool | np.bool_):
        return 1 if value else 0
    text = str(value).strip().lower()
    if text in _YES or text in {"có", "mot chieu", "một chiều"}:
        return 1
    if text in {"-1", "reverse"}:
        return -1
    return 0


# -- edge records ----------------------------------------------------------------------------
@dataclass
class Edge:
    """One edge to store: a line in lon/lat, drawn in the direction a one-way allows."""

    geom: shapely.LineString
    road_class: RoadClass
    oneway: bool = False
    name: str | None = None
    ref: str | None = None
    maxspeed: int | None = None
    osm_id: int | None = None
    source_id: str | None = None
    approximate: bool = False
    source_note: str | None = None


def _oriented(coords: list[tuple[float, float]], oneway: int) -> tuple[list[Any], bool]:
    # A way one-way against its drawing is stored reversed, so "oneway" always means
    # "in the digitised direction".
    return (coords[::-1], True) if oneway == -1 else (coords, oneway == 1)


def read_osm(path: Path) -> list[Edge]:
    """Edges of an OSM extract: highway ways split at the nodes they share.

    Raises
    ------
    InvalidInput
        When the file cannot be read, or holds no way of a routable class.
    """
    import osmium

    ways: list[tuple[int, dict[str, str], list[int], list[tuple[float, float]]]] = []
    try:
        processor = osmium.FileProcessor(str(path)).with_locations()
        for obj in processor:
            if not isinstance(obj, osmium.osm.Way):
                continue
            tags = {tag.k: tag.v for tag in obj.tags}
            if tags.get("area") == "yes":
                continue
            if tags.get("highway") not in OSM_CLASSES and tags.get("route") != "ferry":
                continue
            refs: list[int] = []
            coords: list[tuple[float, float]] = []
            for node in obj.nodes:
                if not node.location.valid():
                    raise InvalidInput(
                        f"{path.name}: way {obj.id} uses node {node.ref}, which the file "
                        "does not hold (a cut extract? use osmium extract --strategy "
                        "complete_ways)"
                    )
                refs.append(node.ref)
                coords.append((node.location.lon, node.location.lat))
            if len(refs) >= 2:
                ways.append((obj.id, tags, refs, coords))
    except InvalidInput:
        raise
    except Exception as exc:  # osmium raises RuntimeError and friends for unreadable files
        raise InvalidInput(
            f"{path.name}: cannot read it as an OpenStreetMap extract ({exc})"
        ) from exc
    if not ways:
        raise InvalidInput(
            f"{path.name}: no roads in it (no way with highway=motorway … path, nor a ferry)"
        )
    uses: dict[int, int] = {}
    for _, _, refs, _ in ways:
        for ref in refs:
            uses[ref] = uses.get(ref, 0) + 1
    edges: list[Edge] = []
    for way_id, tags, refs, coords in ways:
        road_class = (
            RoadClass.FERRY if tags.get("route") == "ferry" else OSM_CLASSES[tags["highway"]]
        )
        oneway = parse_oneway(tags.get("oneway"))
        if tags.get("oneway") is None and (
            tags.get("junction") in {"roundabout", "circular"}
            or tags.get("highway") in {"motorway", "motorway_link"}
        ):
            oneway = 1  # implied by OSM's rules
        start = 0
        piece = 0
        for index in range(1, len(refs)):
            if index < len(refs) - 1 and uses[refs[index]] < 2:
                continue
            part = coords[start : index + 1]
            start = index
            if len(set(part)) < 2:
                continue  # a repeated node, no length
            piece += 1
            ordered, one = _oriented(part, oneway)
            edges.append(
                Edge(
                    geom=shapely.LineString(ordered),
                    road_class=road_class,
                    oneway=one,
                    name=tags.get("name"),
                    ref=tags.get("ref"),
                    maxspeed=parse_maxspeed(tags.get("maxspeed")),
                    osm_id=way_id,
                    source_id=f"w{way_id}/{piece}",
                )
            )
    return edges


@dataclass(frozen=True)
class FieldMapping:
    """Which field of a line layer holds each edge attribute (None: not in the file).

    ``classes`` maps the file's class values to road classes; OSM ``highway`` values and
    the class codes themselves are understood without it.
    """

    road_class: str | None = "road_class"
    oneway: str | None = "oneway"
    name: str | None = "name"
    ref: str | None = "ref"
    maxspeed: str | None = "maxspeed"
    approximate: str | None = "approximate"
    source_note: str | None = "source_note"
    classes: Mapping[str, str] = field(default_factory=dict)
    default_class: RoadClass = RoadClass.UNCLASSIFIED


def _cell(row: Mapping[str, Any], column: str | None) -> Any:
    if column is None or column not in row:
        return None
    value = row[column]
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return value


def _class_of(value: Any, mapping: FieldMapping, position: int) -> RoadClass:
    if value is None or str(value).strip() == "":
        return mapping.default_class
    text = str(value).strip()
    text = mapping.classes.get(text, text)
    known = {c.value for c in RoadClass}
    if text in known:
        return RoadClass(text)
    if text in OSM_CLASSES:
        return OSM_CLASSES[text]
    raise InvalidInput(
        f"row {position}: unknown road class {value!r} (expected one of {', '.join(sorted(known))}"
        ", an OSM highway value, or a value map)"
    )


def read_lines(
    path: Path, *, snap_m: float = 1.0, mapping: FieldMapping | None = None
) -> list[Edge]:
    """Edges of any line layer, noded where lines cross or meet within ``snap_m`` metres.

    Raises
    ------
    InvalidInput
        When the file cannot be read, says no CRS, holds anything but lines, or a value
        cannot be read.
    """
    import geopandas as gpd

    mapping = mapping or FieldMapping()
    if not snap_m > 0:
        raise InvalidInput(f"the snap tolerance must be a positive number of metres, got {snap_m}")
    try:
        frame = gpd.read_file(path, engine="pyogrio")
    except Exception as exc:  # pyogrio raises its own error types for unreadable files
        raise InvalidInput(f"{path.name}: cannot read it as a vector file ({exc})") from exc
    if frame.empty:
        raise InvalidInput(f"{path.name}: the file holds no features")
    if frame.crs is None:
        raise InvalidInput(f"{path.name}: the file does not say its CRS")
    kinds = frame.geometry.geom_type
    bad = [(i + 1, k) for i, k in enumerate(kinds) if k not in {"LineString", "MultiLineString"}]
    if bad:
        position, kind = bad[0]
        raise InvalidInput(
            f"{path.name}: row {position}: expected a line geometry, got {kind} "
            f"({len(bad)} rows are not lines)"
        )
    rows = frame.drop(columns=frame.geometry.name).to_dict(orient="records")
    attributes: list[Edge] = []
    for position, row in enumerate(rows, start=1):
        oneway = parse_oneway(_cell(row, mapping.oneway))
        attributes.append(
            Edge(
                geom=shapely.LineString(),
                road_class=_class_of(_cell(row, mapping.road_class), mapping, position),
                oneway=oneway != 0,
                name=_text(_cell(row, mapping.name)),
                ref=_text(_cell(row, mapping.ref)),
                maxspeed=parse_maxspeed(_cell(row, mapping.maxspeed)),
                source_id=str(position),
                approximate=parse_oneway(_cell(row, mapping.approximate)) == 1,
                source_note=_text(_cell(row, mapping.source_note)),
            )
        )
    metric_crs = frame.estimate_utm_crs()
    metric = frame.geometry.to_crs(metric_crs)
    # One part per line, remembering its row; -1 ways are turned round first.
    lines: list[Any] = []
    owners: list[int] = []
    for index, geom in enumerate(metric.values):
        for part in shapely.get_parts(geom):
            if attributes[index].oneway and parse_oneway(_cell(rows[index], mapping.oneway)) == -1:
                part = shapely.reverse(part)
            lines.append(part)
            owners.append(index)
    lines = _snap_ends(lines, snap_m)
    # Snap rounding on a centimetre grid: every crossing, and every end now lying on
    # another line, becomes a node that is exactly the same point in both lines.
    noded = shapely.get_parts(
        shapely.union_all(np.array(lines, dtype=object), grid_size=min(snap_m, _GRID_M))
    )
    noded = noded[~shapely.is_empty(noded) & (shapely.length(noded) > 0)]
    tree = shapely.STRtree(np.array(lines, dtype=object))
    middles = shapely.line_interpolate_point(noded, 0.5, normalized=True)
    found_piece, found_line = tree.query_nearest(middles, max_distance=snap_m * 2 + 1e-6)
    owner_of = dict(zip(found_piece.tolist(), found_line.tolist(), strict=True))
    lonlat = gpd.GeoSeries(noded, crs=metric_crs).to_crs(SRID_STORAGE).values
    edges: list[Edge] = []
    for piece_index, piece in enumerate(lonlat):
        line_index = owner_of.get(piece_index)
        if line_index is None:
            continue
        line = lines[line_index]
        geom = piece
        template = attributes[owners[line_index]]
        if template.oneway:
            # Union may draw a piece either way: keep the direction of its source line.
            start = shapely.line_locate_point(line, shapely.get_point(noded[piece_index], 0))
            end = shapely.line_locate_point(line, shapely.get_point(noded[piece_index], -1))
            if end < start:
                geom = shapely.reverse(piece)
        edges.append(
            Edge(
                geom=geom,
                road_class=template.road_class,
                oneway=template.oneway,
                name=template.name,
                ref=template.ref,
                maxspeed=template.maxspeed,
                source_id=template.source_id,
                approximate=template.approximate,
                source_note=template.source_note,
            )
        )
    return edges


_GRID_M = 0.01


def _snap_ends(lines: list[Any], snap_m: float) -> list[Any]:
    """Move each line end lying within ``snap_m`` of another line onto that line."""
    geoms = np.array(lines, dtype=object)
    ends = np.concatenate([shapely.get_point(geoms, 0), shapely.get_point(geoms, -1)])
    owner = np.concatenate([np.arange(len(geoms)), np.arange(len(geoms))])
    tree = shapely.STRtree(geoms)
    point_index, line_index = tree.query(ends, predicate="dwithin", distance=snap_m)
    other = owner[point_index] != line_index
    point_index, line_index = point_index[other], line_index[other]
    if len(point_index) == 0:
        return lines
    gaps = shapely.distance(ends[point_index], geoms[line_index])
    nearest: dict[int, tuple[float, int]] = {}
    for p, g, gap in zip(point_index.tolist(), line_index.tolist(), gaps.tolist(), strict=True):
        if gap > 0 and (p not in nearest or gap < nearest[p][0]):
            nearest[p] = (gap, g)
    snapped = list(lines)
    for p, (_, g) in nearest.items():
        target = geoms[g]
        onto = shapely.line_interpolate_point(target, shapely.line_locate_point(target, ends[p]))
        index = int(owner[p])
        coords = list(shapely.get_coordinates(snapped[index]))
        coords[0 if p < len(geoms) else -1] = shapely.get_coordinates(onto)[0]
        snapped[index] = shapely.LineString(coords)
    return snapped


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


# -- building --------------------------------------------------------------------------------
@dataclass
class NetworkReport:
    """What a build stored (or what is stored): counts, connectivity and provenance."""

    name: str
    edges: int
    vertices: int
    components: int
    largest_share: float | None
    length_km: float
    source: str | None = None
    approximate: bool = False
    built_at: dt.datetime | None = None
    built_by: str | None = None
    unchanged: bool = False

    def summary(self) -> str:
        """One readable paragraph for the command line."""
        parts = [
            f"{self.name}: {self.edges} edges, {self.vertices} vertices, {self.length_km:,.1f} km",
            f"{self.components} connected component{'s' if self.components != 1 else ''}"
            + (
                f" (the largest holds {self.largest_share:.1%} of the length)"
                if self.largest_share is not None and self.components > 1
                else ""
            ),
        ]
        if self.source:
            parts.append(f"from {self.source}")
        if self.approximate:
            parts.append("approximate")
        return "; ".join(parts)


_COLUMNS = (
    "osm_id",
    "source_id",
    "name",
    "ref",
    "road_class",
    "oneway",
    "maxspeed",
    "speed_car",
    "speed_motorbike",
    "speed_bicycle",
    "speed_walking",
    "approximate",
    "source_note",
)


def _copy_edges(conn: Connection, edges: Sequence[Edge]) -> None:
    """COPY the edges into a temporary table (numbered 1…n) for the topology to read."""
    conn.execute(
        sa.text(
            "CREATE TEMP TABLE road_build_edge ("
            "id bigint GENERATED ALWAYS AS IDENTITY, osm_id bigint, source_id text, name text, "
            "ref text, road_class text, oneway boolean, maxspeed smallint, "
            "speed_car double precision, speed_motorbike double precision, "
            "speed_bicycle double precision, speed_walking double precision, "
            "approximate boolean, source_note text, geom geometry(LineString, 4326)"
            ") ON COMMIT DROP"
        )
    )
    geoms = shapely.set_srid(np.array([e.geom for e in edges], dtype=object), SRID_STORAGE)
    wkb = shapely.to_wkb(geoms, hex=True, include_srid=True)
    raw = conn.connection.driver_connection
    assert raw is not None
    with raw.cursor() as cursor:
        # COPY: a 100 000-edge network loads in a second instead of a minute of INSERTs.
        statement = f"COPY road_build_edge ({', '.join(_COLUMNS)}, geom) FROM STDIN"
        with cursor.copy(statement) as copy:
            for edge, geom in zip(edges, wkb, strict=True):
                speeds = speeds_for(edge.road_class, edge.maxspeed)
                copy.write_row(
                    (
                        edge.osm_id,
                        edge.source_id,
                        edge.name,
                        edge.ref,
                        edge.road_class.value,
                        edge.oneway,
                        edge.maxspeed,
                        speeds.car,
                        speeds.motorbike,
                        speeds.bicycle,
                        speeds.walking,
                        edge.approximate,
                        edge.source_note,
                        geom,
                    )
                )


_TOPOLOGY = (
    # The vertices are found on the temporary copy, and each edge is written to road_edge
    # once, with its source and target: no UPDATE that would leave every row twice on disk
    # (and compute its eight generated costs twice). pgr_extractVertices numbers the
    # vertices 1…n; the offset makes them unique across networks (road_vertex is locked, so
    # two builds cannot take the same range).
    """
    CREATE TEMP TABLE road_build_vertex ON COMMIT DROP AS
    SELECT * FROM pgr_extractVertices('SELECT id, geom FROM road_build_edge')
    """,
    """
    INSERT INTO road_vertex (id, network_id, geom)
    SELECT :offset + id, :network, ST_SetSRID(geom, 4326) FROM road_build_vertex
    """,
    f"""
    INSERT INTO road_edge (network_id, {", ".join(_COLUMNS)}, source, target, geom)
    SELECT :network, {", ".join(f"e.{c}" for c in _COLUMNS)}, :offset + s.id, :offset + t.id,
        e.geom
    FROM road_build_edge e
    JOIN (SELECT id, unnest(out_edges) AS edge FROM road_build_vertex) s ON s.edge = e.id
    JOIN (SELECT id, unnest(in_edges) AS edge FROM road_build_vertex) t ON t.edge = e.id
    ORDER BY e.id
    """,
    # Dropped at once: the demo loader builds in a transaction that goes on.
    "DROP TABLE road_build_vertex, road_build_edge",
)

_COMPONENTS = """
WITH component AS (
    SELECT component, node FROM pgr_connectedComponents(
        'SELECT id, source, target, 1.0 AS cost, 1.0 AS reverse_cost FROM road_edge '
        'WHERE network_id = ' || CAST(:network AS text)
    )
), by_component AS (
    SELECT c.component, sum(e.length_m) AS length_m
    FROM road_edge e JOIN component c ON c.node = e.source
    WHERE e.network_id = :network
    GROUP BY c.component
)
SELECT count(*) AS components, max(length_m) AS largest, sum(length_m) AS total
FROM by_component
"""


def build_network(
    conn: Connection,
    edges: Sequence[Edge],
    *,
    name: str,
    source: str | None,
    source_hash: str | None,
    approximate: bool,
    actor: str,
    replace: bool = False,
) -> NetworkReport:
    """Store ``edges`` as the network ``name`` and build its topology, on ``conn``.

    The caller owns the transaction (all or nothing). With ``replace`` an existing
    network of that name is deleted first (its row's deletion is in the history).

    Raises
    ------
    InvalidInput
        For a bad name, no edges, or an existing network without ``replace``.
    """
    if not NAME_PATTERN.match(name):
        raise InvalidInput(
            f"network name {name!r}: use lowercase letters, digits and '-' (at most 63)"
        )
    if not edges:
        raise InvalidInput("the network has no edges")
    conn.execute(sa.text("LOCK TABLE road_vertex IN SHARE ROW EXCLUSIVE MODE"))
    existing = conn.execute(sa.select(_NETWORK.c.id).where(_NETWORK.c.name == name)).scalar()
    if existing is not None:
        if not replace:
            raise InvalidInput(f"a road network named {name!r} exists; use --replace")
        conn.execute(sa.delete(_NETWORK).where(_NETWORK.c.id == existing))
    network_id = conn.execute(
        sa.insert(_NETWORK)
        .values(
            name=name,
            source=source,
            source_hash=source_hash,
            approximate=approximate,
            built_by=actor,
        )
        .returning(_NETWORK.c.id)
    ).scalar_one()
    _copy_edges(conn, edges)
    offset = conn.execute(sa.select(sa.func.coalesce(sa.func.max(_VERTEX.c.id), 0))).scalar_one()
    values = {"network": network_id, "offset": offset}
    for statement in _TOPOLOGY:
        conn.execute(sa.text(statement), values)
    vertices = conn.execute(
        sa.select(sa.func.count()).select_from(_VERTEX).where(_VERTEX.c.network_id == network_id)
    ).scalar_one()
    components, largest, total = conn.execute(sa.text(_COMPONENTS), values).one()
    report = NetworkReport(
        name=name,
        edges=len(edges),
        vertices=int(vertices),
        components=int(components),
        largest_share=float(largest / total) if total else None,
        length_km=float(total or 0) / 1000.0,
        source=source,
        approximate=approximate,
        built_by=actor,
    )
    conn.execute(
        sa.update(_NETWORK)
        .where(_NETWORK.c.id == network_id)
        .values(
            edges=report.edges,
            vertices=report.vertices,
            components=report.components,
            largest_share=report.largest_share,
            length_km=report.length_km,
        )
    )
    return report


@contextlib.contextmanager
def _transaction(engine: Engine, actor: str) -> Iterator[Connection]:
    with engine.connect() as conn, translate_errors():
        with conn.begin():
            set_actor(conn, actor)
            yield conn


def read_edges(
    path: Path, *, snap_m: float = 1.0, mapping: FieldMapping | None = None
) -> list[Edge]:
    """Edges of an OSM extract (``.osm.pbf``, ``.osm``, ``.osm.bz2``…) or of a line layer."""
    if not path.is_file():
        raise InvalidInput(f"{path}: no such file")
    lowered = path.name.lower()
    if lowered.endswith((".pbf", ".osm", ".osm.bz2", ".osm.gz", ".o5m", ".opl")):
        return read_osm(path)
    return read_lines(path, snap_m=snap_m, mapping=mapping)


def default_name(path: Path) -> str:
    """A network name from a file name (``Thanh Hoa.osm.pbf`` → ``thanh-hoa``)."""
    stem = path.name.split(".")[0].lower()
    slug = re.sub(r"[^a-z0-9]+", "-", stem).strip("-")[:63]
    return slug or "roads"


def import_network(
    engine: Engine,
    path: Path,
    *,
    actor: str,
    name: str | None = None,
    replace: bool = False,
    snap_m: float = 1.0,
    mapping: FieldMapping | None = None,
    approximate: bool = False,
) -> NetworkReport:
    """Read ``path`` and build it as a road network in one transaction (all or nothing)."""
    edges = read_edges(path, snap_m=snap_m, mapping=mapping)
    with _transaction(engine, actor) as conn:
        return build_network(
            conn,
            edges,
            name=name or default_name(path),
            source=path.name,
            source_hash=sha256_of(path),
            approximate=approximate or all(e.approximate for e in edges),
            actor=actor,
            replace=replace,
        )


def load_demo_network(conn: Connection, demo_dir: Path, *, actor: str) -> tuple[int, bool]:
    """Build the demo network from ``demo_dir/roads.geojson`` unless it is built already.

    Returns the number of edges and whether anything was written (a second load of the
    same file writes nothing).
    """
    path = demo_dir / DEMO_FILE
    digest = sha256_of(path)
    row = conn.execute(
        sa.select(_NETWORK.c.source_hash, _NETWORK.c.edges).where(_NETWORK.c.name == DEMO_NETWORK)
    ).one_or_none()
    if row is not None and row.source_hash == digest:
        return int(row.edges), False
    report = build_network(
        conn,
        read_lines(path, snap_m=1.0),
        name=DEMO_NETWORK,
        source=f"data/demo/{DEMO_FILE}",
        source_hash=digest,
        approximate=True,
        actor=actor,
        replace=True,
    )
    return report.edges, True


def networks(conn: Connection) -> list[NetworkReport]:
    """Every stored network, by name."""
    rows = conn.execute(sa.select(_NETWORK).order_by(_NETWORK.c.name)).all()
    return [
        NetworkReport(
            name=row.name,
            edges=row.edges,
            vertices=row.vertices,
            components=row.components,
            largest_share=row.largest_share,
            length_km=row.length_km or 0.0,
            source=row.source,
            approximate=row.approximate,
            built_at=row.built_at,
            built_by=row.built_by,
        )
        for row in rows
    ]
