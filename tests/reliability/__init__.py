"""Reliability: faults, bad input and load (issue 10)."""
