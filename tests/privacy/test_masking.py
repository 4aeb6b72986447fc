"""PHI masking in the transformed layer: each transform with its edge cases, tokens that are keyed,
equal across feeds and versioned, and a transformed table (data and Delta log) without clear PHI."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from pathlib import Path

import polars as pl
import pytest

from carelake.layers.transformed import KeyVersionMixed
from carelake.names import PARTITION_COLUMN
from carelake.privacy.masking import KEY_VERSION_COLUMN, Tokens, hmac_token, masked
from carelake.spec import Column, SourceSpec
from resources.lake import DeltaLake
from resources.selection import PartitionSelection
from tests.support.deliveries import deliver
from tests.support.runs import failure_message, feed_def, materialize
from tests.support.specs import feed_yaml, spec_of, write_spec

KEY = Tokens(b"test-key", 1, frozenset({"036", "102"}))


def apply(column: str, values: list, *, reference: dt.date = dt.date(2026, 3, 2), dtype=None) -> list:
    """A spec with one column (as YAML), its values masked."""
    spec: SourceSpec = spec_of(f"format: {{kind: csv}}\ncolumns:\n  - {column}\n")
    col: Column = spec.columns[0]
    frame = pl.DataFrame({col.name: values}, schema={col.name: dtype} if dtype else None)
    return frame.select(masked(spec, col, pl.col(col.name), KEY, pl.lit(reference))).to_series().to_list()


def test_hash_is_keyed_hmac_sha256_of_the_normalised_value_truncated_to_128_bits_in_hex():
    spec = spec_of("format: {kind: csv}\ncolumns:\n  - {name: E, phi: {category: email, masking: hash}}\n")

    def token_of(key: bytes, text: str) -> str:
        frame = pl.DataFrame({"E": [text]})
        return frame.select(masked(spec, spec.columns[0], pl.col("E"), Tokens(key, 1, frozenset()), pl.lit(None))).item()

    # RFC 4231 test case 2 (e-mail addresses are normalised by trimming and lower-casing: unchanged here),
    # of which a token keeps the first 128 bits; and test case 5, the RFC's own truncation to 128 bits.
    full = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    assert token_of(b"Jefe", "what do ya want for nothing?") == full[:32]
    truncated = pl.select(hmac_token(pl.lit("Test With Truncation"), b"\x0c" * 20)).item()
    assert truncated == "a3b6167473100ee06e0c796c2955552b"
    tokens = apply("{name: ID, phi: member_id}", [" m001 ", "M001", None, ""])
    assert tokens[0] == tokens[1] == hmac.new(b"test-key", b"M001", hashlib.sha256).hexdigest()[:32]
    assert tokens[2:] == [None, None], "null and empty stay null: no token for nothing"


def test_names_are_folded_before_hashing_so_spellings_of_one_person_match():
    tokens = apply("{name: N, phi: {category: name, masking: hash}}", ["José  García", "jose garcia", "JOSE GARCIA "])
    assert len(set(tokens)) == 1


def test_identifiers_without_masking_are_redacted_or_tokenised_by_their_category():
    assert apply("{name: SSN, phi: ssn}", ["123-45-6789", None]) == [None, None]
    assert apply("{name: N, phi: name}", ["Jane"]) == [None]
    [member] = apply("{name: M, phi: member_id}", ["A1"])
    assert len(member) == 32 and set(member) <= set("0123456789abcdef") and "A1" not in member


def test_dates_keep_their_year_even_before_1900():
    assert apply("{name: D, type: date, phi: date}", [dt.date(1899, 12, 31), dt.date(2026, 3, 1), None]) == [1899, 2026, None]


def test_birth_dates_of_people_90_or_older_collapse_into_90():
    born = [dt.date(1936, 3, 2), dt.date(1936, 3, 3), dt.date(1990, 7, 4), dt.date(1890, 1, 1), None]
    # On 2026-03-02: 90 exactly (collapsed to 2026 - 90), a day short of 90 (kept), young, 136 (collapsed).
    assert apply("{name: DOB, type: date, phi: birth_date}", born) == [1936, 1936, 1990, 1936, None]
    assert apply("{name: DOB, type: date, phi: birth_date}", [dt.date(1930, 1, 1)]) == [1936]


def test_zip3_keeps_leading_zeros_and_hides_low_population_prefixes():
    zips = ["02134", "03601", "10210-1234", "1234", None, "  07030 "]
    assert apply("{name: Z, phi: zip}", zips) == ["021", "000", "000", "123", None, "070"]


def test_truncate_and_an_explicit_none():
    assert apply("{name: A, phi: {category: address, masking: truncate, keep: 3}}", ["12 Main St", None]) == ["12 ", None]
    assert apply("{name: A, phi: {category: other, masking: none}}", ["kept"]) == ["kept"]
    with pytest.raises(ValueError, match="truncate needs keep"):
        spec_of("format: {kind: csv}\ncolumns:\n  - {name: A, phi: {category: address, masking: truncate}}\n")


def test_safe_harbor_overrides_a_weaker_annotation():
    spec = spec_of("format: {kind: csv}\nmasking_profile: safe_harbor\ncolumns:\n  - {name: N, phi: {category: name, masking: none}}\n")
    assert spec.masking_of(spec.columns[0]).value == "redact"


MEMBERS = feed_yaml("members_{date:%Y%m%d}.csv", start="2026-03-01", description="Test members.") + """\
columns:
  - {name: MBR, phi: member_id, target: member_id}
  - {name: NAME, phi: name}
  - {name: DOB, type: date, input_format: "%Y%m%d", phi: birth_date}
  - {name: ZIP, phi: zip}
