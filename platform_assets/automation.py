"""When raw and transformed materialize: declarative automation, no schedules.

`eager()` alone would only ever follow the latest time window, so a backfill of old raw partitions
would leave their transformed partitions stale; without that clause, any (re)materialized upstream
partition requests the downstream partitions that depend on it, once. Historical partitions that
were never materialized are not requested: eager reacts to updates and new partitions, not to
missing ones. Waiting on blocking checks too: plain eager() re-runs a child after its parent's
check failed.
"""

import dagster as dg

EAGER_ANY_PARTITION = (
    dg.AutomationCondition.eager().without(dg.AutomationCondition.in_latest_time_window()).with_label("eager_any_partition")
)
AUTOMATION = EAGER_ANY_PARTITION & dg.AutomationCondition.all_deps_blocking_checks_passed()
