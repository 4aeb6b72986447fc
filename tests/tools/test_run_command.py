"""`carelake run FEED --file F | --partition K`: real files through the code location's definitions, in the
instance of DAGSTER_HOME, for a daily and an adhoc feed; refusals that say what to do."""

from __future__ import annotations

import datetime as dt
import textwrap

import dagster as dg

from carelake.names import deliveries_partitions_name
from carelake.tools.cli import main
from tests.support.deliveries import deliver
from tests.support.specs import feed_spec, feed_yaml, write_spec

COLUMNS = """\
columns:
  - {name: CLAIM, nullable: false}
  - {name: MEMBER, nullable: false, phi: member_id}
  - {name: SVC_DT, type: date, input_format: "%Y%m%d"}
  - {name: UNITS, type: integer}
primary_key: [CLAIM]
"""

FILE = """\
    CLAIM,MEMBER,SVC_DT,UNITS
    C1,M1,20250302,1
    C2,M2,20250302,2
    C2,M2,20250302,3
    C3,,20250302,1
    C4,M4,2025-03-02,1
    C5,M5,20250302,x
"""


def _daily(settings) -> None:  # noqa: ANN001
    write_spec(settings, "testco", "claims", feed_yaml("claims_{date:%Y%m%d}.csv", start="2025-03-01"), COLUMNS)


def _materialized(instance: dg.DagsterInstance, layer: str, table: str) -> set[str]:
    return instance.get_materialized_partitions(dg.AssetKey([layer, "testco", table]))


def test_a_real_daily_file_is_placed_in_the_landing_folder_and_runs_through_every_layer(cli_env, tmp_path, capsys):
    _daily(cli_env)
    export = tmp_path / "export" / "claims_20250302.csv"
    export.parent.mkdir()
    export.write_text(textwrap.dedent(FILE))

    assert main(["run", "testco/claims", "--file", str(export)]) == 0

    out = capsys.readouterr().out
    assert (cli_env.landing_root / "testco" / "claims_20250302.csv").read_bytes() == export.read_bytes()
    assert "testco/claims  partition 2025-03-02" in out and ": ok" in out
    assert "raw          3 rows" in out and "transformed  2 rows" in out  # C2 twice in raw, once in transformed
    assert "quarantine   3 rows (" in out
    for reason in ("MEMBER:not_null 1", "SVC_DT:type 1", "UNITS:type 1"):
        assert reason in out
    assert "0 failed" in out
    with dg.DagsterInstance.get() as instance:  # the instance of DAGSTER_HOME, as the UI shows it
        for layer in ("landed", "raw", "transformed"):
            assert _materialized(instance, layer, "claims") == {"2025-03-02"}

    # Again by partition: the same bytes land no new version, and the run still succeeds.
    assert main(["run", "testco/claims", "--partition", "2025-03-02"]) == 0
    assert "landed       1 file version(s)" in capsys.readouterr().out


def test_an_adhoc_file_gets_its_delivery_partition_registered_then_runs(cli_env, capsys):
    write_spec(cli_env, "testco", "drops", feed_yaml("drop_*.csv", start="2025-03-01", cadence="adhoc"), COLUMNS)
    deliver(cli_env, "testco", "drop_march.csv", FILE)
    spec = feed_spec(cli_env, "testco/drops")

    assert main(["run", "testco/drops", "--partition", "drop_march.csv"]) == 0

    out = capsys.readouterr().out
    assert "partition drop_march.csv" in out and "raw          3 rows" in out
    with dg.DagsterInstance.get() as instance:
        assert instance.get_dynamic_partitions(deliveries_partitions_name(spec)) == ["drop_march.csv"]
        assert _materialized(instance, "transformed", "drops") == {"drop_march.csv"}


def test_a_run_that_fails_exits_non_zero_with_the_reason(cli_env, capsys):
    _daily(cli_env)

    assert main(["run", "testco/claims", "--partition", "2025-03-05"]) == 1  # nothing was delivered for that day

    out = capsys.readouterr().out
    assert "FAILED" in out and "MissingDeliveryError" in out and "no delivery for partition 2025-03-05" in out


def test_refusals_say_what_to_do_and_register_nothing(cli_env, tmp_path, capsys):
    _daily(cli_env)
    write_spec(cli_env, "testco", "monthly", feed_yaml("m_{date:%Y%m}.csv", start="2025-01-01", cadence="monthly"), COLUMNS)
    write_spec(cli_env, "testco", "drops", feed_yaml("drop_*.csv", start="2025-03-01", cadence="adhoc"), COLUMNS)
    stray = tmp_path / "CLAIMS-2025-03-02.csv"
    stray.write_text("CLAIM\n")
    this_month = dt.date.today().replace(day=1).isoformat()

    cases = [
        (["run", "testco/claims", "--file", str(stray)], "does not match the feed's file_pattern 'claims_{date:%Y%m%d}.csv'"),
        (["run", "testco/monthly", "--partition", "2025-02-14"], "the window containing it starts on 2025-02-01. Fix: --partition 2025-02-01"),
        (["run", "testco/monthly", "--partition", this_month], "has not ended, so its partition does not exist yet"),
        (["run", "testco/drops", "--partition", "drop_never.csv"], "'drop_never.csv' is not a file here nor delivered in"),
        (["run", "testco/nope", "--partition", "2025-03-02"], "no such feed"),
    ]
    for argv, message in cases:
        assert main(argv) == 2, argv
        assert message in capsys.readouterr().err, argv
    assert not (cli_env.landing_root / "testco" / stray.name).exists()
    with dg.DagsterInstance.get() as instance:
        assert instance.get_dynamic_partitions("testco__drops__deliveries") == []
        assert not instance.get_runs()
