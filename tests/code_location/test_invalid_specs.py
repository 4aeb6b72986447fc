"""One bad spec does not take down every feed: the code location loads every valid feed and shows each
invalid file on a placeholder asset and a failing sensor; strict mode fails fast instead."""

from __future__ import annotations

import dataclasses

import dagster as dg
import pytest

from carelake.spec.loading import SpecError
from platform_assets.assembly import build_definitions
from tests.support.runs import tick
from tests.support.specs import write_spec


def test_a_broken_spec_leaves_the_other_feeds_loadable_and_its_error_in_sight(settings, instance):
    lenient = dataclasses.replace(settings, strict_specs=False)
    write_spec(settings, "testco", "broken", "description: oops\ncadence: hourly\n")
    write_spec(settings, "acme_health", "members", (settings.sources_dir / "acme_health" / "members.yaml").read_text()
               + "\nwaits_for: [testco/broken]\n")  # waits for the broken feed: not loadable either
    defs = build_definitions(lenient)
    keys = {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}
    assert "raw/acme_health/claims" in keys and "raw/bluepeak_payer/members" in keys
    assert "raw/acme_health/members" not in keys and "raw/testco/broken" not in keys
    placeholder = defs.resolve_asset_graph().get(dg.AssetKey(["invalid_spec", "testco", "broken"]))
    assert "cadence: 'hourly' Input should be" in placeholder.description
    assert "waits_for[0] 'testco/broken' is not a feed" in defs.resolve_asset_graph().get(
        dg.AssetKey(["invalid_spec", "acme_health", "members"])).description
    with pytest.raises(Exception, match="2 spec file\\(s\\) invalid"):
        tick(defs, instance, "carelake_spec_errors", None)


def test_strict_mode_fails_the_whole_location(settings):
    write_spec(settings, "testco", "broken", "description: oops\ncadence: hourly\n")
    with pytest.raises(SpecError, match="hourly"):
        build_definitions(settings)
