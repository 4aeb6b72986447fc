"""A local channel cannot reach outside the landing root: `..` is refused when specs load, absolute
folders only under roots the platform config allows, and a symlink out of the root at run time."""

from __future__ import annotations

import pytest

from carelake.spec.loading import SpecError, load_specs
from resources.lake import DeltaLake
from tests.support.runs import failure_message, feed_def, materialize
from tests.support.specs import write_spec

SPEC = """
description: Passwords, if we let it.
owners: [team:qa]
cadence: adhoc
start_date: 2026-03-01
delivery:
  channel: {{kind: local, path: "{path}"}}
  file_pattern: "passwd"
columns:
  - {{name: LINE}}
"""


def test_a_relative_channel_path_that_climbs_out_is_refused_when_specs_load(settings):
    write_spec(settings, "evil", "passwd", SPEC.format(path="../../../../etc"))
    with pytest.raises(SpecError) as error:
        load_specs(settings.sources_dir)
    assert "evil/passwd.yaml: delivery.channel.path: '../../../../etc'" in str(error.value)
    assert "leaves its root" in str(error.value)


def test_an_absolute_channel_path_needs_a_root_the_platform_config_allows(settings, tmp_path):
    write_spec(settings, "evil", "passwd", SPEC.format(path="/etc"))
    with pytest.raises(SpecError, match=r"'/etc' is absolute and not under a local_channel_roots folder"):
        load_specs(settings.sources_dir)
    drop = tmp_path / "mnt" / "drop"
    platform = settings.sources_dir / "_platform.yaml"
    platform.write_text(platform.read_text() + f"\nlocal_channel_roots: [{tmp_path / 'mnt'}]\n")
    write_spec(settings, "evil", "passwd", SPEC.format(path=str(drop)))
    assert "evil/passwd" in {loaded.spec.key for loaded in load_specs(settings.sources_dir)}


def test_a_symlink_out_of_the_landing_root_is_refused_and_nothing_lands(settings, instance):
    write_spec(settings, "evil", "passwd", SPEC.format(path="sneaky"))
    settings.landing_root.mkdir(parents=True, exist_ok=True)
    (settings.landing_root / "sneaky").symlink_to("/etc")
    defs, assets = feed_def(settings, "evil", "passwd")
    instance.add_dynamic_partitions("evil__passwd__deliveries", ["passwd"])
    result = materialize(assets, instance, partition="passwd", layers=("landed",))
    assert not result.success
    assert "local channel 'sneaky' resolves to /etc, outside" in failure_message(result)
    assert not DeltaLake(root=settings.lake_root).exists(["landed", "evil", "passwd"])


def test_a_feed_with_an_unsafe_folder_does_not_stop_the_other_feeds_arrivals(settings, instance):
    import datetime as dt

    from carelake.tools.simulation import Simulator
    from tests.support.runs import tick
    from tests.support.specs import feed_spec

    write_spec(settings, "evil", "passwd", SPEC.format(path="sneaky"))
    settings.landing_root.mkdir(parents=True, exist_ok=True)
    (settings.landing_root / "sneaky").symlink_to("/etc")
    Simulator(settings.landing_root, seed=1).simulate(feed_spec(settings, "acme_health/claims"), dt.date(2026, 10, 1), dt.date(2026, 10, 2))
    defs, _ = feed_def(settings, "evil", "passwd")
    result = tick(defs, instance, "arrivals_local", None)
    assert [(r.tags["carelake/feed"], r.partition_key) for r in result.run_requests] == [("acme_health/claims", "2026-10-01")]
