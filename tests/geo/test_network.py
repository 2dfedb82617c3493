"""The road network: OSM and line-layer imports build a topology pgRouting routes on.

The OSM graph (lon/lat, around 105°E 20°N):

    F (bridge, trunk)
    |            D ──W3 one-way──▶ E
    |            │                 │
    |         W2 residential    W4 tertiary
    |            │                 │
    A ───W1 primary── B ──W1─────── C
    |
    G

W1 A–B–C shares B with W2; W3 runs D→E only; W4 joins E and C. W5 (F–G) crosses W1
between A and B without a shared node: a bridge, so it must stay unconnected. Lengths
are computed here with pyproj's Geod (independently of PostGIS), speeds are the table's.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import osmium
import pytest
import sqlalchemy as sa
from pyproj import Geod
from sqlalchemy.engine import Connection

from geo.io import network
from geo.kernel.errors import InvalidInput
from geo.kernel.vocab import RoadClass
from geo.store import migrate
from geo.store.db import set_actor
from tests import DEMO_DIR
from tests.test_cli import invoke_cli, run_cli

GEOD = Geod(ellps="WGS84")
NODES = {
    "A": (1, 105.000, 20.000),
    "B": (2, 105.010, 20.000),
    "C": (3, 105.020, 20.000),
    "D": (4, 105.010, 20.010),
    "E": (5, 105.020, 20.010),
    "F": (6, 105.005, 19.995),
    "G": (7, 105.005, 20.015),
    "H": (8, 105.030, 20.030),  # a building's corner: not a road
    "I": (9, 105.031, 20.030),
}


def _write_osm(path: Path, *, ways: list[tuple[int, str, dict[str, str]]]) -> Path:
    with osmium.SimpleWriter(str(path)) as writer:
        for _, (node_id, lon, lat) in sorted(NODES.items(), key=lambda kv: kv[1][0]):
            writer.add_node(osmium.osm.mutable.Node(id=node_id, location=(lon, lat), tags={}))
        for way_id, letters, tags in ways:
            writer.add_way(
                osmium.osm.mutable.Way(
                    id=way_id, nodes=[NODES[letter][0] for letter in letters], tags=tags
                )
            )
    return path


WAYS = [
    (11, "ABC", {"highway": "primary", "name": "Quốc lộ thử", "ref": "QL99"}),
    (12, "BD", {"highway": "residential"}),
    (13, "DE", {"highway": "secondary", "oneway": "yes"}),
    (14, "EC", {"highway": "tertiary"}),
    (15, "FG", {"highway": "trunk", "bridge": "yes", "layer": "1"}),
    (16, "HI", {"building": "yes"}),
]


@pytest.fixture(scope="module")
def osm_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _write_osm(tmp_path_factory.mktemp("osm") / "test.osm.pbf", ways=WAYS)


def _metres(*letters: str) -> float:
    lons = [NODES[x][1] for x in letters]
    lats = [NODES[x][2] for x in letters]
    return float(GEOD.line_length(lons, lats))


def _seconds(metres: float, kmh: float) -> float:
    return metres / (kmh / 3.6)


def _build(
    conn: Connection, edges: list[network.Edge], name: str
) -> tuple[int, network.NetworkReport]:
    set_actor(conn, "test")
    report = network.build_network(
        conn, edges, name=name, source="test", source_hash=None, approximate=False, actor="test"
    )
    network_id = conn.execute(
        sa.text("SELECT id FROM road_network WHERE name = :n"), {"n": name}
    ).scalar_one()
    return network_id, report


def _vertex(conn: Connection, network_id: int, letter: str) -> int:
    _, lon, lat = NODES[letter]
    return int(
        conn.execute(
            sa.text(
                "SELECT id FROM road_vertex WHERE network_id = :n "
                "AND ST_DWithin(geom, ST_SetSRID(ST_Point(:lon, :lat), 4326), 1e-7)"
            ),
            {"n": network_id, "lon": lon, "lat": lat},
        ).scalar_one()
    )


def _dijkstra(
    conn: Connection, network_id: int, start: str, end: str, mode: str
) -> tuple[list[str], float]:
    """The edges (by source id) and total seconds of pgRouting's shortest path."""
    rows = conn.execute(
        sa.text(
            "SELECT e.source_id, p.agg_cost, p.cost FROM pgr_dijkstra("
            f"'SELECT id, source, target, cost_{mode} AS cost, reverse_cost_{mode} AS "
            "reverse_cost FROM road_edge WHERE network_id = ' || CAST(:n AS text), "
            ":a, :b, directed => true) p JOIN road_edge e ON e.id = p.edge ORDER BY p.seq"
        ),
        {
            "n": network_id,
            "a": _vertex(conn, network_id, start),
            "b": _vertex(conn, network_id, end),
        },
    ).all()
    return [r.source_id for r in rows], sum(float(r.cost) for r in rows)


