"""How a new file is laid out: delimited (which delimiter, a header?) or fixed-width (which fields).

A file is delimited when one delimiter splits nearly every sampled line into the same number of
fields (more than one). Otherwise, if every line has the same length, it is fixed-width and its
fields are drafted from column boundaries seen across the sampled lines: a position blank in every
line ends a field, and a consistent change of kind starts one (digits to letters; letters to digits
after two letters or more, so that codes like A001 or J1234 stay whole); a YYYYMMDD date in every
line is cut out of a run of digits. A fixed-width file never has a header here: its first record
is data; header / trailer records are skipped by record type. Anything else is refused with the
reason.
"""

from __future__ import annotations

import csv
import io
import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from carelake.tools.profiling.inference import date_format, is_number

DELIMITERS = [",", "|", "\t", ";"]
SNIFF_BYTES = 1 << 20
SAMPLE_LINES = 2000
CONSISTENT_SHARE = 0.9  # of sampled lines a delimiter must split into the same field count
_TEXT_PUNCTUATION = set("'-.,&/#()")  # inside names, addresses and decimals: no kind of their own


@dataclass(frozen=True)
class Layout:
    kind: str  # "csv" or "fixed_width"
    encoding: str
    delimiter: str | None = None
    header: bool = False
    fields: list[tuple[int, int]] = field(default_factory=list)  # fixed width: (1-based start, length)
    notes: list[str] = field(default_factory=list)
    record_types: dict | None = None  # fixed width with header / trailer records: the spec's `record_types`

    @property
    def width(self) -> int:
        start, length = self.fields[-1]
        return start + length - 1


def _text(path: Path) -> tuple[str, str]:
    """(encoding, decoded text of the first SNIFF_BYTES), the last line dropped if it may be cut."""
    raw = path.read_bytes()[:SNIFF_BYTES]
    if not raw.strip():
        raise ValueError(f"{path}: the file is empty; nothing to profile")
    encoding = "utf-8-sig" if raw.startswith(b"\xef\xbb\xbf") else "utf-8"
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError:
        # A cut multi-byte character at the edge is fine; anything else is not UTF-8.
        try:
            text = raw[: raw.rfind(b"\n")].decode(encoding)
        except UnicodeDecodeError:
            encoding, text = "latin-1", raw.decode("latin-1")
    if len(raw) == SNIFF_BYTES and "\n" in text:
        text = text[: text.rfind("\n") + 1]  # the last line may be cut at the edge
    return encoding, text


def _last_line(path: Path, encoding: str) -> str | None:
    """The file's last non-empty line when the sample does not reach it (a trailer record is there)."""
    size = path.stat().st_size
    if size <= SNIFF_BYTES:
        return None
    with path.open("rb") as f:
        f.seek(max(0, size - (64 << 10)))
        tail = f.read().decode(encoding if encoding != "utf-8-sig" else "utf-8", errors="replace")
    lines = [line.rstrip("\r") for line in tail.split("\n") if line.strip()]
    return lines[-1] if lines else None


def sniff(path: Path) -> Layout:
    """The file's layout from its first megabyte (and its last line); a ValueError saying why if it has none we can draft."""
    encoding, text = _text(path)
    lines = [line.rstrip("\r") for line in text.split("\n")]
    lines = [line for line in lines if line.strip()][:SAMPLE_LINES]
    if (last := _last_line(path, encoding)) is not None:
        lines.append(last)
    head = lines[:50]

    def consistency(sep: str) -> tuple[float, int]:
        try:  # records, not lines: a quoted value may hold a line break
            counts = [len(record) for record in csv.reader(io.StringIO("\n".join(head)), delimiter=sep)] or [1]
        except csv.Error:
            counts = [len(next(csv.reader([line], delimiter=sep))) for line in head]
        common, times = Counter(counts).most_common(1)[0]
        return (times / len(counts) if common > 1 else 0.0, common)

    delimiter = max(DELIMITERS, key=consistency)
    share, fields = consistency(delimiter)
    if share >= CONSISTENT_SHARE:
        return Layout("csv", encoding, delimiter, _has_header(lines[0], delimiter))
    lengths = Counter(len(line) for line in lines)
    if len(lengths) == 1 and len(lines) >= 2:
        typed = _record_types(lines, same_length=True)
        return _fixed_width(path, encoding, *typed) if typed else _fixed_width(path, encoding, lines)
    if (typed := _record_types(lines)) is not None:
        return _fixed_width(path, encoding, *typed)
    if fields > 1:
        return Layout("csv", encoding, delimiter, _has_header(lines[0], delimiter), notes=[
            f"no delimiter splits the lines consistently ({delimiter!r} gives {fields} fields in {share:.0%} of them)"])
    if not any("  " in line.strip() for line in lines) and len(lines) >= 1:
        first = lines[0]
        header = not (is_number(first) or date_format([first]))
        return Layout("csv", encoding, ",", header and len(lines) > 1, notes=["one column: no delimiter found"])
    raise ValueError(_why_not_fixed_width(path, lines, lengths))


