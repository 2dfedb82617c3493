"""The API tests' key fixture, shared with the route designer's tests."""

from tests.api.conftest import keys

__all__ = ["keys"]
