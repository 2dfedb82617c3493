"""Import a province's files into any collection (issue 13 point 1)."""

from geo.io.imports.mapping import ColumnMapping, parse_inline, read_mapping_file
from geo.io.imports.pipeline import ImportOutcome, ImportRequest, RowResult, run_import

__all__ = [
    "ColumnMapping",
    "ImportOutcome",
    "ImportRequest",
    "RowResult",
    "parse_inline",
    "read_mapping_file",
    "run_import",
]
