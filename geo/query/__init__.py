"""Reads: feature pages, streaming, vector tiles, extents and map data, as PostGIS SQL."""
