"""Jobs that join data and analysis: read through geo.store/geo.query, compute with
geo.analysis, write back through geo.store. The only room allowed to import both sides."""
