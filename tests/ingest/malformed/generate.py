"""Writes the malformed-file corpus next to this script: `python tests/ingest/malformed/generate.py`.

The files are committed; this script documents how each was made and re-creates them exactly.
`cases.yaml` (hand-written) says which spec reads each file and what must happen.
"""

from __future__ import annotations

import bz2
import gzip
import io
import re
import tempfile
import zipfile
from pathlib import Path

import polars as pl
import pyreadstat
import zstandard

HERE = Path(__file__).parent / "files"
GOOD = b"ID,DAY,AMOUNT\n1,20250302,1.50\n2,20250302,2.50\n"
XML_GOOD = b'<?xml version="1.0"?>\n<claims>\n<claim ID="1"><DAY>20250302</DAY><AMOUNT>1.50</AMOUNT></claim>\n</claims>\n'


def _zip(members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _parquet(frame: pl.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.write_parquet(buffer)
    return buffer.getvalue()


def _xpt(frame: pl.DataFrame, **options) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "f.xpt"
        pyreadstat.write_xport(frame, str(path), **options)
        data = path.read_bytes()
    # The writer stamps the time of writing: fixed, so the file is re-created exactly.
    return re.sub(rb"\d\d[A-Z]{3}\d\d:\d\d:\d\d:\d\d", b"02MAR25:00:00:00", data)


def hostile() -> dict[str, bytes]:
    """Values and positions that used to be coerced silently (the data-safety issue, items 5-12)."""
    xml_body = '<claims>\n<claim ID="1"><DAY>20250302</DAY><AMOUNT>{}</AMOUNT></claim>\n</claims>\n'
    deep = "[" * 10_000 + "]" * 10_000
    return {
        "csv_date_short_digits.csv": b"ID,DAY,AMOUNT\n1,2024023,1.50\n2,2024111,1.50\n3,+20240101,1.50\n4,20250302,1.50\n",
        "csv_date_sentinel_9999.csv": b"ID,DAY,AMOUNT\n1,99991231,1.50\n2,20250302,1.50\n",
        "csv_nul_in_id.csv": b"ID,DAY,AMOUNT\n1\x002,20250302,1.50\n3,20250302,1.50\n",
        "csv_duplicate_header.csv": b"ID,DAY,AMOUNT,AMOUNT\n1,20250302,1.50,2.50\n",
        "csv_multiline_field.csv": b'ID,DAY,AMOUNT\n"1' + b"\n" * 1000 + b'",20250302,1.50\n2,20250302,bad\n',
        "fixed_control_char.dat": b"D000120250302000150\nD0\x010220250302000250\n",
        "xml_doctype_after_long_comment.xml": (
            '<?xml version="1.0"?>\n<!--' + "x" * 70_000 + '-->\n<!DOCTYPE claims [<!ENTITY a "1.50">]>\n' + xml_body.format("&a;")
        ).encode(),
        "xml_doctype_utf16.xml": ('<?xml version="1.0" encoding="UTF-16"?>\n<!DOCTYPE claims [<!ENTITY a "1.50">]>\n' + xml_body.format("&a;")).encode("utf-16"),
        "xml_undefined_entity.xml": ('<?xml version="1.0"?>\n' + xml_body.format("&x;")).encode(),
        "xml_partial_entity.xml": ('<?xml version="1.0"?>\n' + xml_body.format("1.&amt;")).encode(),
        "json_deep_nesting.json": ('{"data": [\n{"ID": "1", "DAY": "20250302", "AMOUNT": "1.50"},\n' + deep + "\n]}").encode(),
        "sas_id_beyond_2_53.xpt": _xpt(
            pl.DataFrame({"ID": [900000000000000001.0, 5.0], "DAY": ["20250302", "20250302"], "AMOUNT": [1.5, 2.5]})
        ),
    }


def corpus() -> dict[str, bytes]:
    zeros = b"0" * 200_000
    gz = gzip.compress(GOOD * 50)
    bz = bz2.compress(GOOD * 50)
    zst = zstandard.ZstdCompressor().compress(GOOD * 50)
    zp = _zip({"feed.csv": GOOD * 50})
    good_parquet = _parquet(pl.DataFrame({"ID": ["1"], "DAY": ["20250302"], "AMOUNT": ["1.50"]}))
    return {
        # delimited text
        "csv_empty.csv": b"",
        "csv_header_only_no_newline.csv": b"ID,DAY",
        "csv_missing_column.csv": b"ID,DAY\n1,20250302\n",
        "csv_renamed_column.csv": b"ID,DAY,amount\n1,20250302,1.50\n",
        "csv_invalid_utf8.csv": b"ID,DAY,AMOUNT\n1,20250302,1.50\n2,2025\xff0302,1.50\n",
        "csv_latin1_declared_utf8.csv": "ID,DAY,AMOUNT\n1,20250302,1.50\nZoë,20250302,1.50\n".encode("latin-1"),
        "csv_utf16.csv": GOOD.decode().encode("utf-16"),
        "csv_too_many_fields.csv": b"ID,DAY,AMOUNT\n1,20250302,1.50,EXTRA,MORE\n",
        "csv_binary_garbage.csv": b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4,
        "csv_bad_date.csv": b"ID,DAY,AMOUNT\n1,20250230,1.50\n2,20250302,2.50\n",
        "csv_bad_amount.csv": b"ID,DAY,AMOUNT\n1,20250302,1.5.0\n2,20250302,2.50\n",
        "csv_too_many_decimals.csv": b"ID,DAY,AMOUNT\n1,20250302,1.505\n",
        "csv_null_required.csv": b"ID,DAY,AMOUNT\n,20250302,1.50\n  ,20250302,1.50\n",
        "csv_all_rows_bad.csv": b"ID,DAY,AMOUNT\n1,x,y\n2,x,y\n3,x,y\n",
        "csv_long_line.csv": b"ID,DAY,AMOUNT\n1,20250302,1.50\n" + b"9" * 4096 + b"\n",
        "csv_single_line_no_newline.csv": b"ID,DAY,AMOUNT," + b"X" * 8192,
        "csv_bom_only.csv": b"\xef\xbb\xbf",
        "csv_nul_bytes.csv": b"ID,DAY,AMOUNT\n1,2025\x000302,1.50\n",
        "csv_short_rows.csv": b"ID,DAY,AMOUNT\n1\n2,20250302\n",
        # compression
        "gz_truncated.csv.gz": gz[: len(gz) // 2],
        "gz_not_gzip.csv.gz": GOOD,
        "gz_bomb.csv.gz": gzip.compress(zeros),
        "gz_empty_content.csv.gz": gzip.compress(b""),
        "gz_double_compressed.csv.gz": gzip.compress(gzip.compress(GOOD)),
        "bz2_truncated.csv.bz2": bz[: len(bz) // 2],
        "bz2_not_bzip2.csv.bz2": GOOD,
        "bz2_bomb.csv.bz2": bz2.compress(zeros),
        "zst_truncated.csv.zst": zst[: len(zst) // 2],
        "zst_not_zstd.csv.zst": GOOD,
        "zst_bomb.csv.zst": zstandard.ZstdCompressor().compress(zeros),
        "zip_truncated.zip": zp[: len(zp) // 2],
        "zip_not_zip.zip": GOOD,
        "zip_slip_dotdot.zip": _zip({"../../etc/feed.csv": GOOD}),
        "zip_slip_absolute.zip": _zip({"/etc/feed.csv": GOOD}),
        "zip_slip_windows.zip": _zip({"..\\..\\feed.csv": GOOD}),
        "zip_several_members.zip": _zip({"a.csv": GOOD, "b.csv": GOOD}),
        "zip_no_members.zip": _zip({}),
        "zip_bomb.zip": _zip({"feed.csv": zeros}),
        "zip_empty_member.zip": _zip({"feed.csv": b""}),
        # XML
        "xml_billion_laughs.xml": b'<?xml version="1.0"?>\n<!DOCTYPE lolz [\n <!ENTITY lol "lol">\n <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">\n <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">\n]>\n<claims><claim ID="&lol2;"/></claims>\n',
        "xml_external_entity.xml": b'<?xml version="1.0"?>\n<!DOCTYPE claims [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n<claims><claim ID="1"><DAY>&xxe;</DAY></claim></claims>\n',
        "xml_doctype_only.xml": b'<?xml version="1.0"?>\n<!DOCTYPE claims SYSTEM "http://example.com/claims.dtd">\n<claims/>\n',
        "xml_unclosed_tag.xml": b'<?xml version="1.0"?>\n<claims>\n<claim ID="1"><DAY>20250302</DAY>\n</claims>\n',
        "xml_mismatched_tag.xml": b'<?xml version="1.0"?>\n<claims>\n<claim ID="1"></clam>\n</claims>\n',
        "xml_not_xml.xml": GOOD,
        "xml_truncated.xml": XML_GOOD[: len(XML_GOOD) - 15],
        "xml_invalid_utf8.xml": XML_GOOD.replace(b"1.50", b"1\xff50"),
        "xml_missing_id.xml": b'<?xml version="1.0"?>\n<claims>\n<claim><DAY>20250302</DAY><AMOUNT>1.50</AMOUNT></claim>\n</claims>\n',
        "xml_bad_amount.xml": XML_GOOD.replace(b"1.50", b"one fifty"),
        # JSON / NDJSON
        "json_malformed.json": b'{"data": [{"ID": "1", "DAY": "20250302" "AMOUNT": "1.50"}]}',
        "json_truncated.json": b'{"data": [{"ID": "1", "DAY": "20250302", "AMOUNT": "1.50"}, {"ID": "2"',
        "json_record_path_missing.json": b'{"rows": [{"ID": "1"}]}',
        "json_record_path_not_list.json": b'{"data": {"ID": "1"}}',
        "json_records_not_objects.json": b'{"data": [1, "two", null]}',
        "json_bad_amount.json": b'{"data": [{"ID": "1", "DAY": "20250302", "AMOUNT": "1,50"}]}',
        "json_invalid_utf8.json": b'{"data": [{"ID": "\xff"}]}',
        "ndjson_bad_line.ndjson": b'{"ID": "1", "DAY": "20250302", "AMOUNT": "1.50"}\n{"ID": "2", "DAY": \n',
        "ndjson_array_line.ndjson": b'{"ID": "1", "DAY": "20250302", "AMOUNT": "1.50"}\n["2", "20250302"]\n',
        "ndjson_invalid_utf8.ndjson": b'{"ID": "1", "DAY": "20250302", "AMOUNT": "1.50"}\n{"ID": "\xff"}\n',
        # fixed width
        "fixed_short_records.dat": b"D000120250302000150\nD0002202503\n",
        "fixed_unknown_record_type.dat": b"H20250302\nD000120250302000150\nZ000220250302000250\nT1\n",
        "fixed_bad_amount.dat": b"D00012025030200A150\n",
        "fixed_invalid_utf8.dat": b"D000120250302000150\nD\xff\xfe0220250302000250\n",
        # parquet / SAS
        "parquet_not_parquet.parquet": GOOD,
        "parquet_truncated.parquet": good_parquet[: len(good_parquet) // 2],
        "parquet_missing_column.parquet": _parquet(pl.DataFrame({"ID": ["1"], "DAY": ["20250302"]})),
        "sas_not_sas.xpt": GOOD,
        "sas_not_sas.sas7bdat": b"\x00" * 2048,
        # encryption
        "pgp_no_key.csv.pgp": b"\x85\x01\x0c" + bytes(range(200)),
        **hostile(),
    }


if __name__ == "__main__":
    HERE.mkdir(parents=True, exist_ok=True)
    for name, data in corpus().items():
        (HERE / name).write_bytes(data)
    print(f"{len(corpus())} files in {HERE}")
