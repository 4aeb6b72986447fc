"""Kept for bench/ingest.py, which imports `spec_of` from here: the helpers live in tests/support."""

from tests.support.specs import spec_of

__all__ = ["spec_of"]
