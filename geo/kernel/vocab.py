"""Code lists of the data model, with Vietnamese and English labels.

Stored values are stable ASCII codes (constrained in the database by CHECK constraints);
the labels are what pages and maps show.
"""

from __future__ import annotations

from enum import StrEnum


class VillageKind(StrEnum):
    """Decree 52/2018 Art. 3: what was recognised."""

    CRAFT_VILLAGE = "craft_village"
    TRADITIONAL_CRAFT_VILLAGE = "traditional_craft_village"
    TRADITIONAL_CRAFT = "traditional_craft"


class CraftGroup(StrEnum):
    """Decree 52/2018 Art. 4 rural-trade groups."""

    G1 = "G1"
    G2 = "G2"
    G3 = "G3"
    G4 = "G4"
    G5 = "G5"
    G6 = "G6"
    G7 = "G7"


class VillageStatus(StrEnum):
    """Life state of a village or craft (its effectiveness is a separate flag)."""

    ACTIVE = "active"
    AT_RISK = "at_risk"
    LOST = "lost"
    RESTORED = "restored"
    REVOKED = "revoked"


class GeomPrecision(StrEnum):
    """How a position was obtained; ``precision_m`` gives the size of the uncertainty."""

    SURVEYED = "surveyed"
    HAMLET = "hamlet"
    COMMUNE_CENTROID = "commune_centroid"
    DISTRICT = "district"


class Material(StrEnum):
    """Raw materials of the programme's concentrated zones."""

    LUONG = "luong"
    BAMBOO = "bamboo"
    NUA = "nua"
    VAU = "vau"
    RATTAN = "rattan"
    SEDGE = "sedge"
    MEDICINAL = "medicinal"
    RAMIE = "ramie"
    OTHER = "other"


class ZoneStatus(StrEnum):
    """Planning state of a material zone."""

    EXISTING = "existing"
    PLANNED = "planned"
    PROPOSED = "proposed"


class LandType(StrEnum):
    """Land category a zone sits on."""

    PRODUCTION_FOREST = "production_forest"
    PROTECTION_FOREST = "protection_forest"
    SPECIAL_USE_FOREST = "special_use_forest"
    FARMLAND = "farmland"
    UNDER_CANOPY = "under_canopy"


class OwnerType(StrEnum):
    """Who holds or manages a zone."""

    HOUSEHOLD = "household"
    HOUSEHOLD_GROUP = "household_group"
    STATE_FOREST_COMPANY = "state_forest_company"
    COOPERATIVE = "cooperative"
    ENTERPRISE = "enterprise"
    COMMUNE = "commune"


class CertificationScheme(StrEnum):
    """Sustainability and quality certificates a zone can hold."""

    FSC_FM = "FSC-FM"
    FSC_COC = "FSC-CoC"
    PEFC = "PEFC"
    VFCS = "VFCS"
    ORGANIC = "organic"
    VIETGAP = "VietGAP"
    GACP_WHO = "GACP-WHO"


class RouteTheme(StrEnum):
    """Kind of tourism route."""

    CRAFT_VILLAGE = "craft_village"
    HERITAGE_CRAFT = "heritage_craft"
    COMMUNITY_ETHNIC = "community_ethnic"
    CITY = "city"


class TravelMode(StrEnum):
    """How a route is travelled."""

    CAR = "car"
    MOTORBIKE = "motorbike"
    BICYCLE = "bicycle"
    WALKING = "walking"
    BOAT = "boat"


class RouteStatus(StrEnum):
    """Life state of a tourism route."""

    DRAFT = "draft"
    PLANNED = "planned"
    OPERATING = "operating"
    RETIRED = "retired"


class AdminLevel(StrEnum):
    """Administrative level; districts exist only before the 2025 reform."""

    PROVINCE = "province"
    DISTRICT = "district"
    COMMUNE = "commune"


class ReferenceKind(StrEnum):
    """What a user-imported reference layer is used for in analysis."""

    EXCLUSION = "exclusion"
    LAND_USE = "land_use"
    ROADS = "roads"
    OTHER = "other"


