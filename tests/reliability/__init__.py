"""Reliability: races, several server processes and faults (issue 6)."""