def test_osm_extract_builds_the_hand_counted_topology(
    connection: Connection, osm_file: Path
) -> None:
    edges = network.read_osm(osm_file)
    # W1 splits at B (shared with W2); the bridge W5 is not split where it crosses W1.
    assert sorted(e.source_id or "" for e in edges) == [
        "w11/1",
        "w11/2",
        "w12/1",
        "w13/1",
        "w14/1",
        "w15/1",
    ]
    network_id, report = _build(connection, edges, "test-osm")
    assert (report.edges, report.vertices) == (6, 7)  # A B C D E, and F G of the bridge
    assert report.components == 2
    main = sum(_metres(*p) for p in ("AB", "BC", "BD", "DE", "EC"))
    assert report.largest_share == pytest.approx(main / (main + _metres("F", "G")), rel=1e-6)
    row = connection.execute(
        sa.text(
            "SELECT name, ref, road_class, oneway, length_m, speed_car FROM road_edge "
            "WHERE network_id = :n AND source_id = 'w11/1'"
        ),
        {"n": network_id},
    ).one()
    assert (row.name, row.ref, row.road_class, row.oneway) == (
        "Quốc lộ thử",
        "QL99",
        "primary",
        False,
    )
    assert row.length_m == pytest.approx(_metres("A", "B"), abs=0.01)
    assert row.speed_car == 50
    # The network's own row is in the history, with the actor.
    actors = connection.execute(
        sa.text(
            "SELECT DISTINCT actor FROM feature_history WHERE table_name = 'road_network' "
            "AND feature_id = CAST(:n AS text)"
        ),
        {"n": network_id},
    ).scalars()
    assert list(actors) == ["test"]


def test_dijkstra_finds_the_hand_computed_paths(connection: Connection, osm_file: Path) -> None:
    network_id, _ = _build(connection, network.read_osm(osm_file), "test-dijkstra")
    car = network.SPEEDS
    # A → E by car: A–B–C (primary, 50) then C–E (tertiary, 40) beats A–B–D–E, which
    # takes the slow residential B–D: 250 s against 318 s.
    path, seconds = _dijkstra(connection, network_id, "A", "E", "car")
    assert path == ["w11/1", "w11/2", "w14/1"]
    expected = (
        _seconds(_metres("A", "B"), car[RoadClass.PRIMARY].car)
        + _seconds(_metres("B", "C"), car[RoadClass.PRIMARY].car)
        + _seconds(_metres("C", "E"), car[RoadClass.TERTIARY].car)
    )
    assert seconds == pytest.approx(expected, abs=0.01)
    assert 249 < seconds < 252
    # D → E by car goes the one-way's way: the one edge.
    assert _dijkstra(connection, network_id, "D", "E", "car")[0] == ["w13/1"]
    # E → D by car may not take the one-way backwards: round by C and B.
    path, seconds = _dijkstra(connection, network_id, "E", "D", "car")
    assert path == ["w14/1", "w11/2", "w12/1"]
    assert seconds == pytest.approx(
        _seconds(_metres("E", "C"), car[RoadClass.TERTIARY].car)
        + _seconds(_metres("C", "B"), car[RoadClass.PRIMARY].car)
        + _seconds(_metres("B", "D"), car[RoadClass.RESIDENTIAL].car),
        abs=0.01,
    )
    assert _dijkstra(connection, network_id, "E", "D", "motorbike")[0] == path
    # On foot the one-way does not bind: E → D directly, at 5 km/h.
    path, seconds = _dijkstra(connection, network_id, "E", "D", "walking")
    assert path == ["w13/1"]
    assert seconds == pytest.approx(_seconds(_metres("D", "E"), 5), abs=0.01)
    # The bridge crosses W1 without a junction: nothing routes from A onto it.
    assert _dijkstra(connection, network_id, "A", "F", "walking")[0] == []


