"""Volume mode: one multi-GB delivery written quickly, for load tests and benchmarks.

Rows are generated vectorised in chunks (numpy + polars, no per-row Python) and streamed to
disk, so memory stays at one chunk whatever the file size; a progress bar shows bytes written.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from faker import Faker
from tqdm import tqdm

from carelake.spec import SourceSpec
from carelake.tools.simulation.values import Context, generate
from carelake.tools.simulation.writers import writer_for


@dataclass(frozen=True)
class VolumeReport:
    path: Path
    rows: int
    bytes: int
    seconds: float

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds

    @property
    def mb_per_s(self) -> float:
        return self.bytes / 1e6 / self.seconds


def write_volume(spec: SourceSpec, path: Path, target_bytes: int, window: tuple[dt.date, dt.date], seed: int = 0,
                 chunk_rows: int = 250_000, member_pool: int = 1_000_000, progress: bool | None = None) -> VolumeReport:
    """Write at least `target_bytes` of the spec's format to `path`; deterministic for a seed."""
    writer = writer_for(spec)
    if not appendable(spec):
        # Chunks are appended: a document (XML, JSON, Parquet, SAS) or a trailer record would repeat per chunk.
        raise NotImplementedError(
            f"{spec.key}: volume mode writes line formats only (csv, ndjson, fixed_width without header/trailer "
            f"records), not {spec.format.kind!r}; use `carelake simulate` for deliveries of this feed"
        )
    digest = hashlib.sha256(f"{seed}/{spec.key}/volume".encode()).digest()
    rng = np.random.default_rng(int.from_bytes(digest[:8], "big"))
    fake = Faker("en_US")
    fake.seed_instance(seed)
    rows = written = 0
    started = time.perf_counter()
    # disable=None: a bar on a terminal, silence in CI logs.
    with path.open("wb") as out, tqdm(total=target_bytes, unit="B", unit_scale=True, desc=path.name,
                                       disable=None if progress is None else not progress) as bar:
        while written < target_bytes:
            frame = generate(Context(spec, window, chunk_rows, member_pool, rng, fake, offset=rows))
            data = writer(spec, frame, rows == 0)
            out.write(data)
            rows += frame.height
            written += len(data)
            bar.update(len(data))
    return VolumeReport(path, rows, written, time.perf_counter() - started)


def appendable(spec: SourceSpec) -> bool:
    """Whether chunks written one after another make one valid file of the spec's format."""
    fmt = spec.format
    if fmt.kind == "fixed_width":
        return fmt.record_types is None or not fmt.record_types.skip
    return fmt.kind in ("csv", "ndjson")
