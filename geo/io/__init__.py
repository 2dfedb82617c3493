"""Exchange with files: readers, writers and upserts (GeoPackage, Shapefile, CSV, demo data)."""
