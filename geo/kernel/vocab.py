"""Code lists of the data model, with Vietnamese and English labels.

Stored values are stable ASCII codes (constrained in the database by CHECK constraints);
the labels are what pages and maps show.
"""

from __future__ import annotations

from enum import StrEnum

from geo.kernel.text import DEFAULT_LANG, Text


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


class LineSource(StrEnum):
    """Where a route's line comes from."""

    STOPS = "stops"  # straight segments joining the stops in order
    ROADS = "roads"  # legs along the road network, computed by the route designer
    DRAWN = "drawn"  # drawn by hand; kept as drawn while it passes every stop


class LegKind(StrEnum):
    """How one leg of a designed route was drawn."""

    ROAD = "road"  # along the road network (pgRouting)
    GEODESIC = "geodesic"  # a straight fallback: no network, or the stops are not connected
    BOAT = "boat"  # a boat leg: drawn straight by design


# Km/h of a leg drawn straight (no road network, stops not connected, a boat leg) and of an
# undesigned route's estimate: the old route duration's 40 km/h for cars, and what each
# mode keeps up on the way on average. One table, so the map and the designer agree.
STRAIGHT_LINE_KMH: dict[str, float] = {
    "car": 40.0,
    "motorbike": 35.0,
    "bicycle": 15.0,
    "walking": 4.5,
    "boat": 12.0,
}


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


class RoadClass(StrEnum):
    """Class of a road-network edge (OpenStreetMap ``highway`` values, grouped)."""

    MOTORWAY = "motorway"
    TRUNK = "trunk"
    PRIMARY = "primary"
    SECONDARY = "secondary"
    TERTIARY = "tertiary"
    UNCLASSIFIED = "unclassified"
    RESIDENTIAL = "residential"
    SERVICE = "service"
    TRACK = "track"
    PATH = "path"
    FERRY = "ferry"


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


class ProgrammeLevel(StrEnum):
    """Who issued a programme: the Prime Minister (national) or a province's committee."""

    NATIONAL = "national"
    PROVINCE = "province"


class Indicator(StrEnum):
    """What a programme target measures (801/QĐ-TTg Art. 1, 4182/QĐ-UBND Art. 2).

    Plans that give one figure for crafts restored *and* newly recognised (4182) use the
    ``*_restored_or_recognised`` codes; the national programme counts them apart. OCOP is
    measured two ways: ``share_ocop`` over rural craft establishments (4182),
    ``share_villages_ocop`` over traditional craft villages (801).
    """

    CRAFTS_RESTORED = "crafts_restored"
    VILLAGES_RESTORED = "villages_restored"
    CRAFTS_RECOGNISED = "crafts_recognised"
    VILLAGES_RECOGNISED = "villages_recognised"
    CRAFTS_RESTORED_OR_RECOGNISED = "crafts_restored_or_recognised"
    VILLAGES_RESTORED_OR_RECOGNISED = "villages_restored_or_recognised"
    VILLAGES_TOURISM_LINKED = "villages_tourism_linked"
    SHARE_EFFECTIVE = "share_effective"
    SHARE_WORKERS_TRAINED = "share_workers_trained"
    SHARE_OCOP = "share_ocop"
    SHARE_VILLAGES_OCOP = "share_villages_ocop"
    SHARE_IP_PROTECTED = "share_ip_protected"
    PRODUCTION_VALUE_GROWTH = "production_value_growth"
    INCOME_VS_2020 = "income_vs_2020"
    SHARE_ENV_PLAN = "share_env_plan"
    EXPORTS_USD = "exports_usd"


class Comparison(StrEnum):
    """How a target's value binds: at least, more than, or about."""

    AT_LEAST = "at_least"
    MORE_THAN = "more_than"
    ABOUT = "about"


class TargetUnit(StrEnum):
    """The unit of a target's value."""

    COUNT = "count"
    PERCENT = "percent"
    PERCENT_PER_YEAR = "percent_per_year"
    RATIO = "ratio"
    USD = "usd"


class TargetStatus(StrEnum):
    """Where an indicator stands against one of its targets in the report year."""

    MET = "met"
    ON_TRACK = "on_track"
    BEHIND = "behind"
    MISSED = "missed"
    NO_DATA = "no_data"


class ActionKind(StrEnum):
    """Lists of records that need action (4182/QĐ-UBND appendix, task 3.2)."""

    ABOLISHED_NAME = "abolished_name"
    NO_ENV_PLAN = "no_env_plan"
    AT_RISK = "at_risk"
    EXPIRING_CERTIFICATE = "expiring_certificate"


