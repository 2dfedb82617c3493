"""The route designer against PostGIS and pgRouting (issue 15)."""
