"""Writers turn a frame of strings into a delivered file's bytes, one per format kind.

A registry keyed by `spec.format.kind`: each writer is the inverse of its reader in `carelake/formats/`
(one module here per reader module there) for the values the simulator generates, and declares the
line (or record) number its first data row gets from that reader, so injected faults name the line
quarantine names.
Packaging (compression, zip, PGP) is applied afterwards by `simulation/packing.py`.
"""

from __future__ import annotations

from carelake.spec import SourceSpec
from carelake.tools.simulation.writers.registry import FIRST_LINES, WRITERS, Writer


def first_line(spec: SourceSpec) -> int:
    """The `_line` the reader gives the first data row the spec's writer writes."""
    writer_for(spec)  # the same error for a kind without a writer
    return FIRST_LINES[spec.format.kind](spec)


def writer_for(spec: SourceSpec) -> Writer:
    """The writer for the spec's format; NotImplementedError names the kinds that exist."""
    try:
        return WRITERS[spec.format.kind]
    except KeyError:
        raise NotImplementedError(
            f"{spec.key}: the simulator has no writer for format {spec.format.kind!r} yet (writers: {sorted(WRITERS)}); "
            "register one in carelake/tools/simulation/writers/"
        ) from None


# Every format's writer registers itself on import.
from carelake.tools.simulation.writers import delimited, fixed_width, json, parquet, sas, xml  # noqa: E402,F401

__all__ = ["Writer", "first_line", "writer_for"]
