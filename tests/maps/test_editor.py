"""The planner's editor (``/maps/edit``) in Chromium: every field, the next free code, a
worded duplicate-code message, the tools in the page's language, one pin per village, and
edit handles only on what the key may write (issue 12 point 5)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page

from api.settings import ApiSettings
from maps import assets
from tests.browser import ARTIFACTS, needs_chromium, poll_until
from tests.conftest import demo_database
from tests.factories import make_key
from tests.live import LiveServer, live_server

pytestmark = needs_chromium

SHOTS = ARTIFACTS / "issue12" / "editor"

ZONE_FIELDS = {
    "code": "input",
    "name": "input",
    "material": "select",
    "species": "input",
    "species_latin": "input",
    "status": "select",
    "land_type": "select",
    "declared_area_ha": "input",
    "annual_capacity_t": "input",
    "harvest_season": "input",
    "owner_type": "select",
    "owner": "input",
    "certification_scheme": "select",
    "certificate_no": "input",
    "certificate_expiry": "input",
    "commune_codes": "select",
    "legacy_district": "input",
    "plan_ref": "input",
    "notes": "textarea",
}


@pytest.fixture(scope="module")
def database_url_(pg_server_url: str) -> Iterator[str]:
    """A demo database of this module's own: the tests commit what they save."""
    with demo_database(pg_server_url, "craftmap_editor") as url:
        yield url


