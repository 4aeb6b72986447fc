"""A delivery whose parse error quotes a row (polars quotes it in backticks) puts the row in no message:
not the exception, not the run's events, not any file of the Dagster instance's storage."""

from __future__ import annotations

from pathlib import Path

import pytest

from carelake.errors import without_values
from platform_assets.feeds import value_free
from tests.support.deliveries import deliver
from tests.support.runs import failure_message, feed_def, materialize
from tests.support.specs import feed_yaml, write_spec

CANARIES = ("Jane Q Public", "19800101", "555-12-3456")
SPEC = feed_yaml("members_{date:%Y%m%d}.csv", start="2026-03-01", description="Test members.") + """\
columns:
  - {name: NAME, phi: name}
  - {name: DOB, type: date, input_format: "%Y%m%d", phi: birth_date}
  - {name: SSN, phi: ssn}
"""


@pytest.mark.parametrize(
    "message",
    [
        'could not parse `"Jane Q Public,19800101\n555-12-3456` as dtype `str` at column \'NAME\' (column number 1)',
        "could not parse `\"Jane Q Public,19800101",  # the closing quote was cut off with the rest of the line
        'Invalid data found: 1 rows failed validation\n\nPreview of invalid data:\n{"NAME": "Jane Q Public", "DOB": "19800101"}',
        "Entity 'Jane Q Public' not defined, line 3",
        'bad value "555-12-3456" in «19800101»',
    ],
)
def test_engine_messages_keep_their_kind_and_position_but_no_value(message):
    clean = without_values(message)
    assert not any(canary in clean for canary in CANARIES), clean
    assert clean  # something is left to say what went wrong


def test_a_foreign_error_and_its_causes_are_cleaned_but_ours_keep_their_words():
    try:
        try:
            raise ValueError("could not parse `Jane Q Public` as dtype `str`")
        except ValueError as inner:
            raise RuntimeError("while reading 'Jane Q Public'") from inner
    except RuntimeError as exc:
        clean = value_free(exc)
    chain, error = [], clean
    while error is not None:
        chain.append(str(error))
        error = error.__cause__
    assert chain == ["RuntimeError: while reading …", "ValueError: could not parse … as dtype …"]
    assert clean.__traceback__ is not None


def test_an_unterminated_quote_fails_the_partition_without_quoting_the_row(settings, instance):
    write_spec(settings, "testco", "members", SPEC)
    deliver(settings, "testco", "members_20260302.csv", 'NAME,DOB,SSN\nAl,19700101,1\n"Jane Q Public,19800101,555-12-3456\nBo,19900101,2\n')
    _, assets = feed_def(settings, "testco", "members")
    result = materialize(assets, instance, partition="2026-03-02")
    assert not result.success
    message = failure_message(result)
    assert "members_20260302.csv" in message and "Fix:" in message
    assert not any(canary in message for canary in CANARIES), message
    events = instance.get_records_for_run(result.run_id, limit=10_000).records
    assert not any(canary in repr(record.event_log_entry) for record in events for canary in CANARIES)
    for path in Path(instance.root_directory).rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert not any(canary.encode() in data for canary in CANARIES), path
