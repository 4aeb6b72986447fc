"""What the lake and dead-run tests run in other processes (multiprocessing's spawn method: deltalake
panics after fork). Kept apart from the test modules so a child imports only what it runs."""

from __future__ import annotations

import time
from pathlib import Path

import polars as pl

from resources.lake import DeltaLake
from resources.selection import PartitionSelection

DAY, NEXT_DAY = "2026-10-01", "2026-10-02"
FOLLOWING = {"2026-09-30": DAY, DAY: NEXT_DAY, NEXT_DAY: "2026-10-03"}
FAST = {"commit_backoff_seconds": 0.01}  # the same bounded retries, shorter waits


def day(key: str) -> PartitionSelection:
    """A one-day range selection, as a Dagster run of a daily partition writes it."""
    return PartitionSelection.key_range(key, FOLLOWING[key])


def frame(key: str, writer: str, rows: int) -> pl.DataFrame:
    return pl.DataFrame({"_partition": [key] * rows, "n": range(rows), "writer": [writer] * rows})


def write(lake: DeltaLake, path: list[str], key: str, writer: str, how: str, rows: int) -> None:
    data = frame(key, writer, rows)
    if how == "replace":
        lake.replace(path, data, day(key))
    else:  # the streamed path raw and quarantine use: staged files, one commit
        table = data.to_arrow()
        with lake.overwrite(path, table.schema, day(key)) as staged:
            staged.write(table.to_batches(max_chunksize=500))
            staged.commit()


def serve_writes(root: str, options: dict, barrier, inbox, outbox) -> None:  # noqa: ANN001 - multiprocessing primitives
    """A writer process: for each job, wait at the barrier with the other writers, then write."""
    lake = DeltaLake(root=root, storage_options=options, **FAST)
    while (job := inbox.get()) is not None:
        path, key, writer, how, rows = job
        barrier.wait(timeout=60)
        try:
            write(lake, path, key, writer, how, rows)
            outbox.put((writer, None, ""))
        except Exception as exc:  # noqa: BLE001 - reported to the test, which fails on anything unexpected
            outbox.put((writer, type(exc).__name__, str(exc)))


def write_and_hang(root: str, path: list[str], ready) -> None:  # noqa: ANN001 - a multiprocessing Event
    """A staged write of 1,000 rows of DAY that has written its files (100 rows each) and hangs before its commit."""
    import resources.delta_files

    resources.delta_files.ROWS_PER_FILE = 100
    table = frame(DAY, "killed", 1_000).to_arrow()

    def batches():  # noqa: ANN202
        yield from table.to_batches(max_chunksize=100)
        ready.set()
        time.sleep(600)

    with DeltaLake(root=root).overwrite(path, table.schema, day(DAY)) as staged:
        staged.write(batches())
        staged.commit()


def store(root: str, source: str, folder: list[str]) -> None:
    DeltaLake(root=root).store_file(Path(source), folder)


def run_stuck(home: str) -> None:
    """A Dagster run executed in this process (as `dagster asset materialize` does), stuck in its step."""
    import dagster as dg

    @dg.asset
    def stuck() -> None:
        time.sleep(600)

    with dg.DagsterInstance.from_config(home) as instance:
        dg.materialize([stuck], instance=instance)