LABELS: dict[str, dict[str, Text]] = {
    "village_kind": {
        VillageKind.CRAFT_VILLAGE: Text("Làng nghề", "Craft village"),
        VillageKind.TRADITIONAL_CRAFT_VILLAGE: Text(
            "Làng nghề truyền thống",
            "Traditional craft village",
        ),
        VillageKind.TRADITIONAL_CRAFT: Text("Nghề truyền thống", "Traditional craft"),
    },
    "craft_group": {
        CraftGroup.G1: Text(
            "Chế biến, bảo quản nông, lâm, thủy sản",
            "Farm, forest and fish processing",
        ),
        CraftGroup.G2: Text("Sản xuất hàng thủ công mỹ nghệ", "Fine-art handicrafts"),
        CraftGroup.G3: Text("Xử lý, chế biến nguyên liệu", "Raw-material processing"),
        CraftGroup.G4: Text(
            "Gỗ, mây tre, gốm sứ, dệt may, cơ khí nhỏ",
            "Wood, rattan-bamboo, ceramics, textiles",
        ),
        CraftGroup.G5: Text("Sinh vật cảnh", "Ornamental plants and animals"),
        CraftGroup.G6: Text("Làm muối", "Salt making"),
        CraftGroup.G7: Text("Dịch vụ nông thôn", "Rural services"),
    },
    "village_status": {
        VillageStatus.ACTIVE: Text("Đang hoạt động", "Active"),
        VillageStatus.AT_RISK: Text("Có nguy cơ mai một", "At risk"),
        VillageStatus.LOST: Text("Đã mất", "Lost"),
        VillageStatus.RESTORED: Text("Đã khôi phục", "Restored"),
        VillageStatus.REVOKED: Text("Bị thu hồi", "Revoked"),
    },
    "material": {
        Material.LUONG: Text("Luồng", "Luồng bamboo"),
        Material.BAMBOO: Text("Tre", "Bamboo"),
        Material.NUA: Text("Nứa", "Nứa bamboo"),
        Material.VAU: Text("Vầu", "Vầu bamboo"),
        Material.RATTAN: Text("Mây", "Rattan"),
        Material.SEDGE: Text("Cói", "Sedge"),
        Material.MEDICINAL: Text("Dược liệu", "Medicinal plants"),
        Material.RAMIE: Text("Gai xanh", "Ramie"),
        Material.OTHER: Text("Khác", "Other"),
    },
    "zone_status": {
        ZoneStatus.EXISTING: Text("Hiện có", "Existing"),
        ZoneStatus.PLANNED: Text("Quy hoạch", "Planned"),
        ZoneStatus.PROPOSED: Text("Đề xuất", "Proposed"),
    },
    "land_type": {
        LandType.PRODUCTION_FOREST: Text("Rừng sản xuất", "Production forest"),
        LandType.PROTECTION_FOREST: Text("Rừng phòng hộ", "Protection forest"),
        LandType.SPECIAL_USE_FOREST: Text("Rừng đặc dụng", "Special-use forest"),
        LandType.FARMLAND: Text("Đất nông nghiệp", "Farmland"),
        LandType.UNDER_CANOPY: Text("Dưới tán rừng", "Under forest canopy"),
    },
    "owner_type": {
        OwnerType.HOUSEHOLD: Text("Hộ gia đình", "Household"),
        OwnerType.HOUSEHOLD_GROUP: Text("Nhóm hộ", "Household group"),
        OwnerType.STATE_FOREST_COMPANY: Text("Công ty lâm nghiệp nhà nước", "State forest company"),
        OwnerType.COOPERATIVE: Text("Hợp tác xã", "Cooperative"),
        OwnerType.ENTERPRISE: Text("Doanh nghiệp", "Enterprise"),
        OwnerType.COMMUNE: Text("Ủy ban nhân dân xã", "Commune people's committee"),
    },
    "certification_scheme": {
        CertificationScheme.FSC_FM: Text(
            "FSC quản lý rừng (FSC-FM)", "FSC forest management (FSC-FM)"
        ),
        CertificationScheme.FSC_COC: Text(
            "FSC chuỗi hành trình (FSC-CoC)", "FSC chain of custody (FSC-CoC)"
        ),
        CertificationScheme.PEFC: Text(
            "PEFC (chứng chỉ rừng quốc tế)", "PEFC (forest certificate)"
        ),
        CertificationScheme.VFCS: Text(
            "VFCS (chứng chỉ rừng Việt Nam)", "VFCS (Vietnam forest certificate)"
        ),
        CertificationScheme.ORGANIC: Text("Hữu cơ", "Organic"),
        CertificationScheme.VIETGAP: Text(
            "VietGAP (thực hành nông nghiệp tốt)", "VietGAP (good agricultural practice)"
        ),
        CertificationScheme.GACP_WHO: Text("GACP-WHO (dược liệu)", "GACP-WHO (medicinal plants)"),
    },
    "route_status": {
        RouteStatus.DRAFT: Text("Bản nháp", "Draft"),
        RouteStatus.PLANNED: Text("Dự kiến", "Planned"),
        RouteStatus.OPERATING: Text("Đang khai thác", "Operating"),
        RouteStatus.RETIRED: Text("Ngừng khai thác", "Retired"),
    },
    "route_theme": {
        RouteTheme.CRAFT_VILLAGE: Text("Làng nghề", "Craft villages"),
        RouteTheme.HERITAGE_CRAFT: Text("Di sản nghề", "Heritage crafts"),
        RouteTheme.COMMUNITY_ETHNIC: Text("Cộng đồng dân tộc", "Ethnic communities"),
        RouteTheme.CITY: Text("Đô thị", "City"),
    },
    # (pages, issue 12) the other code lists a feature page shows.
    "geom_precision": {
        GeomPrecision.SURVEYED: Text("đo đạc", "surveyed"),
        GeomPrecision.HAMLET: Text("tâm thôn", "hamlet centre"),
        GeomPrecision.COMMUNE_CENTROID: Text("tâm xã", "commune centre"),
        GeomPrecision.DISTRICT: Text("tâm huyện", "district centre"),
    },
    "travel_mode": {
        TravelMode.CAR: Text("Ô tô", "Car"),
        TravelMode.MOTORBIKE: Text("Xe máy", "Motorbike"),
        TravelMode.BICYCLE: Text("Xe đạp", "Bicycle"),
        TravelMode.WALKING: Text("Đi bộ", "On foot"),
        TravelMode.BOAT: Text("Thuyền", "Boat"),
    },
    "road_class": {
        RoadClass.MOTORWAY: Text("Đường cao tốc", "Motorway"),
        RoadClass.TRUNK: Text("Quốc lộ chính", "Trunk road"),
        RoadClass.PRIMARY: Text("Quốc lộ, đường chính", "Primary road"),
        RoadClass.SECONDARY: Text("Đường tỉnh, đường phụ", "Secondary road"),
        RoadClass.TERTIARY: Text("Đường huyện, đường nhỏ", "Tertiary road"),
        RoadClass.UNCLASSIFIED: Text("Đường xã", "Minor road"),
        RoadClass.RESIDENTIAL: Text("Đường thôn, ngõ phố", "Residential street"),
        RoadClass.SERVICE: Text("Đường nội bộ", "Service road"),
        RoadClass.TRACK: Text("Đường đất, đường lâm nghiệp", "Track"),
        RoadClass.PATH: Text("Đường mòn, đường đi bộ", "Path"),
        RoadClass.FERRY: Text("Phà, đò", "Ferry"),
    },
    "admin_level": {
        AdminLevel.PROVINCE: Text("Tỉnh", "Province"),
        AdminLevel.DISTRICT: Text("Huyện", "District"),
        AdminLevel.COMMUNE: Text("Xã, phường", "Commune"),
    },
    "programme_level": {
        ProgrammeLevel.NATIONAL: Text("Quốc gia", "National"),
        ProgrammeLevel.PROVINCE: Text("Tỉnh", "Province"),
    },
    "indicator": {
        Indicator.CRAFTS_RESTORED: Text(
            "Nghề được khôi phục, bảo tồn", "Crafts restored or preserved"
        ),
        Indicator.VILLAGES_RESTORED: Text(
            "Làng nghề được khôi phục, bảo tồn", "Villages restored or preserved"
        ),
        Indicator.CRAFTS_RECOGNISED: Text(
            "Nghề truyền thống được công nhận mới", "Crafts newly recognised"
        ),
        Indicator.VILLAGES_RECOGNISED: Text(
            "Làng nghề truyền thống được công nhận mới", "Villages newly recognised"
        ),
        Indicator.CRAFTS_RESTORED_OR_RECOGNISED: Text(
            "Nghề được khôi phục, bảo tồn hoặc công nhận mới",
            "Crafts restored, preserved or newly recognised",
        ),
        Indicator.VILLAGES_RESTORED_OR_RECOGNISED: Text(
            "Làng nghề được khôi phục, bảo tồn hoặc công nhận mới",
            "Villages restored, preserved or newly recognised",
        ),
        Indicator.VILLAGES_TOURISM_LINKED: Text(
            "Làng nghề gắn với phát triển du lịch", "Villages linked with tourism"
        ),
        Indicator.SHARE_EFFECTIVE: Text(
            "Tỷ lệ làng nghề hoạt động hiệu quả", "Share of villages operating effectively"
        ),
        Indicator.SHARE_WORKERS_TRAINED: Text(
            "Tỷ lệ lao động được đào tạo", "Share of workers trained"
        ),
        Indicator.SHARE_OCOP: Text(
            "Tỷ lệ cơ sở ngành nghề nông thôn có sản phẩm OCOP",
            "Share of rural craft establishments with OCOP-ranked products",
        ),
        Indicator.SHARE_VILLAGES_OCOP: Text(
            "Tỷ lệ làng nghề truyền thống có sản phẩm OCOP",
            "Share of traditional craft villages with OCOP-ranked products",
        ),
        Indicator.SHARE_IP_PROTECTED: Text(
            "Tỷ lệ làng nghề có sản phẩm được bảo hộ sở hữu trí tuệ",
            "Share of villages with IP-protected products",
        ),
        Indicator.PRODUCTION_VALUE_GROWTH: Text(
            "Tăng trưởng giá trị sản xuất bình quân", "Average growth of production value"
        ),
        Indicator.INCOME_VS_2020: Text(
            "Thu nhập bình quân so với năm 2020", "Average income against 2020"
        ),
        Indicator.SHARE_ENV_PLAN: Text(
            "Tỷ lệ làng nghề có phương án bảo vệ môi trường",
            "Share with an environmental protection plan",
        ),
        Indicator.EXPORTS_USD: Text("Kim ngạch xuất khẩu hàng thủ công", "Craft exports"),
    },
    "comparison": {
        Comparison.AT_LEAST: Text("Ít nhất", "At least"),
        Comparison.MORE_THAN: Text("Trên", "More than"),
        Comparison.ABOUT: Text("Khoảng", "About"),
    },
    "target_unit": {
        TargetUnit.COUNT: Text("Số lượng", "Count"),
        TargetUnit.PERCENT: Text("Phần trăm", "Percent"),
        TargetUnit.PERCENT_PER_YEAR: Text("Phần trăm mỗi năm", "Percent a year"),
        TargetUnit.RATIO: Text("Lần", "Times"),
        TargetUnit.USD: Text("Đô la Mỹ", "US dollars"),
    },
    "target_status": {
        TargetStatus.MET: Text("Đạt", "Met"),
        TargetStatus.ON_TRACK: Text("Đúng tiến độ", "On track"),
        TargetStatus.BEHIND: Text("Chậm tiến độ", "Behind"),
        TargetStatus.MISSED: Text("Không đạt", "Missed"),
        TargetStatus.NO_DATA: Text("Chưa có số liệu", "No data"),
    },
    "action_kind": {
        ActionKind.ABOLISHED_NAME: Text(
            "Hồ sơ công nhận ghi tên đơn vị hành chính đã bị bãi bỏ",
            "Recognition names an abolished administrative unit",
        ),
        ActionKind.NO_ENV_PLAN: Text(
            "Chưa có phương án bảo vệ môi trường", "No environmental protection plan"
        ),
        ActionKind.AT_RISK: Text("Có nguy cơ mai một", "At risk of being lost"),
        ActionKind.EXPIRING_CERTIFICATE: Text(
            "Chứng chỉ vùng nguyên liệu sắp hết hạn hoặc đã hết hạn",
            "Zone certificate expiring or expired",
        ),
    },
}


def label(vocabulary: str, code: str, lang: str = DEFAULT_LANG) -> str:
    """Label of a code in Vietnamese (default) or English; the code itself if unknown.

    Examples
    --------
    >>> label("material", "sedge")
    'Cói'
    >>> label("material", "sedge", "en")
    'Sedge'
    >>> label("indicator", "villages_tourism_linked")
    'Làng nghề gắn với phát triển du lịch'
    """
    text = LABELS.get(vocabulary, {}).get(code)
    return code if text is None else text(lang)
