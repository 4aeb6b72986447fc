"""Recognising PHI-looking columns of a new file, by column name and by values.

Used by the profiler to pre-fill `phi` annotations in a draft spec. Names are matched on their
tokens (`BENE_BIRTH_DT` -> bene, birth, dt), values on patterns that are specific enough not to
fire on codes (an e-mail address, a hyphenated SSN, a formatted phone number).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import polars as pl

from carelake.spec import DEFAULT_MASKING, Masking, PhiCategory

# Token sets per category, checked in order: the first match wins (birth before generic date).
_NAME_RULES: list[tuple[PhiCategory, str]] = [
    (PhiCategory.ssn, r"(^|_)(ssn|social_security|ssn_num|sin)(_|$)"),
    (PhiCategory.mrn, r"(^|_)(mrn|medical_record|med_rec|chart)(_|$)"),
    (PhiCategory.member_id, r"(^|_)(desynpuf_id|bene_id|mbr_id|member_id|member_number|member_num|subscriber_id|"
                            r"patient_id|pat_id|pt_id|person_id|enrollee_id|insured_id|member|mbr|subscriber|hicn|mbi)(_|$)"),
    (PhiCategory.birth_date, r"(^|_)(dob|birth|birth_dt|birth_date|bene_birth_dt|date_of_birth|bday)(_|$)"),
    (PhiCategory.date, r"(^|_)(death|dod|admsn|admission|dschrg|discharge)(_|$)"),
    (PhiCategory.name, r"(^|_)(first|last|given|family|middle|full|patient|member)?_?(name|nm|fname|lname)(_|$)"),
    (PhiCategory.email, r"(^|_)(email|e_mail|mail)(_|$)"),
    (PhiCategory.phone, r"(^|_)(phone|tel|telephone|fax|mobile|cell)(_|$)"),
    (PhiCategory.zip, r"(^|_)(zip|zipcode|zip_code|postal|postal_code|postcode)(_|$)"),
    (PhiCategory.address, r"(^|_)(address|addr|street|addr1|addr2|address1|address2|city)(_|$)"),
    (PhiCategory.account, r"(^|_)(account|acct|account_number|policy_number|policy_id)(_|$)"),
]

_VALUE_RULES: list[tuple[PhiCategory, str]] = [
    (PhiCategory.email, r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$"),
    (PhiCategory.ssn, r"^[0-9]{3}-[0-9]{2}-[0-9]{4}$"),
    (PhiCategory.phone, r"^\(?[0-9]{3}\)?[-. ][0-9]{3}[-. ][0-9]{4}$"),
    (PhiCategory.address, r"(?i)^[0-9]+[A-Z]? [A-Z0-9 .'-]+ (st|street|ave|avenue|rd|road|blvd|boulevard|dr|drive|ln|lane|"
                          r"way|ct|court|pl|place|ter|terrace|pkwy|parkway|hwy|highway|cir|circle)\.?( (apt|suite|unit|#) ?[A-Z0-9-]+)?$"),
]


@functools.cache
def _person_names() -> list[str]:
    """Common US first and last names (Faker's en_US lists, lower case): evidence of a name column."""
    from faker.providers.person.en_US import Provider

    return sorted({n.lower() for n in (*Provider.first_names, *Provider.last_names)})


def _name_share(present: pl.Series) -> float:
    """Share of values that are words and start with a common first or last name."""
    words = present.str.contains(r"^[A-Za-z][A-Za-z' .,-]*$")
    first = present.str.to_lowercase().str.extract(r"^([a-z']+)").is_in(_person_names())
    return float((words & first).mean() or 0.0)


def _identifier_share(present: pl.Series) -> float:
    """Share of values shaped like opaque ids (8-20 letters and digits mixed), if they are nearly all distinct."""
    if present.len() < 2 or present.n_unique() < 0.9 * present.len():
        return 0.0
    shaped = present.str.contains(r"^[A-Za-z0-9]{8,20}$") & present.str.contains(r"[0-9]") & present.str.contains(r"[A-Za-z]")
    return float(shaped.mean() or 0.0)

@dataclass(frozen=True)
class PhiFinding:
    category: PhiCategory
    evidence: str  # "name" or "values (97% match ...)"

    @property
    def masking(self) -> Masking:
        return DEFAULT_MASKING[self.category]


def name_tokens(name: str) -> str:
    """`BeneBirthDt` / `BENE-BIRTH DT` -> `bene_birth_dt`."""
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name)
    return re.sub(r"[^a-z0-9]+", "_", snake.lower()).strip("_")


def phi_by_name(name: str) -> PhiCategory | None:
    """The PHI kind a column name suggests, if any."""
    tokens = name_tokens(name)
    for category, pattern in _NAME_RULES:
        if re.search(pattern, tokens):
            return category
    return None


def phi_by_values(values: pl.Series, threshold: float = 0.8) -> tuple[PhiCategory, float] | None:
    """The PHI kind most non-null values look like (at least `threshold` of them), with the share."""
    present = values.drop_nulls().cast(pl.String)
    if present.is_empty():
        return None
    for category, pattern in _VALUE_RULES:
        share = present.str.contains(pattern).mean()
        if share is not None and share >= threshold:
            return category, float(share)
    if (share := _name_share(present)) >= 0.6:  # not every name is in the list: a lower bar
        return PhiCategory.name, share
    if (share := _identifier_share(present)) >= threshold:
        return PhiCategory.other, share
    return None


def detect_phi(name: str, values: pl.Series, is_date: bool) -> PhiFinding | None:
    """Name first (most precise), then values; a date column tied to a person is PHI as well."""
    by_name = phi_by_name(name)
    if by_name is not None:
        if is_date and by_name not in (PhiCategory.birth_date, PhiCategory.date):
            by_name = PhiCategory.date
        return PhiFinding(by_name, "name")
    by_values = phi_by_values(values)
    if by_values is not None:
        kind = "an identifier" if by_values[0] is PhiCategory.other else by_values[0].value
        return PhiFinding(by_values[0], f"values ({by_values[1]:.0%} look like {kind})")
    return None
