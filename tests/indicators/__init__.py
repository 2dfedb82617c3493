"""Programme targets and the indicators computed against them (issue 16)."""
