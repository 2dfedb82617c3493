"""A seeded, synthetic national dataset for the benchmark, loaded through craftmap's import path.

Full scale: about 5 400 villages across Vietnam, 200 000 material-zone parcels of 20–60
vertices each around them, and 300 routes through nearby villages. The data is made up
(positions inside rough boxes along Vietnam's S shape); it exists to load the service, not
to describe the country.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from sqlalchemy.engine import Engine

from geo.io import ingest
from geo.store.db import set_actor, translate_errors

# Rough lon/lat boxes along Vietnam, with a weight for how much of the land each holds.
REGIONS = (
    (102.5, 20.6, 107.3, 23.0, 0.30),  # north
    (104.6, 17.2, 106.9, 20.6, 0.22),  # north central
    (106.3, 11.6, 109.0, 17.2, 0.23),  # central coast and highlands
    (104.8, 8.8, 107.2, 11.6, 0.25),  # south
)
MATERIALS = ("luong", "bamboo", "nua", "vau", "rattan", "sedge", "medicinal", "ramie")
CRAFT_GROUPS = ("G1", "G2", "G3", "G4", "G5", "G6", "G7")


@dataclass(frozen=True)
class Scale:
    """How much to generate."""

    villages: int
    parcels: int
    routes: int


FULL = Scale(villages=5_400, parcels=200_000, routes=300)
TINY = Scale(villages=60, parcels=400, routes=5)


def _points(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    weights = np.array([r[4] for r in REGIONS])
    region = rng.choice(len(REGIONS), size=n, p=weights / weights.sum())
    boxes = np.array([r[:4] for r in REGIONS])[region]
    lon = rng.uniform(boxes[:, 0], boxes[:, 2])
    lat = rng.uniform(boxes[:, 1], boxes[:, 3])
    return lon, lat


def _parcels(
    rng: np.random.Generator, lon: np.ndarray, lat: np.ndarray, n: int
) -> list[shapely.Polygon]:
    # Star-shaped rings (sorted angles, positive radii) are always simple, hence valid.
    home = rng.integers(0, len(lon), size=n)
    dist_m = rng.uniform(300, 8_000, size=n)
    bearing = rng.uniform(0, 2 * np.pi, size=n)
    cos_lat = np.cos(np.radians(lat[home]))
    cx = lon[home] + dist_m * np.cos(bearing) / (111_320 * cos_lat)
    cy = lat[home] + dist_m * np.sin(bearing) / 110_540
    radius_m = rng.uniform(40, 300, size=n)
    vertices = rng.integers(20, 61, size=n)
    polygons = []
    for i in range(n):
        k = int(vertices[i])
        angles = np.sort(rng.uniform(0, 2 * np.pi, size=k))
        r = radius_m[i] * rng.uniform(0.7, 1.3, size=k)
        xs = cx[i] + r * np.cos(angles) / (111_320 * cos_lat[i])
        ys = cy[i] + r * np.sin(angles) / 110_540
        polygons.append(shapely.Polygon(np.column_stack([xs, ys])))
    return polygons


def generate(out: Path, scale: Scale, *, seed: int = 2030) -> Path:
    """Write villages.csv, parcels.gpkg, routes.csv and route_stops.csv into ``out``."""
    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    lon, lat = _points(rng, scale.villages)
    codes = [f"B-V-{i:05d}" for i in range(scale.villages)]
    pd.DataFrame(
        {
            "code": codes,
            "name": [f"Làng nghề thử {i}" for i in range(scale.villages)],
            "kind": rng.choice(["craft_village", "traditional_craft_village"], scale.villages),
            "crafts": rng.choice(["đan mây tre", "dệt chiếu cói", "mộc", "gốm"], scale.villages),
            "craft_group": rng.choice(CRAFT_GROUPS, scale.villages),
            "workers": rng.integers(20, 2_000, scale.villages),
            "geom_precision": "commune_centroid",
            "precision_m": 2_000,
            "geom_source": "synthetic benchmark data",
            "lon": lon.round(6),
            "lat": lat.round(6),
        }
    ).to_csv(out / "villages.csv", index=False)

    polygons = _parcels(rng, lon, lat, scale.parcels)
    gpd.GeoDataFrame(
        {
            "code": [f"B-P-{i:06d}" for i in range(scale.parcels)],
            "name": [f"Lô nguyên liệu {i}" for i in range(scale.parcels)],
            "material": rng.choice(MATERIALS, scale.parcels),
            "status": rng.choice(["existing", "planned"], scale.parcels, p=[0.8, 0.2]),
            "annual_capacity_t": rng.uniform(1, 500, scale.parcels).round(1),
        },
        geometry=polygons,
        crs=4326,
    ).to_file(out / "parcels.gpkg", engine="pyogrio")

    routes, stops = [], []
    order = np.argsort(lon)  # neighbours in longitude are a cheap stand-in for "nearby"
    for r in range(scale.routes):
        start = int(rng.integers(0, max(1, scale.villages - 6)))
        count = int(rng.integers(3, 7))
        routes.append(
            {
                "code": f"B-R-{r:04d}",
                "name": f"Tuyến thử {r}",
                "theme": "craft_village",
                "mode": "car",
                "status": "planned",
            }
        )
        for seq, index in enumerate(order[start : start + count], start=1):
            stops.append(
                {
                    "route_code": f"B-R-{r:04d}",
                    "seq": seq,
                    "village_code": codes[index],
                    "name": "",
                    "lon": "",
                    "lat": "",
                    "dwell_min": 45,
                    "note": "",
                }
            )
    pd.DataFrame(routes).to_csv(out / "routes.csv", index=False)
    pd.DataFrame(stops).to_csv(out / "route_stops.csv", index=False)
    return out


def load(engine: Engine, folder: Path) -> dict[str, int]:
    """Load a generated dataset through craftmap's import functions, in one transaction."""
    with engine.connect() as conn, translate_errors():
        with conn.begin():
            set_actor(conn, "benchmark-loader")
            villages = ingest.load_villages(conn, folder / "villages.csv")
            parcels = ingest.load_material_zones(conn, folder / "parcels.gpkg")
            routes, stops = ingest.load_routes(
                conn, folder / "routes.csv", folder / "route_stops.csv"
            )
    with engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")
    return {
        "villages": villages.inserted + villages.updated + villages.unchanged,
        "parcels": parcels.inserted + parcels.updated + parcels.unchanged,
        "routes": routes.inserted + routes.updated + routes.unchanged,
        "stops": stops.inserted + stops.updated + stops.unchanged,
    }


def main() -> None:
    """``python -m bench.generate OUT [--tiny]``."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", type=Path)
    parser.add_argument("--tiny", action="store_true")
    args = parser.parse_args()
    generate(args.out, TINY if args.tiny else FULL)


if __name__ == "__main__":
    main()