class Role(StrEnum):
    """API key roles, from least to most powerful."""

    VIEWER = "viewer"
    PLANNER = "planner"
    TOURISM = "tourism"
    ADMIN = "admin"


class HistoryAction(StrEnum):
    """Kinds of write recorded in the feature history."""

    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    RESTORE = "restore"


LABELS: dict[str, dict[str, tuple[str, str]]] = {
    "village_kind": {
        VillageKind.CRAFT_VILLAGE: ("Làng nghề", "Craft village"),
        VillageKind.TRADITIONAL_CRAFT_VILLAGE: (
            "Làng nghề truyền thống",
            "Traditional craft village",
        ),
        VillageKind.TRADITIONAL_CRAFT: ("Nghề truyền thống", "Traditional craft"),
    },
    "craft_group": {
        CraftGroup.G1: (
            "Chế biến, bảo quản nông, lâm, thủy sản",
            "Farm, forest and fish processing",
        ),
        CraftGroup.G2: ("Sản xuất hàng thủ công mỹ nghệ", "Fine-art handicrafts"),
        CraftGroup.G3: ("Xử lý, chế biến nguyên liệu", "Raw-material processing"),
        CraftGroup.G4: (
            "Gỗ, mây tre, gốm sứ, dệt may, cơ khí nhỏ",
            "Wood, rattan-bamboo, ceramics, textiles",
        ),
        CraftGroup.G5: ("Sinh vật cảnh", "Ornamental plants and animals"),
        CraftGroup.G6: ("Làm muối", "Salt making"),
        CraftGroup.G7: ("Dịch vụ nông thôn", "Rural services"),
    },
    "village_status": {
        VillageStatus.ACTIVE: ("Đang hoạt động", "Active"),
        VillageStatus.AT_RISK: ("Có nguy cơ mai một", "At risk"),
        VillageStatus.LOST: ("Đã mất", "Lost"),
        VillageStatus.RESTORED: ("Đã khôi phục", "Restored"),
        VillageStatus.REVOKED: ("Bị thu hồi", "Revoked"),
    },
    "material": {
        Material.LUONG: ("Luồng", "Luồng bamboo"),
        Material.BAMBOO: ("Tre", "Bamboo"),
        Material.NUA: ("Nứa", "Nứa bamboo"),
        Material.VAU: ("Vầu", "Vầu bamboo"),
        Material.RATTAN: ("Mây", "Rattan"),
        Material.SEDGE: ("Cói", "Sedge"),
        Material.MEDICINAL: ("Dược liệu", "Medicinal plants"),
        Material.RAMIE: ("Gai xanh", "Ramie"),
        Material.OTHER: ("Khác", "Other"),
    },
    "zone_status": {
        ZoneStatus.EXISTING: ("Hiện có", "Existing"),
        ZoneStatus.PLANNED: ("Quy hoạch", "Planned"),
        ZoneStatus.PROPOSED: ("Đề xuất", "Proposed"),
    },
    "route_status": {
        RouteStatus.DRAFT: ("Bản nháp", "Draft"),
        RouteStatus.PLANNED: ("Dự kiến", "Planned"),
        RouteStatus.OPERATING: ("Đang khai thác", "Operating"),
        RouteStatus.RETIRED: ("Ngừng khai thác", "Retired"),
    },
    "route_theme": {
        RouteTheme.CRAFT_VILLAGE: ("Làng nghề", "Craft villages"),
        RouteTheme.HERITAGE_CRAFT: ("Di sản nghề", "Heritage crafts"),
        RouteTheme.COMMUNITY_ETHNIC: ("Cộng đồng dân tộc", "Ethnic communities"),
        RouteTheme.CITY: ("Đô thị", "City"),
    },
}


def label(vocabulary: str, code: str, lang: str = "vi") -> str:
    """Label of a code in Vietnamese (default) or English; the code itself if unknown.

    Examples
    --------
    >>> label("material", "sedge")
    'Cói'
    >>> label("material", "sedge", "en")
    'Sedge'
    """
    pair = LABELS.get(vocabulary, {}).get(code)
    if pair is None:
        return code
    return pair[1] if lang == "en" else pair[0]
