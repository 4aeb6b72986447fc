"""Dependency-driven materialization: one automation sensor, running from the start."""

import dagster as dg

automation_sensor = dg.AutomationConditionSensorDefinition(
    "carelake_automation",
    target=dg.AssetSelection.all(),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
)