primary_key: [MBR]
"""
CLAIMS = MEMBERS.replace("Test members.", "Test claims.").replace("members_", "claims_").replace(
    "  - {name: NAME, phi: name}\n  - {name: DOB, type: date, input_format: \"%Y%m%d\", phi: birth_date}\n  - {name: ZIP, phi: zip}\n",
    "  - {name: MEMBER_ID, phi: member_id, target: claim_member}\n",
).replace("  - {name: MBR, phi: member_id, target: member_id}\n", "  - {name: CLAIM}\n").replace("primary_key: [MBR]", "primary_key: [CLAIM]")
CANARIES = ["Zebulon Quartermaine", "19310415", "1931-04-15", "02134"]


def transformed(settings, table: str) -> pl.DataFrame:
    return DeltaLake(root=settings.lake_root).read(["transformed", "testco", table], PartitionSelection.everything())


def test_transformed_holds_tokens_equal_across_feeds_and_no_clear_phi_in_data_or_delta_log(settings, instance):
    write_spec(settings, "testco", "members", MEMBERS)
    write_spec(settings, "testco", "claims", CLAIMS)
    deliver(settings, "testco", "members_20260302.csv", "MBR,NAME,DOB,ZIP\n m77 ,Zebulon Quartermaine,19310415,02134\n")
    deliver(settings, "testco", "claims_20260302.csv", "CLAIM,MEMBER_ID\nC1,M77\n")
    for table in ("members", "claims"):
        result = materialize(feed_def(settings, "testco", table)[1], instance, partition="2026-03-02")
        assert result.success, failure_message(result)
    members, claims = transformed(settings, "members"), transformed(settings, "claims")
    assert members["member_id"].dtype == pl.String and len(members["member_id"][0]) == 32
    assert members["member_id"][0] == claims["claim_member"][0], "the same member joins across feeds by token"
    assert members.select("NAME", "DOB", "ZIP", KEY_VERSION_COLUMN).row(0) == (None, 1936, "021", 1)  # 94 years old: shown as 90
    folder = Path(settings.lake_root, "transformed", "testco", "members")
    for path in folder.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert not [c for c in CANARIES if c.encode() in data], path
    assert (folder / "_delta_log").is_dir()


def test_a_new_key_version_re_tokenises_only_in_one_full_rewrite(settings, instance, monkeypatch):
    write_spec(settings, "testco", "members", MEMBERS)
    for day in ("20260302", "20260303"):
        deliver(settings, "testco", f"members_{day}.csv", "MBR,NAME,DOB,ZIP\nM1,A,19800101,10001\n")
    _, assets = feed_def(settings, "testco", "members")
    assert materialize(assets, instance, partition="2026-03-02").success
    assert materialize(assets, instance, partition="2026-03-03").success
    old = transformed(settings, "members")["member_id"].to_list()

    platform = settings.sources_dir / "_platform.yaml"
    platform.write_text(platform.read_text() + "\nprivacy: {key_version: 2}\n")
    monkeypatch.setenv("CARELAKE_HMAC_KEY", "the-rotated-key")
    _, assets = feed_def(settings, "testco", "members")
    partial = materialize(assets, instance, partition="2026-03-03", layers=("transformed",))
    assert not partial.success and KeyVersionMixed.__name__ in failure_message(partial)
    assert "re-materialize every partition of the feed in one run" in failure_message(partial)
    import dagster as dg

    full = dg.materialize([assets], instance=instance, selection=dg.AssetSelection.assets(["transformed", "testco", "members"]),
                          tags={"dagster/asset_partition_range_start": "2026-03-02", "dagster/asset_partition_range_end": "2026-03-03"})
    assert full.success, failure_message(full)
    after = transformed(settings, "members")
    assert set(after[KEY_VERSION_COLUMN]) == {2} and set(after["member_id"]).isdisjoint(old)
    assert after.sort(PARTITION_COLUMN)["member_id"][0] == after.sort(PARTITION_COLUMN)["member_id"][1]
