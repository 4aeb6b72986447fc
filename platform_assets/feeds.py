"""A source spec becomes one multi-asset: landed, raw and transformed, with the feed's checks.

One `multi_asset` per feed (not one decorator per asset) keeps definitions fast to load with
thousands of feeds; `can_subset=True` lets Dagster run any subset of the three layers.
"""

from collections.abc import Iterator

import dagster as dg

from carelake.coercion import polars_type
from carelake.layers.landed import LANDED_SCHEMA, run_landed
from carelake.layers.raw import run_raw
from carelake.layers.transformed import run_transformed
from carelake.names import FILE_COLUMN, LANDED, LAYERS, LINE_COLUMN, PARTITION_COLUMN, RAW, TRANSFORMED, RunTags, table_key
from carelake.spec import SourceSpec
from carelake.spec.loading import LoadedSpec
from platform_assets.automation import AUTOMATION
from platform_assets.checks import FeedCheck, feed_checks, run_checks
from platform_assets.ordering import waiting_deps
from platform_assets.partitions import partitions_for
from resources.lake import selection_of

# The outputs and inputs the decorator would give the op: all optional (can_subset), no values.
_ASSET_OUTPUT = dg.Out(dg.Nothing, is_required=False)
_CHECK_OUTPUT = dg.Out(is_required=False)
_NOTHING_INPUT = dg.In(dg.Nothing)
_BACKFILL_POLICY = dg.BackfillPolicy.single_run()


class BlockingCheckFailed(Exception):
    """A blocking check failed, so nothing downstream of it runs."""


def build_feed(loaded: LoadedSpec) -> dg.AssetsDefinition:
    """The multi-asset for one feed: what `@dg.multi_asset(specs=..., check_specs=..., can_subset=True)` builds.

    The op and the assets definition are built directly, not with the decorator: the decorator
    inspects the function signature, resolves a type for every output and copies each asset's
    metadata onto its output (~1 ms per feed; asset jobs leave that metadata out of snapshots).
    """
    spec = loaded.spec
    partitions_def = partitions_for(spec)
    checks = feed_checks(spec, partitions_def)
    specs = _asset_specs(loaded, partitions_def)
    # Output names as the decorator names them, so step outputs and event logs are unchanged.
    keys_by_output_name = {s.key.to_python_identifier(): s.key for s in specs}
    check_specs_by_output_name = {c.spec.get_python_identifier(): c.spec for c in checks}
    # Deps on other feeds (waits_for) are Nothing inputs, so the waiting step runs after theirs in one
    # run; deps between layers get the inputs a subset run may need when it splits the op into steps.
    own = set(keys_by_output_name.values())
    upstream = {d.asset_key for s in specs for d in s.deps}
    keys_by_input_name = {
        **{"_".join(k.path).replace("-", "_").replace(".", "_"): k for k in upstream - own},
        **{f"__subset_input__{name}": k for name, k in keys_by_output_name.items() if k in upstream},
    }

    def feed(context, _inputs):  # noqa: ANN001, ANN202 - Dagster calls a directly built op with (context, inputs)
        yield from _execute(context, spec, partitions_def, checks)

    op = dg.OpDefinition(
        compute_fn=feed,
        name=f"{spec.provider}__{spec.table}",
        ins={name: _NOTHING_INPUT for name in keys_by_input_name},
        outs={**dict.fromkeys(keys_by_output_name, _ASSET_OUTPUT), **dict.fromkeys(check_specs_by_output_name, _CHECK_OUTPUT)},
        required_resource_keys={"lake", "landing"},
        config_schema={},  # as the decorator: run config may say `ops: {<feed>: {config: {}}}`
    )
    return dg.AssetsDefinition(
        keys_by_input_name=keys_by_input_name,
        keys_by_output_name=keys_by_output_name,
        node_def=op,
        specs=specs,
        check_specs_by_output_name=check_specs_by_output_name,
        can_subset=True,
        backfill_policy=_BACKFILL_POLICY,
    )


