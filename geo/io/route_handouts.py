"""What tourism staff hand a guide: a route as GPX 1.1, KML or KMZ, and its timetable in words.

The builders are pure: they take a ``RoutePlan`` (plain values) and return bytes. One
loader (``load_plan``) reads a route and its stops from PostGIS, with what the route
designer stored (the road line, each leg's kind, length and time, the timetable). A route
never designed still gives a file: its line joins the stops and its times are left out,
saying so.

XML is written with lxml, so every name and note is text in the file, never markup; the
KML balloon (``description``) is HTML, so its text is HTML-escaped before it goes in.

GPX's ``<extensions>`` carry the dwell time, the timetable and the leg of each stop under
the namespace ``EXTENSIONS_NS`` (``cm:`` prefix), which GPX 1.1 lets readers skip.
"""

from __future__ import annotations

import datetime as dt
import html
import io
import json
import math
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import sqlalchemy as sa

from geo.kernel import vocab
from geo.kernel.errors import NotFound
from geo.kernel.route_notes import note_text
from geo.kernel.text import Text, number
from geo.store.db import Connection

if TYPE_CHECKING:
    from lxml import etree  # type: ignore[import-untyped]

GPX_NS = "http://www.topografix.com/GPX/1/1"
KML_NS = "http://www.opengis.net/kml/2.2"
# craftmap's own GPX extension elements (dwell, timetable, legs): a URN, not a URL, as no
# schema is published for them (GPX 1.1 reads extensions laxly).
EXTENSIONS_NS = "urn:craftmap:gpx:route:1"

MEDIA_TYPES = {
    "gpx": "application/gpx+xml",
    "kml": "application/vnd.google-earth.kml+xml",
    "kmz": "application/vnd.google-earth.kmz",
}
FORMATS = tuple(MEDIA_TYPES)

LonLat = tuple[float, float]

WORDS: dict[str, Text] = {
    "day": Text("Ngày {day}", "Day {day}"),
    "arrive": Text("Đến {time}", "Arrive {time}"),
    "leave": Text("đi {time}", "leave {time}"),
    "dwell": Text("dừng {minutes} phút", "{minutes} min stop"),
    "wait": Text("chờ mở cửa {minutes} phút", "{minutes} min wait for opening"),
    "hours": Text("mở cửa {opens}–{closes}", "open {opens}–{closes}"),
    "overnight": Text("nghỉ đêm tại đây", "overnight here"),
    "leg": Text("chặng đến đây: {km} km, {minutes} phút", "leg here: {km} km, {minutes} min"),
    "road": Text("theo đường bộ", "along the roads"),
    "geodesic": Text("đường thẳng — không có đường bộ", "straight line — no road"),
    "boat": Text("đi thuyền — đường thẳng", "by boat — straight line"),
    "missed": Text("Không kịp giờ mở cửa: {problem}", "Opening hours missed: {problem}"),
    "not_computed": Text(
        "Chưa tính giờ: tuyến chưa được thiết kế theo đường bộ "
        "(thời lượng ước tính với {speed} km/giờ).",
        "Times not computed: the route has not been designed along the roads "
        "(duration estimated at {speed} km/h).",
    ),
    "stops": Text("Điểm dừng", "Stops"),
    "line": Text("Lộ trình", "Route line"),
    "straight_legs": Text("Chặng đường thẳng", "Straight legs"),
    "page": Text("Trang của tuyến", "The route's page"),
    "village": Text("làng nghề", "craft village"),
    "stop": Text("điểm dừng", "stop"),
}


@dataclass(frozen=True)
class PlanStop:
    """One stop as a guide needs it: where, how long, when, and the leg that reaches it."""

    seq: int
    name: str
    lon: float
    lat: float
    is_village: bool = False
    dwell_min: int = 0
    opens: dt.time | None = None
    closes: dt.time | None = None
    overnight: bool = False
    leg_kind: str | None = None  # vocab.LegKind; None on the first stop or undesigned
    leg_note: str | None = None
    leg_km: float | None = None
    leg_min: float | None = None
    leg_line: tuple[LonLat, ...] = ()
    day: int | None = None
    arrive_at: dt.time | None = None
    depart_at: dt.time | None = None
    wait_min: float | None = None
    window_problem: str | None = None


