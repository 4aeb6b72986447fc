"""A simulated month of every sample feed, delivered through each channel kind, lands and materializes."""

from __future__ import annotations

import datetime as dt

import pytest

from carelake.settings import Settings
from carelake.tools.simulation import Simulator
from platform_assets.partitions import partitions_for
from resources.channels import Channels
from resources.lake import DeltaLake
from tests.support.runs import (
    failure_message,
    feed_def,
    layer_counts,
    materialize_range,
    run_request,
    tick,
)
from tests.support.specs import feed_spec, use_channel

FEEDS = ["acme_health/members", "acme_health/claims", "bluepeak_payer/members", "bluepeak_payer/claims"]
MONTH = (dt.date(2026, 10, 1), dt.date(2026, 11, 1))


@pytest.fixture
def channel_for(request, tmp_path):  # noqa: ANN001, ANN201
    """provider -> channel YAML for the parametrized kind, on a fresh bucket / folder."""
    kind = request.param
    if kind == "local":
        return lambda provider: {"kind": "local", "path": provider}
    if kind == "s3":
        server = request.getfixturevalue("s3_server")
        request.getfixturevalue("s3_env")
        bucket = server.new_bucket()
        return lambda provider: server.channel(bucket, prefix=f"{provider}/")
    if kind == "sftp":
        server = request.getfixturevalue("sftp_server")
        request.getfixturevalue("sftp_env")
        folders: dict[str, str] = {}
        return lambda provider: server.channel(folders.setdefault(provider, server.new_folder()), auth="key")
    api = request.getfixturevalue("http_api")
    request.getfixturevalue("http_env")
    urls: dict[str, str] = {}
    return lambda provider: api.channel(urls.setdefault(provider, api.new_folder()))


@pytest.mark.parametrize("channel_for", ["local", "s3", "sftp", "http"], indirect=True)
def test_a_simulated_month_of_every_sample_feed_lands_and_materializes(settings: Settings, instance, channel_for):
    for feed in FEEDS:
        use_channel(settings, feed, channel_for(feed.split("/")[0]))
    simulator = Simulator(settings.landing_root, seed=11, rows_per_delivery=20, channels=Channels(root=str(settings.landing_root)))
    lake = DeltaLake(root=settings.lake_root)
    for feed in FEEDS:
        spec = feed_spec(settings, feed)
        report = simulator.simulate(spec, *MONTH, fault_rate=0.05)
        keys = [k for k in partitions_for(spec).get_partition_keys() if MONTH[0].isoformat() <= k < MONTH[1].isoformat()]
        assert len(keys) == len(report.deliveries) > 0
        _, assets = feed_def(settings, spec.provider, spec.table)
        result = materialize_range(assets, instance, keys[0], keys[-1])
        assert result.success, failure_message(result)
        raw, quarantined = layer_counts(lake, spec)
        assert (raw + quarantined, quarantined) == (report.rows, report.faulty_rows), feed


@pytest.mark.parametrize("channel_for", ["s3", "sftp", "http"], indirect=True)
def test_the_arrival_sensor_of_each_channel_kind_requests_new_deliveries_once(settings: Settings, instance, channel_for):
    use_channel(settings, "acme_health/claims", channel_for("acme_health"))
    spec = feed_spec(settings, "acme_health/claims")
    kind = spec.delivery.channel.kind
    Simulator(settings.landing_root, seed=2, rows_per_delivery=10).simulate(spec, dt.date(2026, 10, 1), dt.date(2026, 10, 3))
    defs, assets = feed_def(settings, spec.provider, spec.table)

    first = tick(defs, instance, f"arrivals_{kind}", None)
    assert sorted(r.partition_key for r in first.run_requests) == ["2026-10-01", "2026-10-02"]
    result = run_request(assets, instance, first.run_requests[0])
    assert result.success, failure_message(result)
    assert tick(defs, instance, f"arrivals_{kind}", first.cursor).run_requests == []
