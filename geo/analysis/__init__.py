"""Pure computations (coverage, siting, stop ordering, indicators).

Each takes frames or arrays and returns results: no database driver, no other room but the
kernel (an import-linter contract), so each is tested on hand-built cases without PostGIS.
geo.workflows fetches the data, calls these and stores or serves the results.
"""