@dataclass(frozen=True)
class RoutePlan:
    """A route with its line (in the direction of travel) and its stops in order."""

    id: int
    code: str
    name: str
    mode: str
    line_source: str = vocab.LineSource.STOPS.value
    description: str | None = None
    start_time: dt.time = dt.time(8, 0)
    length_km: float | None = None
    drive_min: float | None = None
    duration_min: float | None = None
    days: int | None = None
    line: tuple[LonLat, ...] = ()
    stops: tuple[PlanStop, ...] = ()

    @property
    def timed(self) -> bool:
        """Whether the designer computed the timetable (else its times are not shown)."""
        return any(s.arrive_at is not None for s in self.stops)

    def travel_line(self) -> tuple[LonLat, ...]:
        """The line from the first stop to the last: the stored line, turned round when
        it was stored last stop first, or the stops joined when there is none."""
        if len(self.line) < 2:
            return tuple((s.lon, s.lat) for s in self.stops)
        if len(self.stops) < 2:
            return self.line
        first, last = self.stops[0], self.stops[-1]
        forward = _far(self.line[0], first) + _far(self.line[-1], last)
        backward = _far(self.line[-1], first) + _far(self.line[0], last)
        return self.line if forward <= backward else tuple(reversed(self.line))


def _far(point: LonLat, stop: PlanStop) -> float:
    # Enough to tell the line's two ends apart: planar degrees, scaled for longitude.
    return math.hypot((point[0] - stop.lon) * math.cos(math.radians(stop.lat)), point[1] - stop.lat)


# -- words -----------------------------------------------------------------------------------


def clock(value: dt.time | None) -> str:
    """A clock time as written on the timetable, ``08:30`` (``—`` when unknown)."""
    return value.strftime("%H:%M") if value is not None else "—"


def minutes(value: float | None) -> int:
    """Whole minutes, rounded (0 when unknown)."""
    return 0 if value is None or value != value else int(round(value))


def leg_words(stop: PlanStop, lang: str) -> str | None:
    """How the leg reaching ``stop`` was drawn, when it is not along the roads."""
    if stop.leg_kind == vocab.LegKind.GEODESIC:
        kind = WORDS["geodesic"](lang)
    elif stop.leg_kind == vocab.LegKind.BOAT:
        kind = WORDS["boat"](lang)
    else:
        return None
    return f"{kind} ({note_text(stop.leg_note, lang)})" if stop.leg_note else kind


def stop_description(stop: PlanStop, lang: str, *, timed: bool) -> str:
    """The stop's times, dwell, hours, leg and any missed window, in one line of words."""
    parts = []
    if timed and stop.arrive_at is not None:
        when = WORDS["arrive"].format(time=clock(stop.arrive_at))(lang)
        if stop.day is not None:
            when = f"{WORDS['day'].format(day=stop.day)(lang)}: {when}"
        parts.append(f"{when}, {WORDS['leave'].format(time=clock(stop.depart_at))(lang)}")
    parts.append(WORDS["dwell"].format(minutes=stop.dwell_min)(lang))
    if stop.opens is not None or stop.closes is not None:
        hours = WORDS["hours"].format(opens=clock(stop.opens), closes=clock(stop.closes))
        parts.append(hours(lang))
    if minutes(stop.wait_min):
        parts.append(WORDS["wait"].format(minutes=minutes(stop.wait_min))(lang))
    if stop.leg_km is not None and stop.leg_min is not None:
        leg = WORDS["leg"].format(
            km=number(float(stop.leg_km), lang, 1), minutes=minutes(stop.leg_min)
        )
        parts.append(leg(lang))
    fallback = leg_words(stop, lang)
    if fallback:
        parts.append(fallback)
    if stop.overnight:
        parts.append(WORDS["overnight"](lang))
    if stop.window_problem:
        parts.append(WORDS["missed"].format(problem=note_text(stop.window_problem, lang))(lang))
    return "; ".join(parts)


def route_description(plan: RoutePlan, lang: str, speed_kmh: float) -> str:
    """The route's description, and a plain warning when its times are not computed."""
    parts = [plan.description] if plan.description else []
    if not plan.timed:
        parts.append(WORDS["not_computed"].format(speed=number(speed_kmh, lang, 0))(lang))
    return "\n".join(parts)


# -- GPX 1.1 ---------------------------------------------------------------------------------


