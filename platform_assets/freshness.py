"""The `freshness` asset check of every raw and transformed table of a feed with windows.

Declared outside the feed's multi-asset, one small checks definition per feed, so a feed run does not
carry it: arrival runs name their checks, and automation leaves it out because it has an automation
condition of its own that no sensor evaluates (a check with a condition never rides along with its
asset). The `carelake_freshness` sensor records it, runless, per partition (`sensors/freshness.py`).

Executed by hand (or with a materialization launched from the UI, which adds every check of the
asset), it gives the sensor's answer: the same judgement at that moment, recorded for the window it is
about, not for the run's partition (whose planned evaluation the UI then shows as skipped).
"""

from __future__ import annotations

import datetime as dt

import dagster as dg

from carelake.freshness import CHECK_NAME, has_freshness
from carelake.spec import SourceSpec
from sensors.freshness import JUDGED_LAYERS, SENSOR_NAME, FreshnessTarget, evaluation, judge_target

# Keeps the check out of automation runs (see the module docstring); never true, and not in the automation sensor's target.
NOT_AUTOMATED = (dg.AutomationCondition.initial_evaluation() & ~dg.AutomationCondition.initial_evaluation()).with_label(
    f"never: recorded by the {SENSOR_NAME} sensor"
)


def description(spec: SourceSpec) -> str:
    warn = (f" It warns when a closed window is not done {spec.freshness.warn_hours:g} h after it closed."
            if spec.freshness.warn_hours is not None else "")
    return (f"The partition of the latest due window is materialized, its blocking checks passed, {spec.due_hours:g} h "
            f"after the window closes.{warn} Recorded by the {SENSOR_NAME} sensor when the state changes (fresh, warn, "
            "fail); metadata: state, window, due_at, warn_at, hours_late, delivered, materialized, checks_passed.")


def freshness_checks(spec: SourceSpec, partitions_def: dg.PartitionsDefinition) -> dg.AssetChecksDefinition | None:
    """The feed's `freshness` checks on raw and transformed (None for adhoc feeds: no deadline)."""
    if not has_freshness(spec):
        return None
    target = FreshnessTarget.of(spec)
    text = description(spec)
    specs = [
        dg.AssetCheckSpec(CHECK_NAME, asset=target.asset_key(layer), description=text, blocking=False,
                          partitions_def=partitions_def, automation_condition=NOT_AUTOMATED)
        for layer in JUDGED_LAYERS
    ]

    @dg.multi_asset_check(specs=specs, can_subset=True, name=f"{spec.provider}__{spec.table}__freshness")
    def freshness(context):  # noqa: ANN001, ANN202 - Dagster rejects a string annotation; yields evaluations
        verdicts = judge_target(context.instance, target, dt.datetime.now(dt.UTC))
        for layer, verdict in verdicts.items():
            key = dg.AssetCheckKey(target.asset_key(layer), CHECK_NAME)
            if key not in context.selected_asset_check_keys:
                continue
            if verdict is None:
                context.log.info(f"{'/'.join(key.asset_key.path)}: no window has closed yet, nothing to judge")
                continue
            yield evaluation(target, layer, verdict)

    return freshness
