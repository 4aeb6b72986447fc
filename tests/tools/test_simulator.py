"""The simulator: deterministic, consistent keys, and every injected fault caught by the platform."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from carelake.names import QUARANTINE, table_key
from carelake.tools.simulation import Fault, FaultRates, Simulator, npi_check_digit
from carelake.tools.simulation.writers import writer_for
from platform_assets.feeds import asset_key
from resources.lake import DeltaLake
from resources.selection import PartitionSelection
from tests.support.runs import (
    failure_message,
    feed_def,
    layer_counts,
    materialize,
    materialize_range,
)
from tests.support.specs import feed_spec

OCT = (dt.date(2026, 10, 1), dt.date(2026, 11, 1))


def test_the_same_seed_gives_the_same_files_and_another_seed_does_not(settings, tmp_path):
    spec = feed_spec(settings, "acme_health/claims")
    files = {}
    for run, seed in (("a", 7), ("b", 7), ("c", 8)):
        report = Simulator(tmp_path / run, seed=seed).simulate(spec, *OCT, fault_rate=0.1)
        files[run] = [d.path.read_bytes() for d in report.deliveries]
    assert len(files["a"]) == 31 and files["a"] == files["b"] and files["a"] != files["c"]


def test_claims_reference_members_and_npis_carry_a_valid_check_digit(settings):
    sim = Simulator(settings.landing_root, seed=1)
    members = sim.simulate(feed_spec(settings, "acme_health/members"), *OCT).deliveries[0].path
    claims = sim.simulate(feed_spec(settings, "acme_health/claims"), dt.date(2026, 10, 1), dt.date(2026, 10, 4)).deliveries
    roster = set(pl.read_csv(members, infer_schema=False)["MBR_ID"])
    lines = pl.concat([pl.read_csv(d.path, infer_schema=False) for d in claims])
    assert len(roster) == 200 and set(lines["MBR_ID"]) <= roster
    assert all(npi_check_digit(n[:9]) == n[9] for n in lines["RENDERING_NPI"])
    assert lines["SVC_DT"].str.to_date("%Y%m%d").is_between(dt.date(2026, 10, 1), dt.date(2026, 10, 3)).all()


def test_a_format_without_a_writer_says_so():
    from carelake.spec import SourceSpec

    spec = SourceSpec.model_construct(provider="p", table="t", format=type("F", (), {"kind": "edifact"})())
    with pytest.raises(NotImplementedError, match="no writer for format 'edifact'"):
        writer_for(spec)


@pytest.mark.parametrize("feed", ["acme_health/claims", "bluepeak_payer/members"])
def test_every_quarantinable_row_fault_lands_in_quarantine_and_nothing_else_does(settings, instance, feed):
    spec = feed_spec(settings, feed)
    rates = FaultRates({Fault.malformed_date: 0.05, Fault.null_required: 0.05, Fault.wrong_type: 0.05,
                        Fault.duplicate_key: 0.05, Fault.invalid_npi: 0.05, Fault.orphan_claim: 0.05})
    report = Simulator(settings.landing_root, seed=3).simulate(spec, dt.date(2026, 10, 1), dt.date(2026, 10, 8), faults=rates)
    assert report.faulty_rows > 5
    _, assets = feed_def(settings, spec.provider, spec.table)
    keys = sorted({d.window[0].isoformat() for d in report.deliveries})
    result = materialize_range(assets, instance, keys[0], keys[-1])
    assert result.success, failure_message(result)
    lake = DeltaLake(root=settings.lake_root)
    raw, quarantined = layer_counts(lake, spec)
    assert quarantined == report.faulty_rows and raw + quarantined == report.rows
    quarantine = lake.read(table_key(QUARANTINE, spec), PartitionSelection.everything())
    per_line = {(r["_file"], r["_line"]): r["column"] for r in quarantine.iter_rows(named=True)}
    injected = {(f.file, f.line): f.column for f in report.faults if f.fault in (Fault.malformed_date, Fault.null_required, Fault.wrong_type)}
    assert per_line == injected


def test_reported_only_faults_are_really_in_the_data(settings, instance):
    spec = feed_spec(settings, "acme_health/claims")
    rates = FaultRates({Fault.invalid_npi: 0.2, Fault.orphan_claim: 0.2, Fault.duplicate_key: 0.2})
    sim = Simulator(settings.landing_root, seed=5)
    roster = pl.read_csv(sim.simulate(feed_spec(settings, "acme_health/members"), *OCT).deliveries[0].path, infer_schema=False)
    report = sim.simulate(spec, dt.date(2026, 10, 1), dt.date(2026, 10, 3), faults=rates)
    lines = pl.concat([pl.read_csv(d.path, infer_schema=False) for d in report.deliveries])
    bad_npis = sum(npi_check_digit(n[:9]) != n[9] for n in lines["RENDERING_NPI"])
    orphans = (~lines["MBR_ID"].is_in(roster["MBR_ID"].to_list())).sum()
    duplicates = lines.height - lines.unique(["CLM_ID", "LINE_NO"]).height
    assert (bad_npis, orphans, duplicates) == (
        report.count(Fault.invalid_npi), report.count(Fault.orphan_claim), report.count(Fault.duplicate_key))
    assert min(bad_npis, orphans, duplicates) > 0


@pytest.mark.parametrize(("fault", "message"), [
    (Fault.empty, "the file is empty"),
    (Fault.missing_column, "the header lacks declared columns"),
    (Fault.truncated, "looks truncated"),
    (Fault.encoding_error, "invalid utf-8"),
])
def test_a_file_fault_fails_the_partition_naming_the_file_and_keeps_it_landed(settings, instance, fault, message):
    spec = feed_spec(settings, "acme_health/claims")
    report = Simulator(settings.landing_root, seed=2).simulate(
        spec, dt.date(2026, 10, 1), dt.date(2026, 10, 2), faults=FaultRates({fault: 1.0}))
    (delivery,) = report.deliveries
    assert [f.fault for f in delivery.faults] == [fault]
    _, assets = feed_def(settings, spec.provider, spec.table)
    result = materialize(assets, instance, partition="2026-10-01")
    assert not result.success
    error = failure_message(result)
    assert delivery.name in error and message in error and "Fix:" in error
    landed = DeltaLake(root=settings.lake_root).read(asset_key("landed", spec), PartitionSelection.everything())
    assert landed["file_name"].to_list() == [delivery.name]


@pytest.mark.parametrize("fault", [Fault.extra_column, Fault.reordered_columns])
def test_extra_or_reordered_columns_are_read_by_name(settings, instance, fault):
    spec = feed_spec(settings, "acme_health/claims")
    report = Simulator(settings.landing_root, seed=2).simulate(
        spec, dt.date(2026, 10, 1), dt.date(2026, 10, 2), faults=FaultRates({fault: 1.0}))
    _, assets = feed_def(settings, spec.provider, spec.table)
    assert materialize(assets, instance, partition="2026-10-01").success
    raw = DeltaLake(root=settings.lake_root).read(asset_key("raw", spec), PartitionSelection.everything())
    delivered = pl.read_csv(report.deliveries[0].path, infer_schema=False)
    assert raw.height == report.rows and raw.sort("_line")["CLM_ID"].to_list() == delivered["CLM_ID"].to_list()


def test_a_late_delivery_is_reported_and_counted_by_landed(settings, instance):
    spec = feed_spec(settings, "acme_health/claims")
    report = Simulator(settings.landing_root, seed=2).simulate(
        spec, dt.date(2026, 10, 1), dt.date(2026, 10, 3), faults=FaultRates({Fault.late: 1.0}))
    assert report.count(Fault.late) == 2
    _, assets = feed_def(settings, spec.provider, spec.table)
    result = materialize(assets, instance, partition="2026-10-02", layers=("landed",))
    metadata = result.asset_materializations_for_node(assets.node_def.name)[0].metadata
    assert metadata["late_files"].value == 1


def test_a_changed_redelivery_lands_a_new_version_and_an_identical_one_changes_nothing(settings, instance):
    spec = feed_spec(settings, "acme_health/claims")
    sim = Simulator(settings.landing_root, seed=4)
    window = (dt.date(2026, 10, 1), dt.date(2026, 10, 2))
    first = sim.deliver(spec, window)
    _, assets = feed_def(settings, spec.provider, spec.table)
    lake = DeltaLake(root=settings.lake_root)
    assert materialize(assets, instance, partition="2026-10-01").success
    v1 = first.path.read_bytes()

    second = sim.deliver(spec, window, version=2)
    assert second.path.read_bytes() != v1
    assert materialize(assets, instance, partition="2026-10-01").success
    landed = lake.read(asset_key("landed", spec), PartitionSelection.everything()).sort("version")
    assert landed["version"].to_list() == [1, 2] and landed["file_name"].n_unique() == 1
    assert [Path(p).read_bytes() for p in landed["lake_path"]] == [v1, second.path.read_bytes()]
    raw = lake.read(asset_key("raw", spec), PartitionSelection.everything())
    assert raw.sort("_line")["CLM_ID"].to_list() == pl.read_csv(second.path, infer_schema=False)["CLM_ID"].to_list()

    sim.deliver(spec, window, version=2)  # the same bytes again
    result = materialize(assets, instance, partition="2026-10-01", layers=("landed",))
    assert result.success and result.asset_materializations_for_node(assets.node_def.name) == []
    assert lake.read(asset_key("landed", spec), PartitionSelection.everything()).height == 2
    events = instance.fetch_materializations(asset_key("landed", spec), limit=10).records
    assert len(events) == 2