def _sub(parent: etree._Element, ns: str, tag: str, text: str | None = None) -> etree._Element:
    from lxml import etree

    element = etree.SubElement(parent, f"{{{ns}}}{tag}")
    if text is not None:
        element.text = text
    return element


def _degrees(value: float) -> str:
    return f"{value:.7f}"


def gpx(
    plan: RoutePlan,
    *,
    page_url: str,
    lang: str = "vi",
    speed_kmh: float = 40.0,
    now: dt.datetime | None = None,
) -> bytes:
    """The route as GPX 1.1: metadata, a waypoint per stop, the route, the track.

    The track follows the stored line from the first stop to the last; each waypoint
    says its times and dwell in ``<desc>`` and again as values in ``<extensions>``.
    """
    from lxml import etree

    root = etree.Element(
        f"{{{GPX_NS}}}gpx", nsmap={None: GPX_NS, "cm": EXTENSIONS_NS}, version="1.1"
    )
    root.set("creator", "craftmap")
    metadata = _sub(root, GPX_NS, "metadata")
    _sub(metadata, GPX_NS, "name", plan.name)
    description = route_description(plan, lang, speed_kmh)
    if description:
        _sub(metadata, GPX_NS, "desc", description)
    link = _sub(metadata, GPX_NS, "link")
    link.set("href", page_url)
    _sub(link, GPX_NS, "text", WORDS["page"](lang))
    stamp = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).replace(microsecond=0)
    _sub(metadata, GPX_NS, "time", stamp.isoformat().replace("+00:00", "Z"))
    for stop in plan.stops:
        _point(root, "wpt", stop, plan, lang)
    rte = _sub(root, GPX_NS, "rte")
    _sub(rte, GPX_NS, "name", plan.name)
    _sub(rte, GPX_NS, "number", "1")
    for stop in plan.stops:
        _point(rte, "rtept", stop, plan, lang)
    trk = _sub(root, GPX_NS, "trk")
    _sub(trk, GPX_NS, "name", plan.name)
    _sub(trk, GPX_NS, "type", plan.mode)
    segment = _sub(trk, GPX_NS, "trkseg")
    for lon, lat in plan.travel_line():
        _coordinate(_sub(segment, GPX_NS, "trkpt"), lon, lat)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def _coordinate(element: etree._Element, lon: float, lat: float) -> etree._Element:
    element.set("lat", _degrees(lat))
    element.set("lon", _degrees(lon))
    return element


def _point(parent: etree._Element, tag: str, stop: PlanStop, plan: RoutePlan, lang: str) -> None:
    # Children in the order of the schema's wptType: name, desc, sym, type, extensions.
    point = _coordinate(_sub(parent, GPX_NS, tag), stop.lon, stop.lat)
    _sub(point, GPX_NS, "name", stop.name)
    _sub(point, GPX_NS, "desc", stop_description(stop, lang, timed=plan.timed))
    _sub(point, GPX_NS, "sym", "Flag, Blue" if stop.is_village else "Waypoint")
    _sub(point, GPX_NS, "type", "village" if stop.is_village else "stop")
    extensions = _sub(point, GPX_NS, "extensions")
    values: list[tuple[str, object]] = [("seq", stop.seq), ("dwell_min", stop.dwell_min)]
    if plan.timed:
        values += [
            ("day", stop.day),
            ("arrive", clock(stop.arrive_at) if stop.arrive_at else None),
            ("depart", clock(stop.depart_at) if stop.depart_at else None),
            ("wait_min", minutes(stop.wait_min) if stop.wait_min is not None else None),
        ]
    values += [
        ("overnight", "true" if stop.overnight else None),
        ("leg_kind", stop.leg_kind),
        ("leg_km", f"{stop.leg_km:.3f}" if stop.leg_km is not None else None),
        ("leg_min", f"{stop.leg_min:.1f}" if stop.leg_min is not None else None),
        ("leg_note", stop.leg_note),
        ("window_problem", stop.window_problem),
    ]
    for name, value in values:
        if value is not None:
            _sub(extensions, EXTENSIONS_NS, name, str(value))


# -- KML and KMZ -----------------------------------------------------------------------------

