"""Persistence: engines, models, migrations, the catalog, keys, history, domain rules and
writes. Everything that changes a row goes through here."""
