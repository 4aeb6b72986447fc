"""The real CMS DE-SynPUF beneficiary files through the spec in sources/cms_desynpuf, yearly partitions."""

from __future__ import annotations

import datetime as dt
import shutil

import polars as pl
import pytest

from resources.lake import DeltaLake
from resources.selection import PartitionSelection
from tests.support.environment import DESYNPUF, unavailable
from tests.support.runs import failure_message, feed_def, materialize

YEARS = (2008, 2009, 2010)


@pytest.fixture
def beneficiaries(settings):
    files = sorted(DESYNPUF.glob("DE1_0_20??_Beneficiary_Summary_File_Sample_0.csv"))
    if len(files) != 3:
        unavailable(f"the shared DE-SynPUF extract is not at {DESYNPUF}")
    landing = settings.landing_root / "cms_desynpuf"
    landing.mkdir(parents=True)
    for path in files:
        shutil.copy(path, landing / path.name)
    _, assets = feed_def(settings, "cms_desynpuf", "beneficiary_summary")
    return assets, DeltaLake(root=settings.lake_root)


def test_desynpuf_beneficiaries_ingest_each_year_with_dates_flags_and_money_typed(beneficiaries, instance):
    assets, lake = beneficiaries
    for year in YEARS:
        result = materialize(assets, instance, partition=f"{year}-01-01")
        assert result.success, failure_message(result)
        check = next(c for c in result.get_asset_check_evaluations() if c.check_name == "rows_accounted_for")
        assert check.passed and check.metadata["rows_in"].value == 2

    raw = lake.read(["raw", "cms_desynpuf", "beneficiary_summary"], PartitionSelection.everything()).sort("_partition", "_line")
    assert lake.exists(["quarantine", "cms_desynpuf", "beneficiary_summary"])
    assert lake.read(["quarantine", "cms_desynpuf", "beneficiary_summary"], PartitionSelection.everything()).height == 0
    assert raw.height == 6
    first = raw.row(0, named=True)
    assert first["DESYNPUF_ID"] == "0002056B40CEE448" and first["BENE_BIRTH_DT"] == dt.date(1920, 10, 1)
    # Empty strings are nulls, not quarantined values.
    assert raw.schema["BENE_DEATH_DT"] == pl.Date and raw["BENE_DEATH_DT"].null_count() == 6
    # The same column is coded 0 in 2008/2009 and Y in 2010: one boolean.
    esrd = dict(zip(raw["_partition"] + ":" + raw["DESYNPUF_ID"], raw["BENE_ESRD_IND"]))
    assert esrd["2008-01-01:0002056B40CEE448"] is False and esrd["2010-01-01:0002056B40CEE448"] is True
    assert str(raw.filter(raw["_partition"] == "2010-01-01")["MEDREIMB_IP"][1]) == "3000.00"
    assert raw.schema["SP_ALZHDMTA"] == pl.Boolean and raw.schema["BENE_HI_CVRAGE_TOT_MONS"] == pl.Int64
