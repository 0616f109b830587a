"""Shared test helpers (waits, paths, fakes, harnesses): test modules import these, never each other."""