# KML colours are aabbggrr: the route red as on the web map, fallback legs orange.
_STYLES = {
    "stop": ("ff1f30d7", None),
    "village": ("ff1f30d7", None),
    "line": (None, "ff1f30d7"),
    "straight": (None, "ff0088ff"),
}


def kml(plan: RoutePlan, *, page_url: str, lang: str = "vi", speed_kmh: float = 40.0) -> bytes:
    """The route as KML 2.2: its stops numbered, its line, and its straight legs marked."""
    from lxml import etree

    root = etree.Element(f"{{{KML_NS}}}kml", nsmap={None: KML_NS})
    document = _sub(root, KML_NS, "Document")
    _sub(document, KML_NS, "name", plan.name)
    description = route_description(plan, lang, speed_kmh)
    balloon = html.escape(description).replace("\n", "<br>")
    link = f'<a href="{html.escape(page_url)}">{html.escape(WORDS["page"](lang))}</a>'
    _sub(document, KML_NS, "description", f"{balloon}<br>{link}" if balloon else link)
    for style_id, (icon_colour, line_colour) in _STYLES.items():
        style = _sub(document, KML_NS, "Style")
        style.set("id", style_id)
        if icon_colour:
            icon_style = _sub(style, KML_NS, "IconStyle")
            _sub(icon_style, KML_NS, "color", icon_colour)
            icon = _sub(icon_style, KML_NS, "Icon")
            _sub(icon, KML_NS, "href", "http://maps.google.com/mapfiles/kml/paddle/red-circle.png")
        if line_colour:
            line_style = _sub(style, KML_NS, "LineStyle")
            _sub(line_style, KML_NS, "color", line_colour)
            _sub(line_style, KML_NS, "width", "4" if style_id == "line" else "3")
    stops = _sub(document, KML_NS, "Folder")
    _sub(stops, KML_NS, "name", WORDS["stops"](lang))
    for stop in plan.stops:
        placemark = _sub(stops, KML_NS, "Placemark")
        _sub(placemark, KML_NS, "name", f"{stop.seq}. {stop.name}")
        words = stop_description(stop, lang, timed=plan.timed)
        _sub(placemark, KML_NS, "description", html.escape(words))
        _sub(placemark, KML_NS, "styleUrl", "#village" if stop.is_village else "#stop")
        data = _sub(placemark, KML_NS, "ExtendedData")
        for key, value in (("seq", stop.seq), ("dwell_min", stop.dwell_min)):
            field = _sub(data, KML_NS, "Data")
            field.set("name", key)
            _sub(field, KML_NS, "value", str(value))
        point = _sub(placemark, KML_NS, "Point")
        _sub(point, KML_NS, "coordinates", _kml_coordinates([(stop.lon, stop.lat)]))
    line = _sub(document, KML_NS, "Placemark")
    _sub(line, KML_NS, "name", plan.name)
    _sub(line, KML_NS, "description", html.escape(WORDS["line"](lang)))
    _sub(line, KML_NS, "styleUrl", "#line")
    string = _sub(line, KML_NS, "LineString")
    _sub(string, KML_NS, "tessellate", "1")
    _sub(string, KML_NS, "coordinates", _kml_coordinates(plan.travel_line()))
    straight = [s for s in plan.stops if leg_words(s, lang) and len(s.leg_line) >= 2]
    if straight:
        folder = _sub(document, KML_NS, "Folder")
        _sub(folder, KML_NS, "name", WORDS["straight_legs"](lang))
        by_seq = {s.seq: s for s in plan.stops}
        for stop in straight:
            before = by_seq.get(stop.seq - 1)
            placemark = _sub(folder, KML_NS, "Placemark")
            start = f"{before.seq}. {before.name} → " if before else ""
            _sub(placemark, KML_NS, "name", f"{start}{stop.seq}. {stop.name}")
            _sub(placemark, KML_NS, "description", html.escape(leg_words(stop, lang) or ""))
            _sub(placemark, KML_NS, "styleUrl", "#straight")
            leg = _sub(placemark, KML_NS, "LineString")
            _sub(leg, KML_NS, "coordinates", _kml_coordinates(stop.leg_line))
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def _kml_coordinates(points: Sequence[LonLat]) -> str:
    return " ".join(f"{_degrees(lon)},{_degrees(lat)}" for lon, lat in points)


