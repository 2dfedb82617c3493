"""Persistence: engines, models, migrations, the catalog, keys, history, domain rules,
each collection's write hooks and writes. Everything that changes a row goes through here."""