def _has_header(line: str, delimiter: str) -> bool:
    """A first line of distinct, non-empty names, none of them a number or a date."""
    first = next(csv.reader([line], delimiter=delimiter))
    looks_like_data = any(is_number(v) or date_format([v]) for v in first if v)
    return not looks_like_data and len(set(first)) == len(first) and all(first)


def _record_types(lines: list[str], same_length: bool = False) -> tuple[list[str], dict] | None:
    """(detail lines, record_types) when only the first and / or last line differ from the others in length
    and a first character tells them apart (`H` header, `D` details, `T` trailer). Lines of the detail
    length count as header / trailer records only with a letter there and letters where every detail
    line has digits or blanks where none has: a first record that merely starts differently is data."""
    if len(lines) < 4:
        return None
    detail_type = Counter(line[0] for line in lines).most_common(1)[0][0]
    odd = [i for i, line in enumerate(lines) if line[0] != detail_type]
    details = [line for line in lines if line[0] == detail_type]
    if not odd or not set(odd) <= {0, len(lines) - 1} or len({len(line) for line in details}) != 1:
        return None
    if same_length:
        columns = list(zip(*details, strict=True))
        kinds = [_kind(chars) for chars in columns]
        filled = [" " not in chars for chars in columns]

        def unlike(line: str) -> bool:  # letters where details have digits, or blanks where they never do
            cells = zip(line[1:], kinds[1:], filled[1:], strict=True)  # after the record type itself
            return any((k == "digit" and c.isalpha()) or (full and c == " ") for c, k, full in cells)

        if not all(lines[i][0].isalpha() and unlike(lines[i]) for i in odd):
            return None
    skip = sorted({lines[i][0] for i in odd})
    return details, {"start": 1, "length": 1, "detail": [detail_type], "skip": skip}


def _why_not_fixed_width(path: Path, lines: list[str], lengths: Counter) -> str:
    (common, times), rest = lengths.most_common(1)[0], len(lines) - lengths.most_common(1)[0][1]
    where = ""
    if rest == 1 and len(lines[0]) != common:
        where = f"; line 1 ({len(lines[0])} characters) differs: a header record, which a fixed-width layout cannot skip without record_types"
    elif rest == 1 and len(lines[-1]) != common:
        where = f"; the last line ({len(lines[-1])} characters) differs: a trailer record? declare record_types to skip it"
    elif len(lines) >= 20 and len(fields := draft_fields([line[: min(lengths)] for line in lines])) >= 2:
        starts = ", ".join(str(start) for start, _ in fields)
        where = (f"; it looks fixed-width with a ragged last field (trailing blanks trimmed): the first {min(lengths)} characters "
                 f"split into {len(fields)} fields starting at {starts}, and the last runs to the end of the line, which the "
                 "fixed-width reader cannot read without quarantining the shorter records (ask for records padded to one length)")
    return (
        f"{path}: cannot draft a layout: no delimiter ({', '.join(repr(d) for d in DELIMITERS)}) splits the lines consistently, "
        f"and it is not fixed-width either: {len(lengths)} line lengths in the first {len(lines)} lines "
        f"({times} of {common} characters, the others {min(lengths)}..{max(lengths)}){where}. "
        "Fixed-width needs one record length (were trailing blanks trimmed?); ask the provider for the record layout"
    )


