"""Tests of the planner analysis (issue 14)."""
