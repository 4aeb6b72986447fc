"""A YAML file becomes three assets with the right partitions; a mistake is reported with file, field and fix."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import pytest

from carelake.spec.loading import SpecError, load_specs
from carelake.tools.cli import main
from platform_assets.assembly import build_definitions
from tests.support.environment import REPO_SOURCES
from tests.support.specs import feed_yaml, write_spec


def members(cadence: str, pattern: str) -> str:
    """testco/members with one column, by cadence and file pattern."""
    return feed_yaml(pattern, start="2025-01-01", cadence=cadence, description="Test members.") + """\
columns:
  - {name: ID, type: string, nullable: false}
"""


def test_repository_definitions_load():
    from platform_assets import definitions

    assert not isinstance(definitions.defs, dg.Definitions), "importing the code location must build nothing"
    defs = definitions.defs()
    dg.Definitions.validate_loadable(defs)
    keys = {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}
    for loaded in load_specs(REPO_SOURCES):
        for layer in ("landed", "raw", "transformed"):
            assert f"{layer}/{loaded.spec.provider}/{loaded.spec.table}" in keys
    sensor = defs.resolve_sensor_def("carelake_automation")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING


def test_every_spec_yields_three_assets_with_owners_groups_and_lineage(settings):
    defs = build_definitions(settings)
    graph = defs.resolve_asset_graph()
    for loaded in load_specs(settings.sources_dir):
        spec = loaded.spec
        landed, raw, transformed = (dg.AssetKey([layer, spec.provider, spec.table]) for layer in ("landed", "raw", "transformed"))
        assert graph.get(raw).parent_keys == {landed}
        assert graph.get(transformed).parent_keys == {raw}
        for key, layer in ((landed, "landed"), (raw, "raw"), (transformed, "transformed")):
            node = graph.get(key)
            assert node.group_name == spec.provider
            assert node.owners == spec.owners
            assert node.metadata["dagster/code_references"].code_references[0].file_path.endswith(f"{spec.table}.yaml")
            assert {k: v for k, v in node.tags.items() if not k.startswith("dagster/kind/")} == {
                "provider": spec.provider, "cadence": spec.cadence.value, "priority": spec.priority.value,
                "schema_version": str(spec.schema_version), "layer": layer}
        assert graph.get(landed).automation_condition is None
        assert graph.get(raw).automation_condition is not None
        schema = graph.get(transformed).metadata["dagster/column_schema"]
        lineage = graph.get(transformed).metadata["dagster/column_lineage"]
        for column in spec.columns:
            name = column.target or column.name
            assert name in [c.name for c in schema.columns]
            assert lineage.deps_by_column[name][0].column_name == column.name


def test_the_transformed_column_schema_says_what_masking_stores(settings):
    """What the UI's column table shows: the masked type, the masking, and null where redaction puts null."""
    schema = build_definitions(settings).resolve_asset_graph().get(
        dg.AssetKey(["transformed", "acme_health", "members"])
    ).metadata["dagster/column_schema"]
    columns = {c.name: c for c in schema.columns}
    assert (columns["member_id"].type, columns["member_id"].tags["masking"]) == ("String", "hash")
    assert columns["member_id"].constraints.nullable is False
    assert (columns["first_name"].tags["masking"], columns["first_name"].constraints.nullable) == ("redact", True)
    assert (columns["birth_date"].type, columns["birth_date"].constraints.nullable) == ("Int32", False)


@pytest.mark.parametrize(
    ("cadence", "count", "first_window"),
    [
        ("daily", 365, ("2025-01-01", "2025-01-02")),
        ("weekly", 52, ("2025-01-01", "2025-01-08")),
        ("monthly", 12, ("2025-01-01", "2025-02-01")),
        ("quarterly", 4, ("2025-01-01", "2025-04-01")),
        ("semiannual", 2, ("2025-01-01", "2025-07-01")),
        ("yearly", 1, ("2025-01-01", "2026-01-01")),
    ],
)
def test_cadence_gives_partitions(settings, cadence, count, first_window):
    write_spec(settings, "testco", "members", members(cadence, "m_{date:%Y%m%d}.csv"))
    defs = build_definitions(settings)
    partitions = defs.resolve_assets_def(dg.AssetKey(["raw", "testco", "members"])).partitions_def
    keys = partitions.get_partition_keys(current_time=dt.datetime(2026, 1, 1, 0, 0, 1))
    assert len(keys) == count
    window = partitions.time_window_for_partition_key(keys[0])
    assert (window.start.strftime("%Y-%m-%d"), window.end.strftime("%Y-%m-%d")) == first_window


