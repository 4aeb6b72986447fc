"""`sources/` holds platform config beside the feeds: `_platform.yaml` (strict, its own model) and
reserved folders the feed loader never reads as feeds."""

from __future__ import annotations

import shutil

import pytest

from carelake.settings import PROJECT_ROOT
from carelake.spec import Priority
from carelake.spec.loading import SpecError, load_platform, load_specs

REPO_SOURCES = PROJECT_ROOT / "sources"


@pytest.fixture
def sources(tmp_path):
    shutil.copytree(REPO_SOURCES, tmp_path / "sources")
    return tmp_path / "sources"


def test_the_platform_table_loads_beside_the_feeds_and_is_not_a_feed(sources):
    platform = load_platform(sources)
    assert {"claims-data", "member-data", "cms-data"} <= set(platform.teams)
    assert platform.teams["member-data"].alerts[1].routing_key_env == "MEMBER_DATA_PAGERDUTY_KEY"
    assert platform.priorities[Priority.high] > platform.priorities[Priority.normal]
    assert all(loaded.path.name != "_platform.yaml" for loaded in load_specs(sources))


def test_a_mistake_in_the_platform_table_is_reported_with_the_file_and_field(sources):
    (sources / "_platform.yaml").write_text('teams:\n  qa:\n    alerts: [{kind: slack, channel: "qa"}]\n    colour: red\n')
    with pytest.raises(SpecError) as error:
        load_specs(sources)
    problems = "\n".join(error.value.problems)
    assert "_platform.yaml: teams.qa.alerts[0].channel: 'qa' String should match pattern" in problems
    assert "_platform.yaml: teams.qa.colour: unknown key; allowed keys: alerts, description" in problems


def test_files_in_rooms_without_a_loader_yet_are_errors_not_ignored(sources):
    (sources / "projections").mkdir()
    (sources / "projections" / "member_months.sql").write_text("select 1")
    (sources / "acme_health" / "_notes.yaml").write_text("a: 1\n")
    with pytest.raises(SpecError) as error:
        load_specs(sources)
    problems = "\n".join(error.value.problems)
    assert "projections/member_months.sql: projections (SQL over cataloged tables" in problems
    assert "acme_health/_notes.yaml: names starting with '_' are reserved for platform config" in problems


def test_without_a_platform_table_the_defaults_apply(tmp_path):
    platform = load_platform(tmp_path)
    assert platform.teams == {} and platform.compute["large"].cpu == 8