def test_oneway_against_the_drawing_is_stored_reversed(tmp_path: Path) -> None:
    path = _write_osm(
        tmp_path / "reverse.osm",
        ways=[(21, "ABC", {"highway": "primary", "oneway": "-1"})],
    )
    (edge,) = network.read_osm(path)
    assert edge.oneway
    assert list(edge.geom.coords) == [NODES["C"][1:], NODES["B"][1:], NODES["A"][1:]]


def _line_layer(path: Path, features: list[dict[str, Any]]) -> Path:
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


def _line(coords: list[tuple[float, float]], **props: Any) -> dict[str, Any]:
    return {
        "type": "Feature",
        "properties": props,
        "geometry": {"type": "LineString", "coordinates": coords},
    }


def test_line_layer_is_noded_where_lines_cross(connection: Connection, tmp_path: Path) -> None:
    path = _line_layer(
        tmp_path / "cross.geojson",
        [
            _line([(105.0, 20.0), (105.02, 20.0)], road_class="primary", name="Đường ngang"),
            _line([(105.01, 19.99), (105.01, 20.01)], highway="track", name="Đường dọc"),
        ],
    )
    mapping = network.FieldMapping(road_class="road_class")
    edges = network.read_lines(path, snap_m=1.0, mapping=mapping)
    # Only the first row has road_class; the second's class falls back to the default.
    assert len(edges) == 4
    network_id, report = _build(connection, edges, "test-lines")
    assert (report.edges, report.vertices, report.components) == (4, 5, 1)
    names = connection.execute(
        sa.text("SELECT name, count(*) FROM road_edge WHERE network_id = :n GROUP BY name"),
        {"n": network_id},
    ).all()
    assert dict(names) == {"Đường ngang": 2, "Đường dọc": 2}


def test_line_layer_ends_within_the_snap_distance_meet(
    connection: Connection, tmp_path: Path
) -> None:
    # The second line stops 0.3 m short of the first (0.3 m ≈ 2.7e-6° of latitude).
    features = [
        _line([(105.0, 20.0), (105.02, 20.0)], road_class="primary"),
        _line([(105.01, 20.01), (105.01, 20.0000027)], road_class="tertiary"),
    ]
    path = _line_layer(tmp_path / "tee.geojson", features)
    _, report = _build(connection, network.read_lines(path, snap_m=1.0), "test-tee")
    assert (report.edges, report.components) == (3, 1)
    _, loose = _build(connection, network.read_lines(path, snap_m=0.1), "test-tee-loose")
    assert (loose.edges, loose.components) == (2, 2)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "cannot read it as an OpenStreetMap extract"),
        (None, "no roads in it"),
    ],
    ids=["empty-file", "no-highways"],
)
def test_bad_osm_files_are_refused(tmp_path: Path, content: bytes | None, expected: str) -> None:
    if content is None:
        path = _write_osm(tmp_path / "buildings.osm.pbf", ways=[(16, "HI", {"building": "yes"})])
    else:
        path = tmp_path / "empty.osm.pbf"
        path.write_bytes(content)
    with pytest.raises(InvalidInput, match=expected):
        network.read_osm(path)


def test_points_are_not_a_line_layer(tmp_path: Path) -> None:
    path = _line_layer(
        tmp_path / "points.geojson",
        [
            {
                "type": "Feature",
                "properties": {},
                "geometry": {"type": "Point", "coordinates": [105, 20]},
            }
        ],
    )
    with pytest.raises(InvalidInput, match="row 1: expected a line geometry, got Point"):
        network.read_lines(path)