def test_adhoc_cadence_uses_dynamic_partitions(settings):
    write_spec(settings, "testco", "members", members("adhoc", "drop_*.csv"))
    defs = build_definitions(settings)
    partitions = defs.resolve_assets_def(dg.AssetKey(["landed", "testco", "members"])).partitions_def
    assert isinstance(partitions, dg.DynamicPartitionsDefinition)
    assert partitions.name == "testco__members__deliveries"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (members("dayly", "m_{date:%Y%m%d}.csv"), "cadence: 'dayly' Input should be 'daily', 'weekly'"),
        (members("daily", "m_{date:%Y%m%d}.csv").replace("type: string", "type: datee"),
         "columns[0] (ID).type: 'datee' Input should be 'string', 'integer', 'decimal'"),
        (members("daily", "m_{date:%Y%m%d}.csv") + "colour: blue\n",
         "colour: unknown key; allowed keys: alerts, cadence, columns, compute, delivery"),
        (members("daily", "m_{date:%Y%m%d}.csv").replace("nullable: false", "nullable: false, nulable: true"),
         "columns[0] (ID).nulable: unknown key; allowed keys: blank_value, description, dst, false_values, input_format, name, null_values, nullable"),
        (members("daily", "m_{date:%Y%q}.csv"), "date directive '%q' is not one of"),
        (members("daily", "m.csv"), "needs a {date:...} placeholder for a daily feed"),
        (members("daily", "m_{date:%Y%m%d}.csv") + "primary_key: [MEMBER]\n",
         "primary_key / validations name unknown columns ['MEMBER']"),
        (members("daily", "m_{date:%Y%m%d}.csv").replace("[team:qa]", "[qa team]"),
         "owner 'qa team' must be an e-mail address or 'team:<name>'"),
        ("cadence: [daily\n", "not valid YAML"),
    ],
)
def test_bad_yaml_is_reported_with_file_field_and_fix(settings, body, expected):
    path = write_spec(settings, "testco", "members", body)
    with pytest.raises(SpecError) as err:
        build_definitions(settings)
    assert str(path) in str(err.value)
    assert expected in str(err.value)


def test_validate_command_exits_nonzero_with_readable_errors(settings, capsys):
    assert main(["validate", "--sources", str(settings.sources_dir)]) == 0
    assert f"{len(list(settings.sources_dir.glob('*/*.yaml')))} source specs are valid" in capsys.readouterr().out
    write_spec(settings, "testco", "members", members("monthly", "m_{date:%Y%m}.csv").replace("ID, type: string", "ID, type: text"))
    assert main(["validate", "--sources", str(settings.sources_dir)]) == 1
    err = capsys.readouterr().err
    assert "testco/members.yaml: columns[0] (ID).type: 'text' Input should be" in err


def test_spec_must_live_at_provider_table_path(settings):
    write_spec(settings, "testco", "members", members("daily", "m_{date:%Y%m%d}.csv") + "table: other\n")
    with pytest.raises(SpecError, match="must match the file location"):
        build_definitions(settings)


def test_the_spec_cache_serves_unchanged_files_and_rereads_changed_ones(settings, tmp_path):
    cache = tmp_path / "cache" / "specs.pickle"
    path = write_spec(settings, "testco", "members", members("monthly", "m_{date:%Y%m}.csv"))
    first = {s.spec.key: s.spec for s in load_specs(settings.sources_dir, cache)}
    assert cache.exists()
    assert {s.spec.key: s.spec for s in load_specs(settings.sources_dir, cache)} == first

    path.write_text(path.read_text().replace("cadence: monthly", "cadence: yearly  "))
    changed = {s.spec.key: s.spec for s in load_specs(settings.sources_dir, cache)}
    assert changed["testco/members"].cadence.value == "yearly"

    path.write_text(path.read_text().replace("cadence: yearly  ", "cadence: hourly"))
    with pytest.raises(SpecError, match="cadence: 'hourly'"):
        load_specs(settings.sources_dir, cache)