@pytest.fixture(scope="module")
def live(database_url_: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    assets.fetch(ApiSettings().map_assets_dir)
    env = {"CRAFTMAP_BASEMAP_URL": "none"}
    with live_server(database_url_, tmp_path_factory.mktemp("editor"), env=env) as server:
        yield server


@pytest.fixture(scope="module")
def keys(database_url_: str) -> dict[str, str]:
    return {role: make_key(database_url_, role, f"editor {role}") for role in ROLES}


ROLES = ("viewer", "planner", "tourism", "admin")


class Opened:
    """An editor page with its JavaScript errors."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.errors: list[str] = []
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.on(
            "console",
            lambda m: self.errors.append(m.text) if m.type == "error" else None,
        )


@pytest.fixture
def opened(browser: Browser) -> Iterator[Opened]:
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="vi-VN")
    yield Opened(context.new_page())
    context.close()


def _get(live: LiveServer, path: str) -> Any:
    answer = live.request(path, headers={"Accept": "application/geo+json"})
    assert answer.status == 200, (path, answer.status, answer.body[:300])
    return json.loads(answer.body)


def _open(page: Page, live: LiveServer, key: str | None = None, query: str = "") -> None:
    """The editor, with ``key`` typed in and what it may write applied."""
    page.goto(f"{live.url}/maps/edit{query}", wait_until="networkidle")
    if key is not None:
        field = page.locator("#cm-editor input[name=api_key]")
        field.fill(key)
        field.dispatch_event("change")
        poll_until(
            page, "() => document.getElementById('cm-editor').dataset.writable !== undefined"
        )
        page.wait_for_load_state("networkidle")


def _draw_square(page: Page, dx0: int = -150) -> None:
    page.locator(".leaflet-draw-draw-polygon").click()
    box = page.locator(".folium-map").bounding_box()
    assert box is not None
    cx, cy = box["x"] + box["width"] / 2 + dx0, box["y"] + box["height"] / 2
    for dx, dy in ((0, 0), (40, 0), (40, 40), (0, 40)):
        page.mouse.click(cx + dx, cy + dy)
        page.wait_for_timeout(150)
    page.mouse.click(cx, cy)


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_zone_form_has_every_field_with_labelled_code_lists(
    live: LiveServer, opened: Opened, lang: str
) -> None:
    page = opened.page
    _open(page, live, query=f"?lang={lang}")
    form = page.locator("#cm-editor")
    for name, tag in ZONE_FIELDS.items():
        assert form.locator(f"{tag}[name={name}]").count() == 1, name
    text = form.inner_text()
    if lang == "vi":
        for label in (
            "Loài cây",
            "Loại đất",
            "Chủ quản lý",
            "Số chứng chỉ",
            "Ngày hết hạn",
            "Sản lượng hằng năm (tấn)",
            "Diện tích công bố (ha)",
            "Xã, phường",
            "Số quyết định quy hoạch",
            "Ghi chú",
        ):
            assert label in text, label
    else:
        for label in ("Species", "Land type", "Holder", "Certificate number", "Notes"):
            assert label in text, label

    def shown(name: str) -> list[str]:
        return form.locator(f"select[name={name}] option").all_inner_texts()

    expected = {
        "vi": {
            "material": "Luồng",
            "status": "Hiện có",
            "land_type": "Rừng sản xuất",
            "owner_type": "Nhóm hộ",
            "certification_scheme": "FSC quản lý rừng (FSC-FM)",
        },
        "en": {
            "material": "Luồng bamboo",
            "status": "Existing",
            "land_type": "Production forest",
            "owner_type": "Household group",
            "certification_scheme": "FSC forest management (FSC-FM)",
        },
    }[lang]
    codes = {"production_forest", "household_group", "luong", "existing", "FSC-FM", "farmland"}
    for name, label in expected.items():
        options = shown(name)
        assert label in options, (name, options)
        assert not codes & set(options), (name, options)  # labels, never the stored codes
    communes = shown("commune_codes")
    assert len(communes) > 10 and any(c.startswith("Phường Hàm Rồng") for c in communes)
    assert opened.errors == [], opened.errors
    assert page.title() == {"vi": "Biên tập bản đồ — craftmap", "en": "Map editor — craftmap"}[lang]


def test_the_proposed_code_is_the_next_free_one(live: LiveServer, opened: Opened) -> None:
    page = opened.page
    _open(page, live)
    proposed = page.locator("#cm-editor input[name=code]").input_value()
    codes = [
        f["properties"]["code"]
        for f in _get(live, "/collections/material-zones/items?limit=1000")["features"]
    ]
    numbers = [int(c[5:]) for c in codes if re.fullmatch(r"TH-Z-\d{3}", c)]
    assert proposed == f"TH-Z-{max(numbers) + 1:03d}"
    assert _get(live, f"/collections/material-zones/items?code={proposed}")["numberMatched"] == 0


def test_a_used_code_names_the_zone_that_has_it(
    live: LiveServer, opened: Opened, keys: dict[str, str]
) -> None:
    page = opened.page
    _open(page, live, keys["planner"])
    holder = _get(live, "/collections/material-zones/items?code=TH-Z-001")["features"][0]
    _draw_square(page)
    form = page.locator("#cm-editor")
    form.locator("input[name=code]").fill("TH-Z-001")
    form.locator("input[name=name]").fill("Trùng mã")
    form.locator("button[type=submit]").click()
    message = form.locator(".cm-message.cm-error")
    message.locator("a").wait_for()
    words = message.inner_text()
    assert words.startswith(f"Mã TH-Z-001 đã được dùng cho vùng {holder['properties']['name']}")
    assert "Mã còn trống: TH-Z-0" in words
    assert "uq_" not in words and "409" not in words and "already used" not in words
    link = message.locator("a")
    assert link.inner_text() == holder["properties"]["name"]
    href = link.get_attribute("href")
    assert href is not None and href.endswith(f"/items/{holder['id']}?f=html")
    # The browser logs the refused POST itself; nothing else may fail.
    assert [e for e in opened.errors if "409" not in e] == []
    with page.expect_navigation():
        link.click()
    assert holder["properties"]["name"] in page.locator("h1").inner_text()


def test_every_field_is_saved_with_vietnamese_numbers(
    live: LiveServer, opened: Opened, keys: dict[str, str]
) -> None:
    page = opened.page
    _open(page, live, keys["planner"])
    form = page.locator("#cm-editor")
    code = form.locator("input[name=code]").input_value()
    _draw_square(page)
    form.locator("input[name=name]").fill("Vùng luồng Cẩm Thủy mới")
    form.locator("select[name=material]").select_option(label="Luồng")
    form.locator("input[name=species]").fill("luồng")
    form.locator("input[name=species_latin]").fill("Dendrocalamus barbatus")
    form.locator("select[name=status]").select_option(label="Quy hoạch")
    form.locator("select[name=land_type]").select_option(label="Rừng sản xuất")
    form.locator("input[name=harvest_season]").fill("tháng 9 – tháng 3")
    form.locator("select[name=owner_type]").select_option(label="Hợp tác xã")
    form.locator("input[name=owner]").fill("HTX Lâm nghiệp Cẩm Thủy")
    form.locator("select[name=certification_scheme]").select_option(
        label="FSC quản lý rừng (FSC-FM)"
    )
    form.locator("input[name=certificate_no]").fill("FSC-C123456")
    form.locator("input[name=certificate_expiry]").fill("2029-06-30")
    form.locator("select[name=commune_codes]").select_option(["14758", "14797"])
    form.locator("input[name=legacy_district]").fill("Huyện Cẩm Thủy")
    form.locator("input[name=plan_ref]").fill("1234/QĐ-UBND 2025")
    form.locator("textarea[name=notes]").fill("Ghi chú <b>không</b> phải HTML")
    # A number written the English way is refused on a Vietnamese page, not misread.
    form.locator("input[name=declared_area_ha]").fill("1.5")
    form.locator("button[type=submit]").click()
    error = form.locator(".cm-message.cm-error")
    error.wait_for()
    assert "không phải là số" in error.inner_text() and "1.500,0" in error.inner_text()
    assert form.locator("input[name=declared_area_ha][aria-invalid=true]").count() == 1
    assert _get(live, f"/collections/material-zones/items?code={code}")["numberMatched"] == 0

    form.locator("input[name=declared_area_ha]").fill("1.500,5")
    form.locator("input[name=annual_capacity_t]").fill("12.000")
    form.locator("button[type=submit]").click()
    form.locator(".cm-message.cm-ok a").wait_for()
    saved = _get(live, f"/collections/material-zones/items?code={code}")["features"][0]
    p = saved["properties"]
    assert (p["declared_area_ha"], p["annual_capacity_t"]) == (1500.5, 12000)
    assert p["material"] == "luong" and p["status"] == "planned"
    assert p["land_type"] == "production_forest" and p["owner_type"] == "cooperative"
    assert p["certification_scheme"] == "FSC-FM" and p["certificate_no"] == "FSC-C123456"
    assert p["certificate_expiry"] == "2029-06-30"
    assert sorted(p["commune_codes"]) == ["14758", "14797"]
    assert p["notes"] == "Ghi chú <b>không</b> phải HTML"
    assert (p["species"], p["species_latin"]) == ("luồng", "Dendrocalamus barbatus")
    assert (p["owner"], p["plan_ref"]) == ("HTX Lâm nghiệp Cẩm Thủy", "1234/QĐ-UBND 2025")
    assert (p["harvest_season"], p["legacy_district"]) == ("tháng 9 – tháng 3", "Huyện Cẩm Thủy")
    # The next proposal moved past the code just used.
    following = form.locator("input[name=code]").input_value()
    assert following != code and following.startswith("TH-Z-")
    assert opened.errors == [], opened.errors


TOOLS = {
    "vi": {
        ".leaflet-draw-draw-polygon": "Vẽ vùng (đa giác)",
        ".leaflet-draw-edit-edit": "Không có lớp nào khóa này được sửa",
        ".leaflet-control-zoom-in": "Phóng to",
        ".leaflet-control-zoom-out": "Thu nhỏ",
        ".leaflet-control-zoom-fullscreen": "Toàn màn hình",
    },
    "en": {
        ".leaflet-draw-draw-polygon": "Draw a polygon",
        ".leaflet-draw-edit-edit": "Nothing this key may edit",
        ".leaflet-control-zoom-in": "Zoom in",
        ".leaflet-control-zoom-out": "Zoom out",
        ".leaflet-control-zoom-fullscreen": "Full screen",
    },
}


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_tools_speak_the_page_language(live: LiveServer, opened: Opened, lang: str) -> None:
    page = opened.page
    _open(page, live, query=f"?lang={lang}")
    for selector, title in TOOLS[lang].items():
        assert page.locator(selector).get_attribute("title") == title, selector
    page.locator(".leaflet-draw-draw-polygon").click()
    hint = page.locator(".leaflet-draw-tooltip")
    box = page.locator(".folium-map").bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + 300, box["y"] + 300)
    start = {"vi": "Nhấn để bắt đầu vẽ vùng.", "en": "Click to start drawing the shape."}
    assert start[lang] in hint.inner_text()
    cancel = page.locator(".leaflet-draw-actions a", has_text={"vi": "Hủy", "en": "Cancel"}[lang])
    assert cancel.first.get_attribute("title") == {"vi": "Hủy vẽ", "en": "Cancel drawing"}[lang]
    assert opened.errors == [], opened.errors


def test_each_village_has_one_pin(live: LiveServer, opened: Opened, keys: dict[str, str]) -> None:
    page = opened.page
    placed = [
        f
        for f in _get(live, "/collections/villages/items?limit=1000")["features"]
        if f["geometry"] is not None
    ]
    for key in (None, keys["admin"]):  # also where the pins are editable
        _open(page, live, key)
        icons = page.locator(".leaflet-marker-icon").count()
        pins = page.locator(".leaflet-marker-icon .cm-pin").count()
        assert icons == pins == len(placed), (icons, pins, len(placed))
        assert page.locator(".leaflet-marker-icon[src*='marker-icon']").count() == 0


EDIT_STATE = """() => ({
  zoneHandles: document.querySelectorAll('.leaflet-editing-icon').length,
  movable: document.querySelectorAll('.leaflet-marker-icon.leaflet-edit-marker-selected').length,
  editable: document.getElementById('cm-editor').dataset.writable,
})"""


@pytest.mark.parametrize(
    ("role", "zones", "villages"),
    [
        (None, False, False),
        ("viewer", False, False),
        ("planner", True, False),
        ("tourism", False, False),
        ("admin", True, True),
    ],
)
def test_a_key_edits_only_the_layers_it_may_write(
    live: LiveServer,
    opened: Opened,
    keys: dict[str, str],
    role: str | None,
    zones: bool,
    villages: bool,
) -> None:
    page = opened.page
    _open(page, live, keys[role] if role else None)
    button = page.locator(".leaflet-draw-edit-edit")
    if not (zones or villages):
        assert "leaflet-disabled" in (button.get_attribute("class") or "")
    button.click()  # a disabled button does nothing
    page.wait_for_timeout(300)
    state = page.evaluate(EDIT_STATE)
    assert (state["zoneHandles"] > 0) == zones, state
    assert (state["movable"] > 0) == villages, state
    if role == "planner":
        assert state["editable"] == "material-zones"
    assert opened.errors == [], opened.errors


def test_access_answers_the_role_and_what_it_writes(live: LiveServer, keys: dict[str, str]) -> None:
    def access(token: str | None) -> tuple[int, Any]:
        sent = {"Authorization": f"Bearer {token}"} if token else {}
        answer = live.request("/maps/edit/access", headers=sent)
        headers = {k.lower(): v for k, v in answer.headers.items()}
        assert answer.status != 200 or headers.get("cache-control") == "no-store"
        return answer.status, json.loads(answer.body)

    assert access(None) == (200, {"role": None, "writable": []})
    assert access(keys["viewer"]) == (200, {"role": "viewer", "writable": []})
    assert access(keys["planner"]) == (200, {"role": "planner", "writable": ["material-zones"]})
    assert access(keys["tourism"])[1]["writable"] == ["routes", "route-stops"]
    assert set(access(keys["admin"])[1]["writable"]) >= {"villages", "material-zones", "routes"}
    assert access("cm_wrong." + "x" * 20)[0] == 401


@pytest.mark.parametrize("lang", ["vi", "en"])
@pytest.mark.parametrize(("device", "size"), [("desktop", (1280, 800)), ("phone", (390, 844))])
def test_screenshots_of_the_open_form(
    live: LiveServer,
    browser: Browser,
    keys: dict[str, str],
    lang: str,
    device: str,
    size: tuple[int, int],
) -> None:
    context = browser.new_context(
        viewport={"width": size[0], "height": size[1]}, locale="vi-VN", device_scale_factor=1
    )
    page = context.new_page()
    _open(page, live, keys["planner"], query=f"?lang={lang}")
    form = page.locator("#cm-editor")
    assert form.is_visible()
    SHOTS.mkdir(parents=True, exist_ok=True)
    shot = SHOTS / f"editor-{lang}-{device}.png"
    page.screenshot(path=str(shot))
    form.screenshot(path=str(SHOTS / f"editor-form-{lang}-{device}.png"))
    form.evaluate("f => { f.scrollTop = f.scrollHeight; }")
    form.screenshot(path=str(SHOTS / f"editor-form-end-{lang}-{device}.png"))
    # The form stays inside the screen: a planner on a phone can reach every field.
    box = form.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= size[0]
    assert box["y"] + box["height"] <= size[1]
    assert Path(shot).stat().st_size > 10_000
    context.close()


def test_a_planner_reshapes_a_zone(live: LiveServer, opened: Opened, keys: dict[str, str]) -> None:
    # Zones are multi-polygons: Leaflet.draw failed on them ("reading 'lat'") before.
    page = opened.page
    _open(page, live, keys["planner"])
    page.locator(".leaflet-draw-edit-edit").click()
    handles = page.locator(".leaflet-editing-icon")
    handles.first.wait_for(state="attached")
    page.wait_for_timeout(500)  # let the map finish any zoom animation
    index = page.evaluate(
        """() => [...document.querySelectorAll('.leaflet-editing-icon')].findIndex(el => {
             const r = el.getBoundingClientRect();
             return r.left > 100 && r.top > 100 && r.right < innerWidth - 400
               && r.bottom < innerHeight - 100; })"""
    )
    assert index >= 0, page.evaluate(
        """() => [...document.querySelectorAll('.leaflet-editing-icon')].slice(0, 5)
             .map(el => JSON.stringify(el.getBoundingClientRect()))"""
    )
    box = handles.nth(index).bounding_box()
    assert box is not None
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 25, y + 15, steps=6)
    page.mouse.up()
    with page.expect_response(
        lambda r: r.request.method == "PATCH" and "/material-zones/" in r.url
    ) as patched:
        page.locator(".leaflet-draw-actions a", has_text="Lưu").first.click()
    assert patched.value.status == 200, patched.value.text()
    zone = patched.value.json()
    assert zone["geometry"]["type"] == "MultiPolygon" and zone["properties"]["version"] >= 2
    page.locator("#cm-editor .cm-message.cm-ok").wait_for()
    assert opened.errors == [], opened.errors


def test_edit_handles_wait_for_the_typed_key(
    live: LiveServer, opened: Opened, keys: dict[str, str]
) -> None:
    # CI once clicked "edit" while the planner's key was still being checked: the page
    # said the empty key's answer was current, so no zone had handles.
    page = opened.page
    page.goto(f"{live.url}/maps/edit", wait_until="networkidle")
    release: list[Any] = []
    page.route("**/maps/edit/access", lambda route: release.append(route))
    field = page.locator("#cm-editor input[name=api_key]")
    field.fill(keys["planner"])
    field.dispatch_event("change")
    page.wait_for_timeout(300)
    assert len(release) == 1
    assert page.evaluate("document.getElementById('cm-editor').dataset.writable") is None
    # A viewer's key typed while the planner's answer is out: the older answer is dropped.
    field.fill(keys["viewer"])
    field.dispatch_event("change")
    page.wait_for_timeout(300)
    assert len(release) == 2
    release[1].continue_()
    poll_until(page, "() => document.getElementById('cm-editor').dataset.writable !== undefined")
    release[0].continue_()
    page.wait_for_timeout(500)
    assert page.evaluate("document.getElementById('cm-editor').dataset.writable") == ""
    page.locator(".leaflet-draw-edit-edit").click()
    assert page.locator(".leaflet-editing-icon").count() == 0
    page.unroute("**/maps/edit/access")
