"""Feed ordering and blocking checks across real automation ticks against a real instance."""

from __future__ import annotations

import datetime as dt
import re

import dagster as dg
import pytest

from carelake.spec.loading import SpecError
from platform_assets.assembly import build_definitions
from tests.support.deliveries import deliver
from tests.support.runs import failure_message, materialize, requested_partitions
from tests.support.specs import (
    YESTERDAY,
    claims_feed,
    feed_yaml,
    members_feed,
    write_spec,
)

PARTITION = YESTERDAY.isoformat()


class Ticks:
    """Automation ticks against the instance; `run()` materializes what the last tick requested."""

    def __init__(self, defs: dg.Definitions, instance: dg.DagsterInstance):
        self.defs, self.instance, self.cursor = defs, instance, None
        self.tick()  # the first evaluation requests nothing (see DAGSTER_NOTES)

    def tick(self) -> dict[str, set[str]]:
        result = dg.evaluate_automation_conditions(defs=self.defs, instance=self.instance, cursor=self.cursor)
        self.cursor = result.cursor
        self.requested = requested_partitions(result)
        return self.requested

    def run(self) -> list[dg.ExecuteInProcessResult]:
        results = []
        for key in sorted(self.requested):
            layer, provider, table = key.split("/")
            assets = self.defs.resolve_assets_def(dg.AssetKey(["raw", provider, table]))
            for partition in sorted(self.requested[key]):
                results.append(materialize(assets, self.instance, partition=partition, layers=(layer,)))
        return results


def land(defs, instance, table: str) -> None:
    assets = defs.resolve_assets_def(dg.AssetKey(["raw", "testco", table]))
    result = materialize(assets, instance, partition=PARTITION, layers=("landed",))
    assert result.success, failure_message(result)


def test_claims_wait_for_members_that_pass_their_blocking_checks(settings, instance):
    members_feed(settings)
    claims_feed(settings)
    defs = build_definitions(settings)
    ticks = Ticks(defs, instance)

    # Claims arrive first: nothing runs, the members partition is missing.
    deliver(settings, "testco", f"claims_{YESTERDAY:%Y%m%d}.csv", "CLAIM,MEMBER\nC1,M1\nC2,M2\n")
    land(defs, instance, "claims")
    assert ticks.tick() == {}

    # Members arrive with a bad state: members raw runs, its blocking check fails, claims still wait.
    deliver(settings, "testco", f"members_{YESTERDAY:%Y%m%d}.csv", "MEMBER,STATE\nM1,NY\nM2,XX\n")
    land(defs, instance, "members")
    assert ticks.tick() == {"raw/testco/members": {PARTITION}}
    (members_raw,) = ticks.run()
    assert not members_raw.success and re.search(r"blocking checks failed for 1 of 1 partitions \([0-9-]+: us_state_STATE\)",
                                                   failure_message(members_raw))
    assert ticks.tick() == {}
    assert ticks.tick() == {}  # and in later ticks too

    # Members fixed and re-delivered: members raw, then members transformed, then claims run.
    deliver(settings, "testco", f"members_{YESTERDAY:%Y%m%d}.csv", "MEMBER,STATE\nM1,NY\nM2,PR\n")
    land(defs, instance, "members")
    assert ticks.tick() == {"raw/testco/members": {PARTITION}}
    assert all(r.success for r in ticks.run())
    assert ticks.tick() == {"transformed/testco/members": {PARTITION}}
    assert all(r.success for r in ticks.run())
    assert ticks.tick() == {"raw/testco/claims": {PARTITION}}
    (claims_raw,) = ticks.run()
    assert claims_raw.success, failure_message(claims_raw)
    check = next(e for e in claims_raw.get_asset_check_evaluations() if e.check_name == "references_MEMBER")
    assert check.passed and check.metadata["failing_rows"].value == 0
    assert ticks.tick() == {"transformed/testco/claims": {PARTITION}}


def test_a_failed_warn_check_does_not_hold_back_downstream_ticks(settings, instance):
    members_feed(settings, severity="warn")
    defs = build_definitions(settings)
    ticks = Ticks(defs, instance)
    deliver(settings, "testco", f"members_{YESTERDAY:%Y%m%d}.csv", "MEMBER,STATE\nM1,NY\nM2,XX\n")
    land(defs, instance, "members")
    assert ticks.tick() == {"raw/testco/members": {PARTITION}}
    (raw,) = ticks.run()
    assert raw.success
    (check,) = [e for e in raw.get_asset_check_evaluations() if e.check_name == "us_state_STATE"]
    assert not check.passed and check.severity is dg.AssetCheckSeverity.WARN
    assert ticks.tick() == {"transformed/testco/members": {PARTITION}}


