"""Each feed's op is built directly (for load time); Dagster must see exactly what `@dg.multi_asset` would build.

If a Dagster upgrade changes what the decorator produces, this fails before the UI, run config or
step ordering drift.
"""

from __future__ import annotations

import dagster as dg
from dagster._core.remote_representation.external_data import RepositorySnap
from dagster._core.snap import JobSnap
from dagster._serdes import serialize_value

from carelake.spec.loading import LoadedSpec
from carelake.spec.platform import Privacy
from platform_assets import assembly, feeds
from platform_assets.assembly import build_definitions
from platform_assets.checks import feed_checks
from platform_assets.partitions import partitions_for
from tests.support.specs import claims_feed, members_feed


def _decorated_feed(loaded: LoadedSpec, privacy: Privacy) -> dg.AssetsDefinition:
    """The same feed the way the Dagster docs build it: one decorated multi-asset."""
    spec = loaded.spec
    partitions_def = partitions_for(spec)
    checks = feed_checks(spec, partitions_def)

    @dg.multi_asset(
        name=f"{spec.provider}__{spec.table}",
        specs=feeds._asset_specs(loaded, partitions_def),
        check_specs=[c.spec for c in checks],
        can_subset=True,
        partitions_def=partitions_def,
        backfill_policy=dg.BackfillPolicy.single_run(),
        required_resource_keys={"lake", "landing"},
    )
    def feed(context):  # noqa: ANN001, ANN202
        yield from feeds._execute(context, spec, partitions_def, checks, privacy)

    return feed


def _snapshots(defs: dg.Definitions) -> tuple[str, str]:
    repo = defs.get_repository_def()
    (job,) = repo.get_all_jobs()
    return serialize_value(RepositorySnap.from_def(repo, defer_snapshots=True)), serialize_value(JobSnap.from_job_def(job))


def test_feed_ops_match_what_the_multi_asset_decorator_builds(settings, monkeypatch):
    members_feed(settings)
    claims_feed(settings)  # waits for members: deps on another feed's op
    direct = _snapshots(build_definitions(settings))
    monkeypatch.setattr(assembly, "build_feed", _decorated_feed)
    decorated = _snapshots(build_definitions(settings))
    # The repository snapshot holds asset nodes, checks and the job ref (whose id hashes the job snapshot);
    # the job snapshot holds ops, their inputs / outputs / types, dependencies and the run config schema.
    assert direct[1] == decorated[1]
    assert direct[0] == decorated[0]


def test_a_waiting_feed_gets_an_input_so_its_step_runs_after_the_feed_it_waits_for(settings):
    members_feed(settings)
    claims_feed(settings)
    defs = build_definitions(settings)
    claims = defs.resolve_assets_def(dg.AssetKey(["raw", "testco", "claims"]))
    members = {dg.AssetKey(["raw", "testco", "members"]), dg.AssetKey(["transformed", "testco", "members"])}
    assert members <= set(claims.keys_by_input_name.values())
    plan = dg.Definitions.merge(defs).resolve_implicit_global_asset_job_def().get_subset(
        asset_selection={dg.AssetKey([layer, "testco", table]) for layer in ("landed", "raw", "transformed") for table in ("claims", "members")}
    )
    upstream = {o.node.name for o in plan.graph.dependency_structure.all_upstream_outputs_from_node("testco__claims")}
    assert upstream == {"testco__members"}
