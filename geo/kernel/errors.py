"""Domain errors. ``geo`` never raises HTTP errors; ``api.errors`` maps these to statuses."""


class GeoError(Exception):
    """Base of every craftmap domain error."""


class NotFound(GeoError):
    """A feature, collection or record does not exist."""


class InvalidInput(GeoError):
    """A value breaks a rule of the data model (the message names the rule)."""


class InvalidGeometry(InvalidInput):
    """A geometry is invalid, empty, of the wrong type or outside its allowed area."""


class Conflict(GeoError):
    """A write collides with existing data (duplicate code, stale version…)."""


class DatabaseUnavailable(GeoError):
    """The database cannot be reached, or its schema is not migrated."""


class ClusterError(GeoError):
    """The private PostgreSQL cluster could not be created, started or stopped."""


class MissingSoftware(ClusterError):
    """A program craftmap needs is not installed; the message names the package."""


class InvalidFilter(InvalidInput):
    """A CQL2 filter is malformed, or names an unknown property or a wrong type."""


class LimitExceeded(InvalidInput):
    """A request is larger than a configured limit; names the limit and its value."""

    def __init__(self, message: str, *, limit: str, value: int) -> None:
        super().__init__(message)
        self.limit = limit
        self.value = value
