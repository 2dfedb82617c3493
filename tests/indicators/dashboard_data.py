"""A small programme and province whose indicators are known by hand (dashboard tests).

Province T9 (its own plan "T9-KH/2026"), four communes and one old district:

============  ==================================  ===================  =========
commune       villages                            boundary             2025 env
============  ==================================  ===================  =========
T9C1 Xã An    V1 (env yes), V4 (no 2025 row)      polygon              100 %
T9C2 <img…>   V2 (env no)                         polygon              0 %
T9C3 Xã Trống none                                polygon              no data
T9C4 Điểm     V3 (env yes)                        label point only     100 %
============  ==================================  ===================  =========

2025, the province (four villages in scope, V4 lacks every 2025 fact):

- share_env_plan = 2 of 3 known = 66,7 %, missing 1; 2025 target ≥ 50 % met,
  2030 target ≥ 100 % behind.
- share_workers_trained = (80 + 10) / (100 + 50) = 60,0 %, missing 2 (V3 and V4 lack
  workers); 2025 target ≥ 60 % met, 2030 target ≥ 80 % behind.
- villages_tourism_linked = 2 (V1, V3), missing 1; 2030 target ≥ 4 with the way-point
  4 × 5/10 = 2 in 2025: on track.

Series of share_env_plan: 2022 0 % (V1 only), 2024 1 of 3 = 33,3 %, 2025 66,7 %; 2023 has
no data at all (a gap), the current year none either (the records hold no facts).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from api.settings import ApiSettings
from geo.io.programmes import load_programme
from geo.store.db import make_engine
from maps import assets
from tests.conftest import demo_database
from tests.factories import make_village, make_zone
from tests.live import live_server

XSS = "<img src=x onerror=alert(1)>"
PROGRAMME = "T9-KH/2026"
PROVINCE = "T9"
SCHEME = "NQ1686/2025"
COMMUNES = {
    "T9C1": ("Xã An Thử", (105.00, 10.00)),
    "T9C2": (XSS, (105.10, 10.00)),
    "T9C3": ("Xã Trống Làng", (105.00, 10.10)),
    "T9C4": ("Phường Điểm Nhãn", (105.15, 10.12)),  # no polygon: its label point only
}
DISTRICT = ("T9D1", "Huyện Cũ Thử")
SIZE = 0.08

PROGRAMME_FILE = f"""# code: {PROGRAMME}
# title: Kế hoạch thử nghiệm của tỉnh T9
# level: province
# province_code: {PROVINCE}
indicator,year,comparison,value,unit,note,sources
share_env_plan,2025,at_least,50,percent,with an environmental protection plan,
share_workers_trained,2025,at_least,60,percent,workers trained,
villages_tourism_linked,2025,at_least,1,count,linked with tourism,
share_env_plan,2030,at_least,100,percent,with an environmental protection plan,
share_workers_trained,2030,at_least,80,percent,workers trained,
villages_tourism_linked,2030,at_least,4,count,linked with tourism,
"""

# code, name, commune, {year: facts}
VILLAGES: list[tuple[str, str, str, dict[int, dict[str, Any]]]] = [
    (
        "T9-V1",
        "Làng gốm Thử Nghiệm",
        "T9C1",
        {
            2022: {"env_plan": False, "workers": 80, "trained_workers": 20},
            2024: {
                "env_plan": False,
                "workers": 100,
                "trained_workers": 50,
                "tourism_linked": True,
            },
            2025: {"env_plan": True, "workers": 100, "trained_workers": 80, "tourism_linked": True},
        },
    ),
    (
        "T9-V2",
        XSS,
        "T9C2",
        {
            2024: {"env_plan": False, "workers": 50, "trained_workers": 10},
            2025: {
                "env_plan": False,
                "workers": 50,
                "trained_workers": 10,
                "tourism_linked": False,
            },
        },
    ),
    ("T9-V3", "Làng dệt Điểm", "T9C4", {2025: {"env_plan": True, "tourism_linked": True}}),
    (
        "T9-V4",
        "Làng mây Thiếu Số Liệu",
        "T9C1",
        {2024: {"env_plan": True, "workers": 20, "trained_workers": 20}},
    ),
]


def _square(lon: float, lat: float) -> str:
    x2, y2 = lon + SIZE, lat + SIZE
    return f"MULTIPOLYGON((({lon} {lat},{x2} {lat},{x2} {y2},{lon} {y2},{lon} {lat})))"


def build(conn: Connection, tmp: Path) -> None:
    """Write the province, its units, the plan, the villages and their yearly facts."""
    unit = sa.text(
        "INSERT INTO admin_unit (code, scheme, name, level, parent_code, valid_from, valid_to,"
        " label_point, geom) VALUES (:code, :scheme, :name, :level, :parent, :start, :end,"
        " ST_SetSRID(ST_MakePoint(:lon, :lat), 4326),"
        " CASE WHEN :wkt = '' THEN NULL ELSE ST_GeomFromText(:wkt, 4326) END)"
    )
    rows = [
        {
            "code": PROVINCE,
            "scheme": SCHEME,
            "name": "Tỉnh Thử",
            "level": "province",
            "parent": None,
            "start": "2025-07-01",
            "end": None,
            "lon": 105.1,
            "lat": 10.1,
            "wkt": "",
        },
        {
            "code": DISTRICT[0],
            "scheme": "legacy",
            "name": DISTRICT[1],
            "level": "district",
            "parent": PROVINCE,
            "start": None,
            "end": "2025-06-30",
            "lon": 105.1,
            "lat": 10.1,
            "wkt": "",
        },
    ]
    for code, (name, (lon, lat)) in COMMUNES.items():
        polygon = "" if code == "T9C4" else _square(lon, lat)
        rows.append(
            {
                "code": code,
                "scheme": SCHEME,
                "name": name,
                "level": "commune",
                "parent": PROVINCE,
                "start": "2025-07-01",
                "end": None,
                "lon": lon + SIZE / 2,
                "lat": lat + SIZE / 2,
                "wkt": polygon,
            }
        )
    for row in rows:
        conn.execute(unit, {**row, "start": row["start"], "end": row["end"]})
    path = tmp / "t9-plan.csv"
    path.write_text(PROGRAMME_FILE, encoding="utf-8")
    load_programme(conn, path, actor="test-setup")
    stat = sa.text(
        "INSERT INTO village_stat (village_id, year, env_plan, workers, trained_workers,"
        " tourism_linked, actor) VALUES (:village, :year, :env_plan, :workers, :trained_workers,"
        " :tourism_linked, 'test-setup')"
    )
    for code, name, commune, years in VILLAGES:
        lon, lat = COMMUNES[commune][1]
        village = make_village(
            conn,
            at=(lon + SIZE / 3, lat + SIZE / 3),
            code=code,
            name=name,
            commune_code=commune,
            legacy_district=DISTRICT[1],
            recognition_year=2015,
        )
        for year, facts in years.items():
            conn.execute(
                stat,
                {
                    "village": village,
                    "year": year,
                    "env_plan": facts.get("env_plan"),
                    "workers": facts.get("workers"),
                    "trained_workers": facts.get("trained_workers"),
                    "tourism_linked": facts.get("tourism_linked"),
                },
            )


@contextmanager
def served(pg_server_url: str, log_dir: Path, prefix: str) -> Iterator[str]:
    """A demo database of the caller's own with province T9 committed, served by craftmap
    in its own process (no basemap: the pages need nothing outside); its base URL."""
    assets.fetch(ApiSettings().map_assets_dir)
    with demo_database(pg_server_url, prefix) as url:
        engine = make_engine(url)
        try:
            with engine.begin() as conn:
                build(conn, log_dir)
                build_actions(conn, dt.date.today())
        finally:
            engine.dispose()
        env = {"CRAFTMAP_BASEMAP_URL": "none"}
        with live_server(url, log_dir, env=env) as server:
            yield server.url


def build_actions(conn: Connection, today: dt.date) -> dict[str, int]:
    """Records for the action lists, outside T9 (the indicators stay as worked out):
    a village at risk named like markup, zones whose certificates expire in 30 days and
    expired 10 days ago. Their ids by key."""
    return {
        "R": make_village(
            conn, code="T9-R1", name=f"Làng nguy cơ {XSS}", status="at_risk", env_plan=True
        ),
        "Z1": make_zone(
            conn,
            code="T9-Z1",
            name="Vùng tre Sắp Hết Hạn",
            certification_scheme="VietGAP",
            certificate_no="VG-T9-1",
            certificate_expiry=(today + dt.timedelta(days=30)).isoformat(),
        ),
        "Z2": make_zone(
            conn,
            code="T9-Z2",
            name="Vùng cói Đã Hết Hạn",
            certification_scheme="VietGAP",
            certificate_no="VG-T9-2",
            certificate_expiry=(today - dt.timedelta(days=10)).isoformat(),
        ),
    }