def test_demo_network_connects_every_demo_town_and_village(connection: Connection) -> None:
    network_id = connection.execute(
        sa.text("SELECT id FROM road_network WHERE name = :n"), {"n": network.DEMO_NETWORK}
    ).scalar_one()
    stored = connection.execute(
        sa.text("SELECT components, largest_share, approximate FROM road_network WHERE id = :n"),
        {"n": network_id},
    ).one()
    assert stored.components == 1 and stored.largest_share == pytest.approx(1.0)
    assert stored.approximate
    assert connection.execute(
        sa.text(
            "SELECT bool_and(approximate AND source_note IS NOT NULL) FROM road_edge "
            "WHERE network_id = :n"
        ),
        {"n": network_id},
    ).scalar_one()
    refs = set(
        connection.execute(
            sa.text("SELECT DISTINCT ref FROM road_edge WHERE network_id = :n AND ref IS NOT NULL"),
            {"n": network_id},
        ).scalars()
    )
    assert {"QL1", "QL10", "QL45", "QL47", "QL217", "HCM"} <= refs
    # Every demo village lies within 10 km of a road (their points are commune centres,
    # up to ±17 km themselves), and the district towns of the demo sit on the network.
    far = connection.execute(
        sa.text(
            "SELECT v.code, min(ST_Distance(v.geom::geography, e.geom::geography)) AS m "
            "FROM craft_village v CROSS JOIN road_edge e WHERE e.network_id = :n "
            "GROUP BY v.code HAVING min(ST_Distance(v.geom::geography, e.geom::geography)) > 10000"
        ),
        {"n": network_id},
    ).all()
    assert far == []
    towns = [
        (105.845176, 19.992977),  # TT Hà Trung
        (105.971457, 20.004555),  # TT Nga Sơn
        (105.521061, 19.933874),  # TT Thọ Xuân
        (104.591749, 20.520061),  # TT Mường Lát
        (105.226063, 20.350777),  # TT Cành Nàng (Bá Thước)
        (105.651517, 19.62552),  # TT Nông Cống
        (105.902432, 19.749118),  # Sầm Sơn
    ]
    for lon, lat in towns:
        on_road = connection.execute(
            sa.text(
                "SELECT count(*) FROM road_edge WHERE network_id = :n AND ST_DWithin("
                "geom::geography, ST_SetSRID(ST_Point(:lon, :lat), 4326)::geography, 1)"
            ),
            {"n": network_id, "lon": lon, "lat": lat},
        ).scalar_one()
        assert on_road >= 1, (lon, lat)


def test_cli_import_info_and_bad_input(
    fresh_database_url: str, osm_file: Path, tmp_path: Path
) -> None:
    migrate.upgrade(fresh_database_url)
    env = {"DATABASE_URL": fresh_database_url}
    # The one real `craftmap` process of this file (the entry point); the rest run in this
    # process (tests.test_cli.invoke_cli).
    out = run_cli("network", "import", str(osm_file), "--name", "test", env=env).stdout
    assert "test: 6 edges, 7 vertices" in out and "2 connected components" in out
    again = invoke_cli("network", "import", str(osm_file), "--name", "test", env=env, check=False)
    assert again.returncode == 1 and "exists; use --replace" in again.stderr
    assert "test: 6 edges" in invoke_cli("network", "info", env=env).stdout

    empty = tmp_path / "empty.osm.pbf"
    empty.write_bytes(b"")
    points = _line_layer(
        tmp_path / "points.geojson",
        [
            {
                "type": "Feature",
                "properties": {},
                "geometry": {"type": "Point", "coordinates": [105, 20]},
            }
        ],
    )
    for bad, message in ((empty, "cannot read it"), (points, "expected a line geometry")):
        result = invoke_cli("network", "import", str(bad), "--name", "bad", env=env, check=False)
        assert result.returncode == 1 and message in result.stderr
        assert "Traceback" not in result.stderr
    # Nothing of the bad files was written.
    info = invoke_cli("network", "info", env=env).stdout
    assert "bad" not in info and info.count("edges") == 1


def test_demo_roads_file_is_marked_approximate() -> None:
    features = json.loads((DEMO_DIR / network.DEMO_FILE).read_text(encoding="utf-8"))["features"]
    assert all(f["properties"]["approximate"] is True for f in features)
    assert all("gần đúng" in f["properties"]["source_note"] for f in features)
