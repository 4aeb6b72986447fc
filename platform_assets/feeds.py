"""A source spec becomes one multi-asset: landed, raw and transformed, with the feed's checks.

One `multi_asset` per feed (not one decorator per asset) keeps definitions fast to load with
thousands of feeds; `can_subset=True` lets Dagster run any subset of the three layers.
"""

from collections.abc import Iterator

import dagster as dg

from carelake.coercion import polars_type
from carelake.errors import without_values
from carelake.layers import LayerResult
from carelake.layers.landed import LANDED_SCHEMA, run_landed
from carelake.layers.raw import run_raw
from carelake.layers.transformed import run_transformed
from carelake.privacy.masking import KEY_VERSION_COLUMN, Tokens, has_tokens, masked_nullable, masked_type
from carelake.names import FILE_COLUMN, LANDED, LAYERS, LINE_COLUMN, PARTITION_COLUMN, QUARANTINE, RAW, TRANSFORMED, RunTags, table_key
from carelake.spec import SourceSpec
from carelake.spec.loading import LoadedSpec
from carelake.spec.platform import Privacy
from platform_assets.automation import AUTOMATION
from platform_assets.checks import FeedCheck, feed_checks, run_checks
from platform_assets.ordering import waiting_deps
from platform_assets.partitions import partitions_for
from resources.lake import selection_of
from resources.selection import PartitionSelection

# The outputs and inputs the decorator would give the op: all optional (can_subset), no values.
_ASSET_OUTPUT = dg.Out(dg.Nothing, is_required=False)
_CHECK_OUTPUT = dg.Out(is_required=False)
_NOTHING_INPUT = dg.In(dg.Nothing)
_BACKFILL_POLICY = dg.BackfillPolicy.single_run()


_PRIVACY = Privacy()


class BlockingCheckFailed(Exception):
    """A blocking check failed, so nothing downstream of it runs."""


class EngineError(Exception):
    """An error raised by a library (parser, storage engine), its message reduced to kind and position."""


# Our own errors are built without values; Dagster's own (Failure, RetryRequested, interruptions) steer the run.
_OURS = ("carelake", "platform_assets", "resources", "sensors", "dagster")


def value_free(exc: BaseException) -> BaseException:
    """`exc` and its causes as Dagster may store them: our own errors (their messages are built without
    values) as they are, a library's with its message passed through `without_values`; tracebacks kept."""
    ours = type(exc).__module__.split(".")[0] in _OURS
    clean = exc if ours else EngineError(f"{type(exc).__name__}: {without_values(exc)}").with_traceback(exc.__traceback__)
    cause = exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)
    clean.__cause__ = value_free(cause) if cause is not None else None
    clean.__context__, clean.__suppress_context__ = None, True
    return clean


def build_feed(loaded: LoadedSpec, privacy: Privacy = _PRIVACY) -> dg.AssetsDefinition:
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
        try:
            yield from _execute(context, spec, partitions_def, checks, privacy)
        except Exception as exc:
            # Dagster stores the message and its causes in the run and event DBs: no row values may reach them.
            raise value_free(exc)  # noqa: B904 - value_free sets the (cleaned) cause chain itself

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
    context: dg.AssetExecutionContext, spec: SourceSpec, partitions_def: dg.PartitionsDefinition, checks: list[FeedCheck],
    privacy: Privacy = _PRIVACY,
) -> Iterator[dg.MaterializeResult | dg.AssetMaterialization | dg.AssetCheckEvaluation]:
    """Run the selected layers for the run's partitions, each partition recorded on its own.

    Every partition gets its own materialization metadata and its own check evaluations (a range
    run records what single-partition runs would). A partition that fails a blocking check stops
    there: the layers below run for the other partitions only, and the run then fails naming it.
    """
    lake, landing = context.resources.lake, context.resources.landing
    keys = list(context.partition_keys)
    selected, selected_checks = context.selected_asset_keys, context.selected_asset_check_keys
    blocked: dict[str, list[str]] = {}  # partition -> the blocking checks it failed
    for layer in LAYERS:
        key = asset_key(layer, spec)
        open_keys = [k for k in keys if k not in blocked]
        if not open_keys:
            break
        # Partitions between blocked ones are named, so a key range never rewrites a blocked partition.
        selection = selection_of(partitions_def, keys) if open_keys == keys else PartitionSelection.of_keys(open_keys)
        if key in selected:
            if layer == LANDED:
                result = run_landed(spec, open_keys, selection, lake, landing)
                if not result.changed:
                    # Identical re-delivery: no new landed version, so nothing downstream re-runs.
                    context.log.info(f"{'/'.join(key.path)} {selection}: no new or changed files")
                    if context.run.tags.get(RunTags.ARRIVAL):
                        return
                    continue
            elif layer == RAW:
                result = run_raw(spec, selection, lake)
                for partition, numbers in result.partitions.items():
                    for file, drift in numbers.get("schema_drift", {}).items():
                        if drift.get("new"):
                            # Kept out of raw by design (the spec is the schema), but said where a user looks.
                            context.log.warning(f"{spec.key} {partition}: {file} has columns the spec does not declare, "
                                                f"not loaded into raw: {drift['new']}. Fix: declare them in sources/{spec.key}.yaml")
            else:
                result = run_transformed(spec, selection, lake, Tokens.for_spec(spec, privacy))
            context.log.info(f"{'/'.join(key.path)} {selection}: {result.rows} rows")
            yield from _materializations(context, key, result, open_keys, every=open_keys == keys)
        layer_checks = [c for c in checks if c.spec.asset_key == key and c.key in selected_checks]
        if not layer_checks:
            continue
        targets = _latest_materializations(context.instance, key, open_keys)
        for check, outcomes in zip(layer_checks, run_checks(spec, layer_checks, lake, open_keys), strict=True):
            for partition in open_keys:
                passed, metadata = outcomes[partition]
                yield check.evaluation(partition, passed, metadata, targets.get(partition))
                if not passed and check.spec.blocking:
                    blocked.setdefault(partition, []).append(check.spec.name)
    if blocked:
        failed = "; ".join(f"{partition}: {', '.join(names)}" for partition, names in sorted(blocked.items()))
        raise BlockingCheckFailed(
            f"{spec.key}: blocking checks failed for {len(blocked)} of {len(keys)} partitions ({failed}); the layers "
            "below them were not run for those partitions, the other partitions went on. See the check results for counts."
        )


