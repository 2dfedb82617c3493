"""The map tests' browser is the session's ``browser`` fixture (tests/conftest.py)."""
