"""Dependency-driven materialization: one automation sensor, running from the start."""

import dagster as dg

automation_sensor = dg.AutomationConditionSensorDefinition(
    "carelake_automation",
    # Assets only: no feed check has a condition, and the freshness checks' condition is there to keep them out of runs.
    target=dg.AssetSelection.all().without_checks(),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
)
