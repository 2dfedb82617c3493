"""One style system for every craftmap map: a theme is a palette, icons and a legend.

Themes are defined once here; the overview, the route maps and later the analysis and
indicator maps all draw through ``maps.layers.thematic_layer`` with one of these (or a new
one built the same way), so a material has the same colour everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from geo.io.package import Palette
from geo.kernel import vocab
from geo.kernel.text import Text


@dataclass(frozen=True)
class Theme:
    """How to draw one thematic layer.

    Parameters
    ----------
    name
        Layer name in the layer control and legend title (``theme.name(lang)``).
    column
        The property whose code picks the colour (and icon).
    vocabulary
        The ``geo.kernel.vocab`` code list giving the legend labels.
    colours
        Colour per code; ``default`` for codes not listed.
    icons
        Font Awesome icon per code (point layers).
    """

    name: Text
    column: str
    vocabulary: str
    colours: dict[str, str]
    default: str = "#6b7280"
    icons: dict[str, str] = field(default_factory=dict)
    default_icon: str = "circle"
    fill_opacity: float = 0.45

    def colour(self, code: str | None) -> str:
        """The colour of a code."""
        return self.colours.get(code or "", self.default)

    def icon(self, code: str | None) -> str:
        """The Font Awesome icon of a code."""
        return self.icons.get(code or "", self.default_icon)

    def legend(self, lang: str) -> list[tuple[str, str, str]]:
        """(colour, icon, label) per code, in the palette's order."""
        return [
            (colour, self.icon(code), vocab.label(self.vocabulary, code, lang))
            for code, colour in self.colours.items()
        ]


# Decree 52/2018 craft groups: colour-blind-safe hues (Okabe–Ito plus two), icon per trade.
CRAFT_GROUPS = Theme(
    Text("Làng nghề", "Craft villages"),
    "craft_group",
    "craft_group",
    {
        "G1": "#E69F00",
        "G2": "#CC79A7",
        "G3": "#0072B2",
        "G4": "#009E73",
        "G5": "#56B4E9",
        "G6": "#999999",
        "G7": "#D55E00",
    },
    icons={
        "G1": "wheat-awn",
        "G2": "palette",
        "G3": "industry",
        "G4": "hammer",
        "G5": "seedling",
        "G6": "water",
        "G7": "store",
    },
)

# Materials: greens for the bamboos, distinct hues for the rest.
MATERIALS = Theme(
    Text("Vùng nguyên liệu", "Raw-material zones"),
    "material",
    "material",
    {
        "luong": "#1b7837",
        "bamboo": "#5aae61",
        "nua": "#a6dba0",
        "vau": "#00441b",
        "rattan": "#8c510a",
        "sedge": "#dfc27d",
        "medicinal": "#762a83",
        "ramie": "#35978f",
        "other": "#878787",
    },
)
# Certified zones keep their material fill and get this outline.
CERTIFIED_OUTLINE = "#b8860b"

ROUTES = Theme(
    Text("Tuyến du lịch", "Tourism routes"),
    "theme",
    "route_theme",
    {
        "craft_village": "#d7301f",
        "heritage_craft": "#7a0177",
        "community_ethnic": "#225ea8",
        "city": "#252525",
    },
)

ADMIN_OUTLINE = "#525252"
ADMIN_NAME = Text("Đơn vị hành chính", "Administrative units")

# The offline context (maps/context.py): pale land on a pale sea, blue-grey coast and
# purple-grey national borders, quieter than every theme drawn over them.
LAND = "#f5f2e9"
SEA = "#d6e6f0"
COAST = "#86a6bd"
BORDER = "#7d5a7d"


# A province package's QGIS and KML styles (geo.io.package) use these same themes.
PACKAGE_PALETTE = Palette(
    villages=CRAFT_GROUPS,
    zones=MATERIALS,
    certified_outline=CERTIFIED_OUTLINE,
    routes=ROUTES,
    admin_outline=ADMIN_OUTLINE,
)


# Planner analysis (issue 14). Covered share of a village's demand, worst to best: viridis
# steps (sequential, colour-blind safe, dark enough for a white icon), grey for villages
# with no demand figure; an icon per class, so the class reads without the colour too.
COVERAGE_CLASSES = Theme(
    Text("Làng nghề theo mức được cung ứng", "Villages by share of demand supplied"),
    "coverage_class",
    "coverage_class",
    {
        "none": "#440154",
        "low": "#3b528b",
        "most": "#21918c",
        "full": "#5ec962",
        "unknown": "#9e9e9e",
    },
    icons={
        "none": "xmark",
        "low": "battery-quarter",
        "most": "battery-three-quarters",
        "full": "check",
        "unknown": "question",
    },
)
COVERAGE_CLASS_LABELS: dict[str, Text] = {
    "none": Text("0 % (không được cung ứng)", "0 % (nothing supplied)"),
    "low": Text("dưới 50 %", "under 50 %"),
    "most": Text("từ 50 % đến dưới 100 %", "50 % to 99 %"),
    "full": Text("100 % (đủ)", "100 % (fully supplied)"),
    "unknown": Text("chưa có số liệu nhu cầu", "no demand figure"),
}
# Zone → village flows (lines, width by tonnes) and unmet demand (graduated circles).
FLOW_COLOUR = "#0072B2"
UNMET_COLOUR = "#D55E00"
# Suggested sites (ranked cells), cells left out nearby, and exclusion areas.
SITE_COLOUR = "#CC79A7"
EXCLUDED_CELL_COLOUR = "#7f7f7f"
EXCLUSION_COLOUR = "#b2182b"
# Largest flow width and unmet-demand circle radius, in pixels.
FLOW_MAX_WIDTH = 12.0
FLOW_MIN_WIDTH = 1.5
CIRCLE_MAX_RADIUS = 28.0
