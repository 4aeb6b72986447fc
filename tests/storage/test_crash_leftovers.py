"""What a SIGKILL mid-write leaves behind, and who cleans it up: uncommitted Parquet files in a table's
partition folder (readers go through the Delta log, `vacuum` deletes them once past the retention
period) and partial landed copies (removed by the next landed run). Real processes, really killed."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import time
from pathlib import Path

import polars as pl
import pytest
from deltalake import DeltaTable

from resources.lake import DeltaLake
from tests.support.deliveries import deliver
from tests.support.runs import failure_message, feed_def, materialize
from tests.support.specs import write_spec
from tests.support.processes import DAY, day, frame, store, write_and_hang

ONE_DAY = day(DAY)
PATH = ["raw", "testco", "claims"]
WEEK_AND_A_DAY = 8 * 24 * 3600


def _frame(writer: str, rows: int) -> pl.DataFrame:
    return frame(DAY, writer, rows)


def _kill(proc: mp.Process) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    proc.join(10)
    assert proc.exitcode == -signal.SIGKILL


def _uncommitted(lake: DeltaLake) -> set[str]:
    folder = Path(lake.table_uri(PATH))
    on_disk = {p.relative_to(folder).as_posix() for p in folder.rglob("*.parquet")}
    return on_disk - set(DeltaTable(lake.table_uri(PATH)).get_add_actions(flatten=True).column("path").to_pylist())


def test_a_write_killed_mid_way_changes_nothing_readers_see_and_vacuum_removes_its_files(tmp_path):
    lake = DeltaLake(root=str(tmp_path / "lake"))
    lake.replace(PATH, _frame("committed", 50), ONE_DAY)
    ctx = mp.get_context("spawn")
    ready = ctx.Event()
    proc = ctx.Process(target=write_and_hang, args=(lake.root, PATH, ready))
    proc.start()
    assert ready.wait(60), "the writer never got to its last batch"
    _kill(proc)

    orphans = _uncommitted(lake)
    assert len(orphans) == 10, orphans  # the killed write's files of 100 rows
    # A plain Parquet reader of the folder counts the killed write's rows beside the committed ones...
    folder = Path(lake.table_uri(PATH), f"_partition={DAY}")
    assert pl.scan_parquet(folder / "*.parquet").select(pl.len()).collect().item() == 1_050
    # ...while every lake reader goes through the log's file list: the table is unchanged.
    assert lake.counts_by_partition(PATH, ONE_DAY) == {DAY: 50}
    assert pl.read_parquet(lake.files(PATH, ONE_DAY)).height == 50

    # Vacuum respects the retention period (the table's default, 168 h): fresh files stay, as they could be a
    # live writer's staged files...
    assert lake.vacuum(PATH).files == []
    assert _uncommitted(lake) == orphans
    # ...and deletes them once older than it, and nothing the log references.
    for relative in orphans:
        os.utime(Path(lake.table_uri(PATH), relative), (time.time() - WEEK_AND_A_DAY,) * 2)
    assert set(lake.vacuum(PATH).files) == orphans
    assert _uncommitted(lake) == set()
    assert lake.read(PATH, ONE_DAY)["writer"].unique().to_list() == ["committed"]
    assert pl.read_parquet(list(folder.glob("*.parquet"))).height == 50


def test_vacuum_keeps_the_staged_files_of_a_write_in_progress(tmp_path):
    lake = DeltaLake(root=str(tmp_path / "lake"))
    lake.replace(PATH, _frame("old", 10), ONE_DAY)
    table = _frame("new", 300).to_arrow()
    with lake.overwrite(PATH, table.schema, ONE_DAY) as staged:
        staged.write(table.to_batches())
        assert lake.vacuum(PATH).files == []  # another process's maintenance, mid-write
        staged.commit()
    assert lake.counts_by_partition(PATH, ONE_DAY) == {DAY: 300}


def test_a_commit_whose_staged_files_were_vacuumed_fails_instead_of_committing_them(tmp_path):
    """A retention shorter than a write (an operator's explicit 0 h) deletes its staged files: the commit refuses."""
    lake = DeltaLake(root=str(tmp_path / "lake"))
    lake.replace(PATH, _frame("old", 10), ONE_DAY)
    table = _frame("new", 300).to_arrow()
    with pytest.raises(FileNotFoundError, match="vacuumed with a retention shorter"), \
            lake.overwrite(PATH, table.schema, ONE_DAY) as staged:
        staged.write(table.to_batches())
        assert len(lake.vacuum(PATH, retention_hours=0).files) == 1
        staged.commit()
    assert lake.read(PATH, ONE_DAY)["writer"].unique().to_list() == ["old"]


def test_vacuum_never_touches_landed_files(tmp_path):
    """Landed copies live in the manifest table's `_files/` folder, which no Delta log lists: vacuum skips it."""
    lake = DeltaLake(root=str(tmp_path / "lake"))
    landed = ["landed", "testco", "claims"]
    lake.replace(landed, pl.DataFrame({"_partition": [DAY], "file_name": ["claims.csv"]}), ONE_DAY)
    source = tmp_path / "claims.csv"
    source.write_text("CLAIM\nC1\n")
    stored = lake.store_file(source, [*landed, "_files", DAY])
    os.utime(stored.path, (time.time() - WEEK_AND_A_DAY,) * 2)
    assert lake.vacuum(landed, retention_hours=0).files == []
    assert stored.path.read_text() == "CLAIM\nC1\n"


# --- partial landed copies -------------------------------------------------------------------------------------


def _start_copy(ctx, lake: DeltaLake, tmp_path: Path, name: str, folder: list[str]):  # noqa: ANN001, ANN202
    """A `store_file` in another process, reading from a pipe: it copies what is written and waits for more."""
    fifo = tmp_path / name
    os.mkfifo(fifo)
    proc = ctx.Process(target=store, args=(lake.root, str(fifo), folder))
    proc.start()
    return proc, fifo


def _feed(fifo: Path):  # noqa: ANN202
    writer = fifo.open("wb")  # blocks until the copy opened its end
    writer.write(os.urandom(3 << 20))
    writer.flush()
    return writer


def _partials(base: Path) -> list[Path]:
    return sorted(base.rglob(".incoming-*"))


def _wait_for(check, what: str) -> None:  # noqa: ANN001
    deadline = time.monotonic() + 30
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def test_a_copy_killed_mid_way_is_removed_and_a_live_copy_is_kept(tmp_path):
    lake = DeltaLake(root=str(tmp_path / "lake"))
    folder = ["landed", "testco", "claims", "_files"]
    base = lake.file_path(*folder)
    ctx = mp.get_context("spawn")
    (killed, killed_fifo), (live, live_fifo) = (
        _start_copy(ctx, lake, tmp_path, "killed.csv", [*folder, DAY]),
        _start_copy(ctx, lake, tmp_path, "live.csv", [*folder, "2026-10-02"]),
    )
    pipe = _feed(killed_fifo)
    _wait_for(lambda: any(p.stat().st_size >= 3 << 20 for p in _partials(base)), "the first copy to progress")
    _kill(killed)
    pipe.close()
    dead = _partials(base)
    assert len(dead) == 1

    pipe = _feed(live_fifo)
    _wait_for(lambda: len(_partials(base)) == 2, "the second copy to start")
    # Without the grace period, to show the lock alone keeps a copy in progress.
    assert lake.remove_partial_copies(folder, grace_seconds=0) == dead
    assert len(_partials(base)) == 1
    pipe.write(b"the end\n")
    pipe.close()
    live.join(30)
    assert live.exitcode == 0
    assert _partials(base) == []
    assert [p.name for p in base.rglob("live.csv")] == ["live.csv"]


def test_the_next_landed_run_removes_partial_copies(settings, instance):
    write_spec(settings, "testco", "claims", """
        description: Test claims.
        owners: [team:qa]
        cadence: daily
        start_date: 2026-09-01
        delivery:
          channel: {kind: local, path: testco}
          file_pattern: "claims_{date:%Y%m%d}.csv"
        columns:
          - {name: CLAIM, type: string, nullable: false}
        """)
    deliver(settings, "testco", "claims_20261001.csv", "CLAIM\nC1\n")
    _, assets = feed_def(settings, "testco", "claims")
    lake = DeltaLake(root=settings.lake_root)
    partial = lake.file_path("landed", "testco", "claims", "_files", DAY, ".incoming-0123abcd")
    partial.parent.mkdir(parents=True)
    partial.write_bytes(b"half a file")
    os.utime(partial, (time.time() - 120,) * 2)  # a killed run's copy, two minutes ago
    result = materialize(assets, instance, partition=DAY, layers=("landed",))
    assert result.success, failure_message(result)
    assert not partial.exists()
    assert [p.name for p in lake.file_path("landed", "testco", "claims", "_files").rglob("*.csv")] == ["claims_20261001.csv"]
