"""Routes for the hand-out tests, with the designer's columns filled by hand (SQL).

The designer (geo.workflows.route_design) is another part of issue 15; these tests need
only what it stores, so they store it themselves: a road-shaped line, each leg's kind,
note, length and time, and the timetable over two days.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from tests.factories import make_route, make_stop, make_village

HOSTILE = '<script>alert(1)</script> & "Trà Đông"'

# Stops west of Thanh Hóa city, in the order of travel.
STOPS = (
    ("Làng chiếu cói Nga Sơn", (105.9712345, 20.0034567)),
    ("Làng đá Nhồi", (105.8423456, 19.8345678)),
    ("Làng gốm Lò Chum", (105.7834567, 19.7856789)),
    ("Bến đò Hoằng Phụ", (105.8845678, 19.7567891)),
    ("Làng nón lá Trường Giang", (105.6956789, 19.6678912)),
)
# The road line: stop to stop with bends between, first stop first.
ROAD_LINE = (
    STOPS[0][1],
    (105.95, 19.97),
    (105.91, 19.95),
    (105.88, 19.90),
    (105.86, 19.86),
    STOPS[1][1],
    STOPS[2][1],  # the geodesic fallback leg: straight
    STOPS[3][1],  # the boat leg: straight
    (105.84, 19.73),
    (105.79, 19.71),
    (105.74, 19.69),
    STOPS[4][1],
)


@dataclass
class Designed:
    """A designed route (line_source 'roads') and its stop names in order."""

    id: int
    code: str
    names: list[str]
    line: tuple[tuple[float, float], ...]


def _line(points: tuple[tuple[float, float], ...]) -> str:
    return json.dumps({"type": "LineString", "coordinates": [list(p) for p in points]})


# Per stop: leg kind, note, km, min, day, arrive, depart, wait, window problem, overnight.
_TIMETABLE = (
    (None, None, None, None, 1, "08:00", "09:00", 0, None, False),
    ("road", None, 24.6, 31.0, 1, "09:31", "10:31", 0, None, False),
    (
        "geodesic",
        "không nối được với mạng đường",
        7.9,
        14.0,
        1,
        "10:45",
        "16:45",
        None,
        "đến 10:45, mở cửa 13:00–16:00: không kịp",
        True,
    ),
    ("boat", None, 11.2, 45.0, 2, "08:45", "09:45", 15.0, None, False),
    ("road", None, 27.3, 38.0, 2, "10:23", "11:23", 0, None, False),
)


def designed_route(
    conn: Connection, *, first_name: str | None = None, code: str | None = None
) -> Designed:
    """The five-stop route of ``STOPS`` as the designer would have stored it: road legs,
    one geodesic fallback (its window missed, overnight after it), one boat leg, 2 days."""
    names = [n for n, _ in STOPS]
    if first_name is not None:
        names[0] = first_name
    village = make_village(conn, at=STOPS[0][1], name="Làng chiếu cói Nga Sơn")
    props = {"name": "Tuyến làng nghề ven biển Nga Sơn – sông Mã", "mode": "car"}
    if code:
        props["code"] = code
    route_id = make_route(conn, description="Hai ngày qua năm làng nghề.", **props)
    for seq, ((_, at), name) in enumerate(zip(STOPS, names, strict=True), start=1):
        extra = {"village_id": village, "name": first_name} if seq == 1 else {"name": name}
        make_stop(conn, route_id, seq, at=at, dwell_min=60, **extra)
    for seq, row in enumerate(_TIMETABLE, start=1):
        kind, note, km, minutes, day, arrive, depart, wait, problem, overnight = row
        leg = None
        if kind in ("geodesic", "boat"):
            leg = _line((STOPS[seq - 2][1], STOPS[seq - 1][1]))
        conn.execute(
            sa.text(
                "UPDATE route_stop SET leg_kind = :kind, leg_note = :note, leg_km = :km,"
                " leg_min = :min, day = :day, arrive_at = :arrive, depart_at = :depart,"
                " wait_min = :wait, window_problem = :problem, overnight = :overnight,"
                " leg_mode = :mode,"
                " opens = :opens, closes = :closes,"
                " leg_geom = ST_SetSRID(ST_GeomFromGeoJSON(CAST(:leg AS text)), 4326)"
                " WHERE route_id = :rid AND seq = :seq"
            ),
            {
                "kind": kind,
                "mode": "boat" if kind == "boat" else None,
                "note": note,
                "km": km,
                "min": minutes,
                "day": day,
                "arrive": dt.time.fromisoformat(arrive),
                "depart": dt.time.fromisoformat(depart),
                "wait": wait,
                "problem": problem,
                "overnight": overnight,
                "leg": leg,
                "opens": dt.time(13) if seq == 3 else None,
                "closes": dt.time(16) if seq == 3 else None,
                "rid": route_id,
                "seq": seq,
            },
        )
    conn.execute(
        sa.text(
            "UPDATE tourism_route SET line_source = 'roads', drive_min = 128, "
            "duration_min = 1843, days = 2, start_time = '08:00', "
            "geom = ST_SetSRID(ST_GeomFromGeoJSON(:line), 4326) WHERE id = :rid"
        ),
        {"line": _line(ROAD_LINE), "rid": route_id},
    )
    found = conn.execute(
        sa.text("SELECT code FROM tourism_route WHERE id = :rid"), {"rid": route_id}
    ).scalar_one()
    if first_name is None:
        names[0] = "Làng chiếu cói Nga Sơn"
    return Designed(route_id, found, names, ROAD_LINE)


def plain_route(conn: Connection) -> int:
    """A route never designed: line_source 'stops', straight segments, no timetable."""
    route_id = make_route(conn, name="Tuyến chưa thiết kế", mode="motorbike", description="Đi thử.")
    for seq, (name, at) in enumerate(STOPS[:3], start=1):
        make_stop(conn, route_id, seq, at=at, name=name, dwell_min=30)
    return route_id


def long_route(conn: Connection) -> int:
    """Fifteen stops over two days, designed: the printed timetable must stay legible."""
    route_id = make_route(conn, name="Tuyến dài mười lăm điểm qua các huyện miền xuôi")
    line = []
    clock = dt.datetime(2026, 1, 1, 8, 0)
    for seq in range(1, 16):
        at = (105.40 + 0.04 * seq, 19.70 + 0.03 * ((seq * 7) % 5))
        line.append(at)
        make_stop(conn, route_id, seq, at=at, name=f"Làng nghề truyền thống số {seq}", dwell_min=40)
        day = 1 if seq <= 8 else 2
        if seq == 9:
            clock = dt.datetime(2026, 1, 2, 8, 0)
        arrive = clock
        depart = arrive + dt.timedelta(minutes=40)
        conn.execute(
            sa.text(
                "UPDATE route_stop SET day = :day, arrive_at = :a, depart_at = :d,"
                " leg_kind = :kind, leg_km = :km, leg_min = :min, wait_min = 0,"
                " overnight = :overnight WHERE route_id = :rid AND seq = :seq"
            ),
            {
                "day": day,
                "a": arrive.time(),
                "d": depart.time(),
                "kind": "road" if seq > 1 else None,
                "km": 9.5 if seq > 1 else None,
                "min": 17.0 if seq > 1 else None,
                "overnight": seq == 8,
                "seq": seq,
                "rid": route_id,
            },
        )
        clock = depart + dt.timedelta(minutes=17)
    conn.execute(
        sa.text(
            "UPDATE tourism_route SET line_source = 'roads', drive_min = 238, "
            "duration_min = 1900, days = 2, "
            "geom = ST_SetSRID(ST_GeomFromGeoJSON(:line), 4326) WHERE id = :rid"
        ),
        {"line": _line(tuple(line)), "rid": route_id},
    )
    return route_id
