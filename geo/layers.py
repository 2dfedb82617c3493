"""Collection identifiers shared by the API, the tiles and the maps."""

VILLAGES = "villages"
MATERIAL_ZONES = "material-zones"
ROUTES = "routes"
ROUTE_STOPS = "route-stops"
ADMIN_UNITS = "admin-units"

CORE_COLLECTIONS = (VILLAGES, MATERIAL_ZONES, ROUTES, ROUTE_STOPS, ADMIN_UNITS)
