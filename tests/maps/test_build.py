"""Map builders without a browser: themes, layers, the tile fallback and the page size."""

from __future__ import annotations

import re
from pathlib import Path

import geopandas as gpd
import pytest
import shapely

from api.settings import ApiSettings
from bench import generate
from bench.run import prepare
from geo.query import mapdata
from geo.store.db import make_engine
from maps import assets, build, layers, styles

# The overview's size limit at national scale (5,400 villages, 300 routes, parcels from
# tiles): 2.5 MB of HTML, about 0.4 MB over the wire with the app's gzip, which a
# provincial office's 10 Mbit/s link loads in under a second. Parcels never count: above
# mapdata.EMBED_LIMIT they come as vector tiles, whether 6,000 or 200,000.
PAGE_LIMIT = 2_500_000
NATIONAL = generate.Scale(villages=5_400, parcels=mapdata.EMBED_LIMIT + 1_000, routes=300)


def test_thematic_layer_colours_each_feature_by_its_code() -> None:
    frame = gpd.GeoDataFrame(
        {
            "id": [1, 2],
            "name": ["Cói Nga Sơn", "Luồng Quan Hóa"],
            "material": ["sedge", "luong"],
            "geometry": [shapely.box(105.9, 19.9, 106.0, 20.0), shapely.box(105, 20, 105.1, 20.1)],
        },
        crs=4326,
    )
    group = layers.thematic_layer(frame, styles.MATERIALS, lang="en")
    assert group.layer_name == "Raw-material zones"
    m = build._base_map(build.MapSettings(basemap_url="none"), None)
    group.add_to(m)
    page = m.get_root().render()
    assert styles.MATERIALS.colour("sedge") in page and styles.MATERIALS.colour("luong") in page
    assert "Cói Nga Sơn" in page
    labels = [label for _, _, label in styles.MATERIALS.legend("en")]
    assert labels[:2] == ["Luồng bamboo", "Bamboo"]


def test_every_script_and_stylesheet_is_served_locally() -> None:
    folder = ApiSettings().map_assets_dir
    assets.fetch(folder)
    for url in [*assets.SCRIPTS.values(), *assets.STYLESHEETS.values()]:
        assert (folder / url.removeprefix(assets.URL_PREFIX + "/")).is_file(), url


@pytest.mark.slow
def test_national_overview_stays_light(pg_server_url: str, tmp_path: Path) -> None:
    folder = generate.generate(tmp_path / "national", NATIONAL, seed=5)
    url = prepare(pg_server_url, folder, NATIONAL)
    engine = make_engine(url)
    with engine.connect() as conn:
        data = mapdata.overview(conn)
    engine.dispose()
    assert data.zones is None and data.zone_count == NATIONAL.parcels
    assert len(data.villages) == NATIONAL.villages

    page = build.build_overview(data, build.MapSettings(api_root="", basemap_url="none"))
    html = page.get_root().render()
    assert len(html.encode()) < PAGE_LIMIT, len(html.encode())
    # The parcels come from the vector tiles, not from the page.
    assert "L.vectorGrid.protobuf(" in html
    assert "/collections/material-zones/tiles/WebMercatorQuad/{z}/{y}/{x}" in html
    assert not re.search(r"https?://(?!127\.0\.0\.1)", html.split("<body>")[0])