def _kind(chars: tuple[str, ...]) -> str:
    """'blank' (a space in every line), 'digit' or 'alpha' (every other character is one), else 'mixed'."""
    seen = {"digit" if c.isdigit() else "alpha" if c.isalpha() else "punct" for c in chars if c != " " and c not in _TEXT_PUNCTUATION}
    if not seen:
        return "blank" if all(c == " " for c in chars) else "punct"
    return seen.pop() if len(seen) == 1 else "mixed"


def _is_date_window(columns: list[tuple[str, ...]], start: int) -> bool:
    """Positions start..start+7 hold a YYYYMMDD date (1850-2100) in every line where they are not blank."""
    if start + 8 > len(columns):
        return False
    texts = {"".join(chars) for chars in zip(*columns[start : start + 8], strict=True)} - {" " * 8}
    if not texts:
        return False
    try:
        return all(1850 <= dt.datetime.strptime(t, "%Y%m%d").year <= 2100 for t in texts)
    except ValueError:
        return False


def draft_fields(lines: list[str]) -> list[tuple[int, int]]:
    """(1-based start, length) of each field: contiguous, covering the whole record."""
    columns = list(zip(*lines, strict=True))
    kinds = [_kind(chars) for chars in columns]
    starts = [0]
    previous = None  # the kind of the last digit / alpha / mixed position in the current field
    run_start = None  # where the current run of digit positions began
    alpha_run = 0  # letters-only positions just before this one, in the current field
    for i, kind in enumerate(kinds):
        cut = False
        if i and kinds[i - 1] == "blank" and kind != "blank":
            cut = True
        elif kind == "alpha" and previous == "digit":
            cut = True
        elif kind == "digit" and previous == "alpha" and alpha_run >= 2:
            cut = True  # after one letter, digits are the rest of a code (A001, J1234, H1234): no cut
        elif kind == "digit" and (i == 0 or kinds[i - 1] != "digit") and _is_date_window(columns, i):
            cut = True  # a YYYYMMDD date starts here (after an id of letters and digits)
        elif kind == "digit" and run_start is not None and i - run_start == 8 and _is_date_window(columns, run_start):
            cut = True  # a YYYYMMDD date followed by more digits
        if cut and i != starts[-1]:
            starts.append(i)
            previous, alpha_run = None, 0
        alpha_run = alpha_run + 1 if kind == "alpha" else 0 if kind in ("digit", "mixed") else alpha_run
        if kind == "digit":
            run_start = i if (cut or previous != "digit" or run_start is None) else run_start
        elif kind != "blank":
            run_start = None
        if kind in ("digit", "alpha", "mixed"):
            previous = kind
    ends = [*starts[1:], len(columns)]
    return [(s + 1, e - s) for s, e in zip(starts, ends, strict=True)]


def _fixed_width(path: Path, encoding: str, lines: list[str], record_types: dict | None = None) -> Layout:
    width = len(lines[0])
    if record_types is None:
        fields = draft_fields(lines)
    else:  # the record type is not a column: fields start after it
        fields = [(start + 1, length) for start, length in draft_fields([line[1:] for line in lines])]
    if len(fields) < 2 and not any(" " in line for line in lines):
        # One value a line, every line as long as the first: a list (of ids), and its first line is data too.
        return Layout("csv", encoding, ",", False, notes=[f"one column of {width} characters a line, no header (the first "
                                                            "line is as long as every other)"])
    if len(fields) < 2:
        raise ValueError(
            f"{path}: every line is {width} characters and no delimiter splits them, so it looks fixed-width, but no column "
            f"boundary was found in {len(lines)} lines (no position is blank in every line, no consistent change between "
            "digits and letters): ask the provider for the record layout and write the fields by hand"
        )
    notes = [
        f"fixed-width, {width} characters a record: {len(fields)} fields drafted from blank positions and changes of kind "
        f"in {len(lines)} lines; the first record is data, not a header",
        "adjacent fields of one kind (two numbers with no space between) cannot be told apart: check the fields against "
        "the provider's record layout and rename them",
    ]
    if record_types is not None:
        notes.append(f"record type in position 1: {record_types['detail'][0]!r} is a detail record, "
                     f"{record_types['skip']} header / trailer records (skipped)")
    if len(lines) < 20:
        notes.append(f"only {len(lines)} lines to learn boundaries from: expect merged or split fields")
    return Layout("fixed_width", encoding, None, False, fields, notes, record_types)