def _materializations(
    context: dg.AssetExecutionContext, key: dg.AssetKey, result: LayerResult, partitions: list[str], every: bool
) -> Iterator[dg.MaterializeResult | dg.AssetMaterialization]:
    """One materialization per partition, each with its own numbers (`rows` as `dagster/row_count`).

    For every partition of the run: one MaterializeResult with per-partition metadata (it covers the
    run's partitions). For some of them (the others were blocked): one event per partition.
    """
    for partition in partitions:
        numbers = dict(result.partitions.get(partition, {"rows": 0}))
        metadata = {"dagster/row_count": numbers.pop("rows"), **numbers}
        if every:
            context.add_asset_metadata(metadata, asset_key=key, partition_key=partition)
        else:
            yield dg.AssetMaterialization(asset_key=key, partition=partition, metadata=metadata)
    if every:
        yield dg.MaterializeResult(asset_key=key)


def _latest_materializations(instance: dg.DagsterInstance, key: dg.AssetKey, partitions: list[str]) -> dict[str, dg.EventLogRecord]:
    """The latest materialization record of each partition (the one a check evaluation is about)."""
    ids = instance.get_latest_storage_id_by_partition(key, dg.DagsterEventType.ASSET_MATERIALIZATION, partitions=set(partitions))
    if not ids:
        return {}
    records = instance.fetch_materializations(dg.AssetRecordsFilter(asset_key=key, storage_ids=list(ids.values())), limit=len(ids))
    return {r.partition_key: r for r in records.records}


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
    # Grouped by provider, so the graph tells providers apart; the layer is a tag (`tag:layer=raw`).
    common = dict(owners=spec.owners, partitions_def=partitions_def, group_name=spec.provider)
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
    platform_columns = [
        dg.TableColumn(PARTITION_COLUMN, "String", description="the Dagster partition of the row: its delivery window's start"),
        dg.TableColumn(FILE_COLUMN, "String", description="the delivered file the row came from"),
        dg.TableColumn(LINE_COLUMN, "Int64", description="where the row starts in that file (line or record number)"),
    ]
    transformed_columns = [
        dg.TableColumn(
            names[c.name], str(masked_type(spec, c, polars_type(c))), description=col.description,
            constraints=dg.TableColumnConstraints(nullable=masked_nullable(spec, c)),
            tags={**col.tags, "masking": spec.masking_of(c).value} if c.phi else col.tags,
        )
        for c, col in zip(spec.columns, raw_columns, strict=True)
    ]
    if has_tokens(spec):
        transformed_columns.append(dg.TableColumn(KEY_VERSION_COLUMN, "Int32", description="the HMAC key version of the tokens"))
    lineage = dg.TableColumnLineage(
        deps_by_column={names[c.name]: [dg.TableColumnDep(asset_key=raw, column_name=c.name)] for c in spec.columns}
    )
    return [
        dg.AssetSpec(
            landed,
            tags={**tags, "layer": LANDED},
            description=f"{spec.description} Delivered files, byte for byte, with sha256.",
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
            tags={**tags, "layer": RAW},
            deps=[landed, *waiting_deps(spec)],
            description=(
                f"{spec.description} Parsed with the declared schema; rows that fail are kept in the quarantine table "
                f"{'/'.join(table_key(QUARANTINE, spec))} with file, line, column, rule and reason (counts by rule in each "
                "partition's quarantine_by_rule)."
            ),
            kinds={"delta", "polars"},
            automation_condition=AUTOMATION,
            metadata={**base_meta, "dagster/column_schema": dg.TableSchema(columns=platform_columns + raw_columns)},
            **common,
        ),
        dg.AssetSpec(
            transformed,
            tags={**tags, "layer": TRANSFORMED},
            deps=[raw],
            description=f"{spec.description} In the common model, de-duplicated by primary key.",
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