def test_waiting_runs_in_the_same_run_are_skipped_after_a_blocking_failure(settings, instance):
    members_feed(settings)
    claims_feed(settings)
    deliver(settings, "testco", f"claims_{YESTERDAY:%Y%m%d}.csv", "CLAIM,MEMBER\nC1,M1\n")
    deliver(settings, "testco", f"members_{YESTERDAY:%Y%m%d}.csv", "MEMBER,STATE\nM1,ZZ\n")
    defs = build_definitions(settings)
    feeds = [defs.resolve_assets_def(dg.AssetKey(["raw", "testco", t])) for t in ("members", "claims")]
    result = dg.materialize(feeds, instance=instance, partition_key=PARTITION, raise_on_error=False)
    assert not result.success
    materialized = {tuple(e.asset_key.path) for e in result.get_asset_materialization_events()}
    assert ("raw", "testco", "members") in materialized
    assert ("raw", "testco", "claims") not in materialized


def test_a_daily_feed_waits_for_the_month_containing_its_day():
    daily = dg.DailyPartitionsDefinition(start_date="2026-01-01")
    monthly = dg.MonthlyPartitionsDefinition(start_date="2026-01-01")
    mapped = dg.TimeWindowPartitionMapping().get_upstream_mapped_partitions_result_for_partitions(
        daily.subset_with_partition_keys(["2026-03-17"]), daily, monthly
    )
    assert list(mapped.partitions_subset.get_partition_keys()) == ["2026-03-01"]


@pytest.mark.parametrize(
    ("waits_for", "message"),
    [
        ("[testco/nobody]", "'testco/nobody' is not a feed"),
        ("[testco/claims]", "cannot wait for itself"),
        ("[Testco]", "must be 'provider/table'"),
    ],
)
def test_waits_for_mistakes_name_the_file_and_the_fix(settings, waits_for, message):
    members_feed(settings)
    claims_feed(settings, waits_for)
    with pytest.raises(SpecError) as caught:
        build_definitions(settings)
    assert message in str(caught.value) and "claims.yaml" in str(caught.value)


def test_feeds_waiting_for_each_other_are_a_cycle(settings):
    claims_feed(settings)
    members_feed(settings)
    path = settings.sources_dir / "testco" / "members.yaml"
    path.write_text(path.read_text() + "waits_for: [testco/claims]\n")
    with pytest.raises(SpecError, match="waits_for forms a cycle"):
        build_definitions(settings)


def test_daily_claims_wait_for_the_monthly_roster_of_their_month(settings, instance):
    roster = feed_yaml("members_{date:%Y%m}.csv", start="2026-01-01", cadence="monthly", description="Monthly roster.")
    write_spec(settings, "testco", "members", roster, """
        columns:
          - {name: MEMBER, nullable: false}
        """)
    claims_feed(settings)
    defs = build_definitions(settings)
    ticks = Ticks(defs, instance)
    deliver(settings, "testco", f"claims_{YESTERDAY:%Y%m%d}.csv", "CLAIM,MEMBER\nC1,M1\n")
    land(defs, instance, "claims")
    assert ticks.tick() == {}
    # The roster of the month before yesterday's month does not release yesterday's claims ...
    previous = (YESTERDAY.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    deliver(settings, "testco", f"members_{previous:%Y%m}.csv", "MEMBER\nM1\n")
    members = defs.resolve_assets_def(dg.AssetKey(["raw", "testco", "members"]))
    assert materialize(members, instance, partition=previous.isoformat()).success
    assert "raw/testco/claims" not in ticks.tick()
    # ... and a month's partition exists once the month has closed: only then do its claims run.
    month = YESTERDAY.replace(day=1)
    if month.month != dt.datetime.now(dt.UTC).date().month:
        deliver(settings, "testco", f"members_{month:%Y%m}.csv", "MEMBER\nM1\n")
        assert materialize(members, instance, partition=month.isoformat()).success
        assert ticks.tick() == {"raw/testco/claims": {PARTITION}}
