"""Collection identifiers shared by the API, the tiles and the maps."""

VILLAGES = "villages"
MATERIAL_ZONES = "material-zones"
ROUTES = "routes"
ROUTE_STOPS = "route-stops"
ADMIN_UNITS = "admin-units"
ROADS = "roads"
