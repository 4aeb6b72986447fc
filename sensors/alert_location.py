"""The alerting code location: one alert sensor for the whole instance, whatever code locations hold
the feeds (`workspace.yaml` loads it beside them; alerting must not run once per location)."""

import dagster as dg

from sensors.alerts import build_alert_sensor


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(sensors=[build_alert_sensor()])
