"""Simulated deliveries for any source spec, so pipelines run end to end without real PHI.

Values follow each column's type and `semantic` hint; member ids come from one pool per
provider so claims reference members that exist. Deterministic for a seed. Optional row faults
(a malformed value or a missing required value) are counted, so tests can assert the platform
quarantined exactly those rows.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from faker import Faker

from platform_assets.partitions import partitions_for, window_of
from platform_assets.patterns import compile_pattern
from platform_assets.spec import Cadence, Column, ColumnType, SourceSpec

ICD10 = ["E11.9", "I10", "J45.909", "M54.5", "Z00.00", "E78.5", "F41.1", "K21.9", "N39.0", "R51.9"]
CPT = ["99213", "99214", "99203", "80053", "85025", "93000", "71046", "G0439", "J3420", "36415"]
PLANS = ["HMO-GOLD", "PPO-SILVER", "EPO-BRONZE", "MEDICARE-ADV"]


def npi_check_digit(first9: str) -> str:
    """Luhn check digit over the NPI prefix 80840 + the first nine digits."""
    digits = [int(d) for d in "80840" + first9]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 0:
            d *= 2
            d = d - 9 if d > 9 else d
        total += d
    return str((10 - total % 10) % 10)


@dataclass
class Delivery:
    path: Path
    rows: int
    faulty_rows: int


@dataclass
class SimulationReport:
    deliveries: list[Delivery] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return sum(d.rows for d in self.deliveries)

    @property
    def faulty_rows(self) -> int:
        return sum(d.faulty_rows for d in self.deliveries)


class Simulator:
    """Writes deliveries for specs into a landing folder."""

    def __init__(self, landing_root: Path, seed: int = 0, rows_per_delivery: int = 50, member_pool: int = 200):
        self.landing_root = Path(landing_root)
        self.seed = seed
        self.rows_per_delivery = rows_per_delivery
        self.member_pool = member_pool

    def simulate(
        self, spec: SourceSpec, start: dt.date, end: dt.date, fault_rate: float = 0.0
    ) -> SimulationReport:
        """One delivery per cadence window starting in [start, end)."""
        report = SimulationReport()
        partitions_def = partitions_for(spec)
        if spec.cadence is Cadence.adhoc:
            windows = [(start, end)]
        else:
            keys = partitions_def.get_partition_keys(current_time=dt.datetime.combine(end, dt.time()) + dt.timedelta(days=366))
            windows = [window_of(partitions_def, k) for k in keys]
            windows = [w for w in windows if start <= w[0] < end]
        for window in windows:
            report.deliveries.append(self._deliver(spec, window, fault_rate))
        return report

    def _deliver(self, spec: SourceSpec, window: tuple[dt.date, dt.date], fault_rate: float) -> Delivery:
        rng = random.Random(f"{self.seed}/{spec.key}/{window[0]}")
        fake = Faker("en_US")
        fake.seed_instance(rng.randrange(2**32))
        n = self.member_pool if self._is_snapshot(spec) else self.rows_per_delivery
        generators = {c.name: self._generator(spec, c, fake, rng, window) for c in spec.columns}
        rows, faulty = [], 0
        for i in range(n):
            row = {name: gen(i) for name, gen in generators.items()}
            if fault_rate and rng.random() < fault_rate and self._inject_fault(spec, row, rng):
                faulty += 1
            rows.append(row)
        name = compile_pattern(spec.delivery.file_pattern).render(window[0])
        folder = Path(spec.delivery.channel.path)
        folder = folder if folder.is_absolute() else self.landing_root / folder
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / name
        fmt = spec.format
        with path.open("w", newline="", encoding=fmt.encoding) as fh:
            writer = csv.DictWriter(fh, fieldnames=[c.name for c in spec.columns], delimiter=fmt.delimiter)
            if fmt.header:
                writer.writeheader()
            writer.writerows(rows)
        return Delivery(path, n, faulty)

    def _inject_fault(self, spec: SourceSpec, row: dict, rng: random.Random) -> bool:
        typed = [c for c in spec.columns if c.type not in (ColumnType.string,)]
        required = [c for c in spec.columns if not c.nullable]
        choices = [("type", c) for c in typed] + [("null", c) for c in required]
        if not choices:
            return False
        kind, column = rng.choice(choices)
        row[column.name] = "" if kind == "null" else "##bad##"
        return True

    def _generator(
        self, spec: SourceSpec, column: Column, fake: Faker, rng: random.Random, window: tuple[dt.date, dt.date]
    ) -> Callable[[int], str]:
        sem = column.semantic
        start, end = window
        fmt_date = lambda d: d.strftime((column.input_format or ["%Y-%m-%d"])[0])  # noqa: E731
        in_window = lambda: start + dt.timedelta(days=rng.randrange(max((end - start).days, 1)))  # noqa: E731
        prefix = spec.provider[:3].upper()
        by_semantic: dict[str, Callable[[int], object]] = {
            "member_id": lambda i: f"{prefix}{(i if i < self.member_pool and self._is_snapshot(spec) else rng.randrange(self.member_pool)):08d}",
            "claim_id": lambda i: f"{prefix}C{start:%Y%m%d}{i // 2:05d}",
            "line_number": lambda i: i % 2 + 1,
            "first_name": lambda i: fake.first_name(),
            "last_name": lambda i: fake.last_name(),
            "birth_date": lambda i: fmt_date(fake.date_of_birth(minimum_age=0, maximum_age=95)),
            "gender": lambda i: rng.choice("MFU"),
            "zip": lambda i: fake.zipcode(),
            "plan_code": lambda i: rng.choice(PLANS),
            "service_date": lambda i: fmt_date(in_window()),
            "coverage_start": lambda i: fmt_date(start - dt.timedelta(days=rng.randrange(30, 900))),
            "npi": lambda i: (lambda d: d + npi_check_digit(d))(f"1{rng.randrange(10**8):08d}"),
            "icd10": lambda i: rng.choice(ICD10),
            "cpt": lambda i: rng.choice(CPT),
            "money": lambda i: f"{rng.uniform(10, 2500):.2f}",
            "boolean": lambda i: rng.choice(["Y", "N"]),
        }
        if sem in by_semantic:
            return lambda i: str(by_semantic[sem](i))
        if sem and hasattr(fake, sem):
            return lambda i: str(getattr(fake, sem)())
        by_type: dict[ColumnType, Callable[[int], object]] = {
            ColumnType.string: lambda i: fake.bothify("??####"),
            ColumnType.integer: lambda i: rng.randrange(1000),
            ColumnType.decimal: lambda i: f"{rng.uniform(0, 1000):.{column.scale}f}",
            ColumnType.float: lambda i: f"{rng.uniform(0, 1000):.3f}",
            ColumnType.boolean: lambda i: rng.choice([column.true_values[0], column.false_values[0]]),
            ColumnType.date: lambda i: fmt_date(in_window()),
            ColumnType.datetime: lambda i: dt.datetime.combine(in_window(), dt.time(rng.randrange(24))).strftime(
                (column.input_format or ["%Y-%m-%dT%H:%M:%S"])[0]
            ),
        }
        return lambda i: str(by_type[column.type](i))

    @staticmethod
    def _is_snapshot(spec: SourceSpec) -> bool:
        return any(spec.column(k).semantic == "member_id" for k in spec.primary_key)