def kmz(plan: RoutePlan, *, page_url: str, lang: str = "vi", speed_kmh: float = 40.0) -> bytes:
    """The KML zipped as ``doc.kml``, the file Google Earth opens first in a KMZ."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("doc.kml", kml(plan, page_url=page_url, lang=lang, speed_kmh=speed_kmh))
    return buffer.getvalue()


def build(
    plan: RoutePlan, fmt: str, *, page_url: str, lang: str = "vi", speed_kmh: float = 40.0
) -> bytes:
    """The hand-out in ``fmt`` (one of ``FORMATS``)."""
    if fmt == "gpx":
        return gpx(plan, page_url=page_url, lang=lang, speed_kmh=speed_kmh)
    if fmt == "kml":
        return kml(plan, page_url=page_url, lang=lang, speed_kmh=speed_kmh)
    if fmt == "kmz":
        return kmz(plan, page_url=page_url, lang=lang, speed_kmh=speed_kmh)
    raise ValueError(f"no hand-out format {fmt!r}")


def filename(plan: RoutePlan, fmt: str) -> str:
    """The download's file name, from the route's code (ASCII letters, digits, - and _)."""
    safe = "".join(c if c.isascii() and (c.isalnum() or c in "-_") else "-" for c in plan.code)
    return f"{safe.strip('-') or f'route-{plan.id}'}.{fmt}"


# -- reading a route -------------------------------------------------------------------------

_ROUTE = """
SELECT id, code, name, mode, line_source, description, start_time, length_km, drive_min,
       duration_min, days, ST_AsGeoJSON(geom, 7) AS line
FROM tourism_route WHERE {where}
"""
_STOPS = """
SELECT s.seq, COALESCE(s.name, v.name) AS name, ST_X(s.geom) AS lon, ST_Y(s.geom) AS lat,
       s.village_id IS NOT NULL AS is_village, s.dwell_min, s.opens, s.closes, s.overnight,
       s.leg_kind, s.leg_note, s.leg_km, s.leg_min, ST_AsGeoJSON(s.leg_geom, 7) AS leg_line,
       s.day, s.arrive_at, s.depart_at, s.wait_min, s.window_problem
FROM route_stop s LEFT JOIN craft_village v ON v.id = s.village_id
WHERE s.route_id = :rid ORDER BY s.seq
"""


def _coordinates(geojson: str | None) -> tuple[LonLat, ...]:
    if not geojson:
        return ()
    return tuple((float(p[0]), float(p[1])) for p in json.loads(geojson)["coordinates"])


def load_plan(conn: Connection, route: int | str) -> RoutePlan:
    """The route with id ``route`` (an int, or digits) or code ``route``, and its stops.

    Raises
    ------
    NotFound
        When no route has that id or code.
    """
    text_value = str(route).strip()
    if isinstance(route, int) or text_value.isdigit():
        row = conn.execute(sa.text(_ROUTE.format(where="id = :id")), {"id": int(text_value)})
    else:
        row = conn.execute(sa.text(_ROUTE.format(where="code = :code")), {"code": text_value})
    found = row.mappings().first()
    if found is None:
        raise NotFound(f"no route {text_value}")
    stops = conn.execute(sa.text(_STOPS), {"rid": found["id"]}).mappings().all()
    return RoutePlan(
        id=found["id"],
        code=found["code"],
        name=found["name"],
        mode=found["mode"],
        line_source=found["line_source"],
        description=found["description"],
        start_time=found["start_time"],
        length_km=found["length_km"],
        drive_min=found["drive_min"],
        duration_min=found["duration_min"],
        days=found["days"],
        line=_coordinates(found["line"]),
        stops=tuple(
            PlanStop(
                seq=s["seq"],
                name=s["name"] or "",
                lon=s["lon"],
                lat=s["lat"],
                is_village=s["is_village"],
                dwell_min=s["dwell_min"],
                opens=s["opens"],
                closes=s["closes"],
                overnight=s["overnight"],
                leg_kind=s["leg_kind"],
                leg_note=s["leg_note"],
                leg_km=s["leg_km"],
                leg_min=s["leg_min"],
                leg_line=_coordinates(s["leg_line"]),
                day=s["day"],
                arrive_at=s["arrive_at"],
                depart_at=s["depart_at"],
                wait_min=s["wait_min"],
                window_problem=s["window_problem"],
            )
            for s in stops
        ),
    )