def _execute(
    context: dg.AssetExecutionContext, spec: SourceSpec, partitions_def: dg.PartitionsDefinition, checks: list[FeedCheck]
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    lake, landing = context.resources.lake, context.resources.landing
    selection = selection_of(partitions_def, list(context.partition_keys))
    selected = context.selected_asset_keys
    selected_checks = context.selected_asset_check_keys
    for layer in LAYERS:
        key = asset_key(layer, spec)
        if key in selected:
            if layer == LANDED:
                result = run_landed(spec, list(context.partition_keys), selection, lake, landing)
                if not result.changed:
                    # Identical re-delivery: no new landed version, so nothing downstream re-runs.
                    context.log.info(f"{'/'.join(key.path)} {selection}: no new or changed files")
                    if context.run.tags.get(RunTags.ARRIVAL):
                        return
                    continue
            elif layer == RAW:
                result = run_raw(spec, selection, lake)
            else:
                result = run_transformed(spec, selection, lake)
            context.log.info(f"{'/'.join(key.path)} {selection}: {result.rows} rows")
            # In a range run every partition gets this metadata, so a row count would overstate each one.
            counts = {"dagster/row_count": result.rows} if len(context.partition_keys) == 1 else {
                "rows_in_run": result.rows, "partitions_in_run": len(context.partition_keys)}
            yield dg.MaterializeResult(asset_key=key, metadata={**counts, **result.metadata})
        failed_blocking = []
        layer_checks = [c for c in checks if c.spec.asset_key == key and c.key in selected_checks]
        for check, outcome in zip(layer_checks, run_checks(spec, layer_checks, lake, selection), strict=True):
            yield outcome
            if not outcome.passed and check.spec.blocking:
                failed_blocking.append(check.spec.name)
        if failed_blocking:
            raise BlockingCheckFailed(
                f"{'/'.join(key.path)} {selection}: blocking checks failed: {failed_blocking}; "
                "downstream layers were not run. See the check results for counts."
            )


def asset_key(layer: str, spec: SourceSpec) -> dg.AssetKey:
    """The Dagster asset key of a feed's table in a layer (its lake path, `carelake.names.table_key`)."""
    return dg.AssetKey(table_key(layer, spec))


def _asset_specs(loaded: LoadedSpec, partitions_def: dg.PartitionsDefinition) -> list[dg.AssetSpec]:
    spec = loaded.spec
    landed, raw, transformed = (asset_key(layer, spec) for layer in LAYERS)
    code = dg.CodeReferencesMetadataValue(
        code_references=[dg.LocalFileCodeReference(file_path=str(loaded.path.resolve()), line_number=1, label="source spec")]
    )
    # Short facts are tags (filterable in the UI, e.g. `tag:priority=high`, and ~10x cheaper in the
    # snapshot the code server serializes for every asset than a metadata entry each).
    tags = {"provider": spec.provider, "cadence": spec.cadence.value, "priority": spec.priority.value,
            "schema_version": str(spec.schema_version)}
    common = dict(owners=spec.owners, partitions_def=partitions_def, tags=tags)
    base_meta = {"dagster/code_references": code, "delivery_pattern": spec.delivery.file_pattern}
    names = spec.transformed_names
    raw_columns = [
        dg.TableColumn(
            c.name,
            str(polars_type(c)),
            description=c.description or None,
            constraints=dg.TableColumnConstraints(nullable=c.nullable),
            tags={"phi": c.phi.category.value} if c.phi else {},
        )
        for c in spec.columns
    ]
    platform_columns = [dg.TableColumn(PARTITION_COLUMN, "String"), dg.TableColumn(FILE_COLUMN, "String"), dg.TableColumn(LINE_COLUMN, "Int64")]
    transformed_columns = [
        dg.TableColumn(names[c.name], col.type, description=col.description, constraints=col.constraints, tags=col.tags)
        for c, col in zip(spec.columns, raw_columns, strict=True)
    ]
    lineage = dg.TableColumnLineage(
        deps_by_column={names[c.name]: [dg.TableColumnDep(asset_key=raw, column_name=c.name)] for c in spec.columns}
    )
    return [
        dg.AssetSpec(
            landed,
            description=f"{spec.description} Delivered files, byte for byte, with sha256.",
            group_name=LANDED,
            kinds={"delta", spec.format.kind},
            skippable=True,
            metadata={
                **base_meta,
                "dagster/column_schema": dg.TableSchema(columns=[dg.TableColumn(n, str(t)) for n, t in LANDED_SCHEMA.items()]),
            },
            **common,
        ),
        dg.AssetSpec(
            raw,
            deps=[landed, *waiting_deps(spec)],
            description=f"{spec.description} Parsed with the declared schema; failing rows in quarantine.",
            group_name=RAW,
            kinds={"delta", "polars"},
            automation_condition=AUTOMATION,
            metadata={**base_meta, "dagster/column_schema": dg.TableSchema(columns=platform_columns + raw_columns)},
            **common,
        ),
        dg.AssetSpec(
            transformed,
            deps=[raw],
            description=f"{spec.description} In the common model, de-duplicated by primary key.",
            group_name=TRANSFORMED,
            kinds={"delta", "polars"},
            automation_condition=AUTOMATION,
            metadata={
                **base_meta,
                "primary_key": [names[c] for c in spec.primary_key],
                "dagster/column_schema": dg.TableSchema(columns=platform_columns + transformed_columns),
                "dagster/column_lineage": lineage,
            },
            **common,
        ),
    ]
