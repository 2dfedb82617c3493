"""Escaping helpers and map builders with hostile names, without a browser."""

from __future__ import annotations

import html
import json
import re

import geopandas as gpd
import pytest
import shapely

from geo.kernel.text import Text
from maps import build, layers, styles
from maps.escape import html_text, script_json, url_text, with_nonce

# branca parses every element's output as a Jinja template again: a name must not be one.
SSTI = "{{ 'SSTI' ~ '-RAN' }}{% if 1 %}{{ 'IF' ~ '-RAN' }}{% endif %}{# c #}"
BREAKOUT = "</script><script>alert(1)</script><!-- `${alert(2)}` \\` \u2028 '\""


def test_html_text_leaves_nothing_active() -> None:
    escaped = html_text(SSTI + BREAKOUT)
    assert not set("<>\"'`${}\\\u2028") & set(escaped)
    assert html.unescape(escaped) == SSTI + BREAKOUT


def test_script_json_parses_back_and_cannot_close_the_script() -> None:
    value = {"name": SSTI + BREAKOUT, "nested": [{"a": "{#"}, {}]}
    text = script_json(value)
    assert json.loads(text) == value
    for bad in ("<", ">", "{{", "{%", "{#", "\u2028", "'"):
        assert bad not in text, bad


def test_with_nonce_tags_every_script_and_refuses_a_bad_nonce() -> None:
    page = '<script src="/a.js"></script><SCRIPT>x()</SCRIPT><scripts>'
    tagged = with_nonce(page, "N" * 24)
    assert tagged.count(f'nonce="{"N" * 24}"') == 2 and "<scripts>" in tagged
    with pytest.raises(ValueError):
        with_nonce(page, '"><script>')


def _frames(name: str) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame]:
    zones = gpd.GeoDataFrame(
        {
            "id": [1],
            "name": [name],
            "material": ["sedge"],
            "species": [name],
            "geometry": [shapely.box(105.9, 19.9, 106.0, 20.0)],
        },
        crs=4326,
    )
    villages = gpd.GeoDataFrame(
        {
            "id": [2],
            "name": [name],
            "craft_group": ["wood"],
            "crafts": [name],
            "geometry": [shapely.Point(105.8, 19.8)],
        },
        crs=4326,
    )
    stops = gpd.GeoDataFrame(
        {"seq": [1], "name": [name], "geometry": [shapely.Point(105.7, 19.7)]}, crs=4326
    )
    return zones, villages, stops


def _page(name: str) -> str:
    zones, villages, stops = _frames(name)
    m = build._base_map(build.MapSettings(basemap_url="none"), None)
    layers.thematic_layer(
        zones,
        styles.MATERIALS,
        popup=lambda row: layers.popup_html(row, row["name"], build.ZONE_FIELDS, "vi"),
    ).add_to(m)
    layers.PointCluster(
        villages,
        styles.CRAFT_GROUPS,
        lang="vi",
        fields=(("crafts", Text("Nghề", "Crafts")),),
        links=[("API", "/collections/villages/items/{id}")],
    ).add_to(m)
    layers.NumberedStops(stops, name="stops").add_to(m)
    page: str = m.get_root().render()
    return page


def test_map_pages_neither_run_names_as_templates_nor_let_them_out() -> None:
    benign = _page("Làng gỗ Đông Sơn")
    hostile = _page(SSTI + BREAKOUT)
    # Jinja would have made "SSTI-RAN" and "IF-RAN" of the name.
    assert "SSTI-RAN" not in hostile and "IF-RAN" not in hostile
    # The name adds no script element or comment of its own (a `${…}` inside a JSON
    # string is inert; the browser tests show template literals stay closed).
    for pattern in (r"<script", r"<!--", r"</script"):
        assert len(re.findall(pattern, hostile)) == len(re.findall(pattern, benign)), pattern


def test_a_hostile_host_cannot_reach_the_tile_layer_script() -> None:
    # The API root is the configured public URL, else the request's Host (Starlette 1.10
    # falls back to the server's address when a Host is malformed; this is the backstop).
    root = "http://x'+alert(1)+'{{ 'SSTI' ~ '-RAN' }}"
    url = build.zone_tiles_url(build.MapSettings(api_root=root))
    assert url.endswith("/collections/material-zones/tiles/WebMercatorQuad/{z}/{y}/{x}")
    assert "'" not in url and "{{" not in url
    assert url_text("http://127.0.0.1:8000/a") == "http://127.0.0.1:8000/a"
    m = build._base_map(build.MapSettings(basemap_url="none"), None)
    layers.tile_layer(url, styles.MATERIALS, lang="vi", layer="material-zones").add_to(m)
    page = m.get_root().render()
    assert "SSTI-RAN" not in page and "'+alert" not in page
