"""When raw and transformed materialize: declarative automation, no schedules."""

import dagster as dg

# Waiting on blocking checks too: plain eager() re-runs a child after its parent's check failed.
AUTOMATION = dg.AutomationCondition.eager() & dg.AutomationCondition.all_deps_blocking_checks_passed()
