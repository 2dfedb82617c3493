"""folium map builders: pure functions from data or tile URLs to ``folium.Map`` objects."""
