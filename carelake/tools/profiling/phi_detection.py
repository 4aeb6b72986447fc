"""Recognising PHI-looking columns of a new file from column names and value shapes together.

Used by the profiler to pre-fill `phi` annotations in a draft spec. Names are matched on their
tokens (`BENE_BIRTH_DT` -> bene, birth, dt). A strong name (`SSN`, `DOB`, `FIRST_NAME`) is enough;
a weak one (`FIRST`, `MEMBER`, `LAST`) needs values of the right shape; values alone flag a column
only with shapes specific enough not to fire on codes (an e-mail, a hyphenated SSN, a formatted
phone, a street address, diverse person names, opaque identifiers). Values that contradict the name
(small counts under `MEMBER_MONTHS`, a handful of categories under `RACE`) win over it. Every verdict
carries a confidence, and a doubt the reviewer should see.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import polars as pl

from carelake.spec import DEFAULT_MASKING, Masking, PhiCategory

_IDS = (PhiCategory.member_id, PhiCategory.mrn, PhiCategory.account, PhiCategory.other)
_DATES = (PhiCategory.birth_date, PhiCategory.date)
_T = r"(^|_)(?:{})(_|$)"

# (category, token pattern, strong?) in order: the first match wins (a birthplace before a birth date).
_NAME_RULES: list[tuple[PhiCategory, str, bool]] = [
    (PhiCategory.ssn, _T.format("ssn|social_security|social_security_number|socsec"), True),
    (PhiCategory.mrn, _T.format("mrn|medical_record|medical_record_number|med_rec|med_rec_num"), True),
    (PhiCategory.member_id, _T.format("desynpuf_id|bene_id|mbr_id|member_id|member_number|member_num|subscriber_id|"
                                      "patient_id|pat_id|pt_id|person_id|enrollee_id|insured_id|hicn|mbi|medicaid_id|medicare_id"), True),
    (PhiCategory.other, _T.format("drivers|driver_license|drivers_license|license|license_number|passport|passport_number|"
                                  "ip_address|device_id|device_serial|vin|url|biometric"), True),
    (PhiCategory.address, _T.format("birthplace|birth_place|place_of_birth|pob|birth_city|birth_country"), True),
    (PhiCategory.birth_date, _T.format("dob|birthdate|birth_dt|birth_date|bene_birth_dt|date_of_birth|bday|birthday|birth"), True),
    (PhiCategory.date, _T.format("death|deathdate|dod|admsn|admission|admit|dschrg|discharge"), True),
    (PhiCategory.email, _T.format("email|e_mail|email_address"), True),
    (PhiCategory.phone, _T.format("phone|tel|telephone|fax|mobile|cell|phone_number"), True),
    (PhiCategory.zip, _T.format("zip|zipcode|zip_code|zip5|zip4|postal|postal_code|postcode"), True),
    (PhiCategory.address, _T.format("address|addr|street|addr1|addr2|address1|address2|address_line|city|town|"
                                    "county|cnty|fips|county_fips|census_tract|tract|block_group"), True),
    (PhiCategory.name, _T.format("first_name|last_name|full_name|given_name|family_name|middle_name|maiden_name|"
                                 "patient_name|member_name|fname|lname|mname|surname"), True),
    (PhiCategory.account, _T.format("account|acct|account_number|policy_number|policy_id|policy_num"), True),
    # weak names: values must not contradict them
    (PhiCategory.name, _T.format("first|last|given|family|middle|maiden|name|nm"), False),
    (PhiCategory.address, _T.format("lat|latitude|lon|lng|long|longitude|geo_lat|geo_lon"), False),
    (PhiCategory.member_id, _T.format("member|mbr|subscriber|patient|pat|person|enrollee|beneficiary|bene|insured"), False),
]
# Tokens that say a column is a count, an amount or a category: never a person's identifier or name.
_COUNTS = _T.format("months|month|mons|mos|count|cnt|days|tot|total|amt|amount|qty|quantity|sum|avg|cost|costs|paid|"
                    "charge|charges|expenses|coverage|income|age|years|rate|pct|percent|score|visits|nbr_of|num_of")
_CATEGORIES = _T.format("race|ethnicity|ethnic|gender|sex|marital|language|religion|status|type|class|category|desc|"
                        "description|specialty|relationship|prefix|suffix|cd|code|ind|indicator|flag|flg")
_NOT_PEOPLE = _T.format("provider|prov|facility|org|organization|plan|drug|product|payer|vendor|file|company|hospital|"
                        "practice|pharmacy|physician|physn|prvdr|npi|prescriber|attending|doctor|brand|generic|code|dx|procedure|table")

_VALUE_RULES: list[tuple[PhiCategory, str]] = [
    (PhiCategory.email, r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$"),
    (PhiCategory.ssn, r"^[0-9]{3}-[0-9]{2}-[0-9]{4}$"),
    (PhiCategory.phone, r"^(\+1[-. ]?)?\(?[0-9]{3}\)?[-. ][0-9]{3}[-. ][0-9]{4}$"),
    (PhiCategory.address, r"(?i)^[0-9]+[A-Z]? [A-Z0-9 .'-]+ (st|street|ave|avenue|rd|road|blvd|boulevard|dr|drive|ln|lane|"
                          r"way|ct|court|pl|place|ter|terrace|pkwy|parkway|hwy|highway|cir|circle|sq|square|trl|trail)\.?"
                          r"( (apt|suite|unit|#) ?[A-Z0-9-]+)?$"),
]
# Shapes that confirm a name's category (not enough alone: codes have them too).
_CONFIRM: dict[PhiCategory, str] = {
    PhiCategory.ssn: r"^[0-9]{3}-?[0-9]{2}-?[0-9]{4}$",
    PhiCategory.zip: r"^[0-9]{5}(-?[0-9]{4})?$|^[0-9]{3}$",
    PhiCategory.phone: r"^[0-9() +.-]{10,16}$",
    PhiCategory.email: r"@",
}


@functools.cache
def _person_names() -> list[str]:
    """Common US first and last names (Faker's en_US lists, lower case): evidence of a name column."""
    from faker.providers.person.en_US import Provider

    return sorted({n.lower() for n in (*Provider.first_names, *Provider.last_names)})


@dataclass(frozen=True)
class PhiFinding:
    category: PhiCategory
    evidence: str  # "name", "name and values", "values (97% look like email)"
    confidence: float = 0.85
    masking_override: Masking | None = None  # when the category's default cannot apply to the drafted type
    keep: int | None = None  # characters `truncate` keeps

    @property
    def masking(self) -> Masking:
        return self.masking_override or DEFAULT_MASKING[self.category]


@dataclass(frozen=True)
class PhiVerdict:
    """A column's verdict: the finding (None: not PHI), the confidence in the verdict, a doubt if any."""

    finding: PhiFinding | None
    confidence: float
    doubt: str | None = None


def name_tokens(name: str) -> str:
    """`BeneBirthDt` / `BENE-BIRTH DT` -> `bene_birth_dt`."""
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name)
    return re.sub(r"[^a-z0-9]+", "_", snake.lower()).strip("_")


def phi_by_name(name: str) -> tuple[PhiCategory, bool] | None:
    """(the PHI kind a column name suggests, whether the name alone is strong evidence), if any."""
    tokens = name_tokens(name)
    for category, pattern, strong in _NAME_RULES:
        if re.search(pattern, tokens):
            return category, strong
    return None


def _share(present: pl.Series, pattern: str) -> float:
    return float(present.str.contains(pattern).mean() or 0.0)


def _name_share(present: pl.Series) -> float:
    """Share of values that start with a common first or last name (`Jacinto644` counts: exports add digits)."""
    words = present.str.contains(r"^[A-Za-z][A-Za-z' .,-]*[0-9]*$")
    first = present.str.to_lowercase().str.extract(r"^([a-z']+)").is_in(_person_names())
    return float((words & first).mean() or 0.0)


def _diverse(present: pl.Series) -> bool:
    """Many different values: names and ids are; race, sex and status codes are not."""
    distinct = present.n_unique()
    return distinct >= 0.3 * present.len() and distinct > 5 or distinct >= 50


def _identifier_share(present: pl.Series) -> float:
    """Share of values shaped like opaque ids (UUIDs, or 8-20 letters and digits mixed), if nearly all distinct."""
    if present.len() < 2 or present.n_unique() < 0.9 * present.len():
        return 0.0
    uuid = present.str.contains(r"(?i)^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
    mixed = present.str.contains(r"^[A-Za-z0-9]{8,20}$") & present.str.contains(r"[0-9]") & present.str.contains(r"[A-Za-z]")
    return float((uuid | mixed).mean() or 0.0)


def _coordinate_share(present: pl.Series) -> float:
    """Share of values that are decimal degrees with at least 3 decimals (-180..180)."""
    shaped = present.str.contains(r"^[+-]?[0-9]{1,3}\.[0-9]{3,}$")
    number = present.cast(pl.Float64, strict=False).abs() <= 180
    return float((shaped & number.fill_null(False)).mean() or 0.0)


def _id_contradiction(present: pl.Series) -> str | None:
    """Why values cannot be a person's identifier, if they cannot."""
    if present.str.len_chars().max() <= 2:
        return "values are one or two characters (a code), not identifiers"
    if present.str.contains(r"^[+-]?[0-9]{1,4}$").all():
        return "values are small whole numbers (a count or a code), not identifiers"
    if present.str.contains(r"^[+-]?[0-9]*\.[0-9]+$").all():
        return "values are decimal numbers, not identifiers"
    return None


def phi_by_values(values: pl.Series, threshold: float = 0.8) -> tuple[PhiCategory, float] | None:
    """The PHI kind most non-null values look like (at least `threshold` of them), with the share."""
    present = values.drop_nulls().cast(pl.String)
    if present.is_empty():
        return None
    for category, pattern in _VALUE_RULES:
        if (share := _share(present, pattern)) >= threshold:
            return category, share
    # Not every name is in the list: a lower bar; few distinct single words are categories (race: White, Black).
    full = _share(present, r"^[A-Za-z'.-]+,? [A-Za-z'.-]+") >= 0.8
    if (share := _name_share(present)) >= 0.6 and (_diverse(present) or full):
        return PhiCategory.name, share
    if (share := _identifier_share(present)) >= threshold:
        return PhiCategory.other, share
    return None


def detect_phi(name: str, values: pl.Series, kind: str) -> PhiVerdict:
    """The verdict on one column from its name, its values (trimmed, non-null) and its drafted type."""
    present = values.drop_nulls().cast(pl.String)
    tokens = name_tokens(name)
    dated = kind in ("date", "datetime")
    by_name = phi_by_name(name)
    doubt = None
    if by_name is not None:
        category, strong = by_name
        verdict, doubt = _judge_name(category, strong, tokens, present, dated)
        if verdict is not None:
            return verdict
    if re.search(_CATEGORIES, tokens):
        return PhiVerdict(None, 0.9 if not doubt else 0.7, doubt)
    if re.search(_COUNTS, tokens) or present.is_empty():
        return PhiVerdict(None, 0.9 if not doubt else 0.7, doubt)
    by_values = phi_by_values(present)
    if by_values is not None and not dated:
        category, share = by_values
        if category in (PhiCategory.other, PhiCategory.name) and re.search(_NOT_PEOPLE, tokens):
            return PhiVerdict(None, 0.75, f"values look like {'identifiers' if category is PhiCategory.other else 'names'}, "
                              "but of a provider, payer, product or organisation: not a person's")
        what = "an identifier" if category is PhiCategory.other else category.value
        base = 0.5 if category is PhiCategory.name else 0.6
        confidence = round(base + (0.35 if category not in (PhiCategory.name, PhiCategory.other) else 0.3) * share, 2)
        return PhiVerdict(PhiFinding(category, f"values ({share:.0%} look like {what})", confidence), confidence, doubt)
    return PhiVerdict(None, 0.7 if doubt else 0.85, doubt)


def _judge_name(category: PhiCategory, strong: bool, tokens: str, present: pl.Series, dated: bool
                ) -> tuple[PhiVerdict | None, str | None]:
    """A verdict from a name match checked against the values, or (None, the doubt) to fall back on values."""
    if category in _DATES:
        if not dated:
            return None, f"the name suggests {category.value}, but the values are not dates"
        if present.is_empty():
            return PhiVerdict(PhiFinding(category, "name (an empty date column)", 0.85), 0.85), None
        return PhiVerdict(PhiFinding(category, "name and values (dates)", 0.95), 0.95), None
    if dated and (strong or category in _IDS):  # MEMBER_ENROLL_DT: a person's date; FIRST_FILL_DT: not by its name
        return PhiVerdict(PhiFinding(PhiCategory.date, "name (a person's) and values (dates)", 0.8), 0.8), None
    if dated:
        return None, None
    if category in _IDS or category is PhiCategory.name:
        if not strong and re.search(_CATEGORIES, tokens):
            return None, None  # BENE_ESRD_IND, BENE_SEX_IDENT_CD: a code about the person, not the person
        if re.search(_COUNTS, tokens):  # MEMBER_MONTHS, BENE_..._AMT: a doubt only if the name alone was strong
            return None, f"the name suggests {category.value}, but it counts or sums something" if strong else None
        if category is PhiCategory.name and (re.search(_NOT_PEOPLE, tokens) or re.search(_CATEGORIES, tokens)):
            return None, "a name, but of something other than a person"
    if present.is_empty():
        confidence = 0.8 if strong else 0.55
        return PhiVerdict(PhiFinding(category, "name (no values to confirm)", confidence), confidence), None
    if category in _IDS:
        if (why := _id_contradiction(present)) is not None:
            return None, f"the name suggests {category.value}, but {why}"
        confirmed = _identifier_share(present) >= 0.8 or present.str.len_chars().min() >= 5
        return _found(category, strong, confirmed), None
    if category is PhiCategory.name:
        if present.str.contains(r"^[+-]?[0-9.]+$").mean() > 0.5:
            return None, "the name suggests a person's name, but the values are numbers"
        share = _name_share(present)
        if not strong and share < 0.3 and not _diverse(present):
            return None, f"the name suggests a person's name, but only {share:.0%} of the values are common names"
        return _found(category, strong, share >= 0.3), None
    if re.search(_T.format("lat|latitude|lon|lng|long|longitude|geo_lat|geo_lon"), tokens):
        share = _coordinate_share(present)
        if share < 0.8:
            return None, f"the name suggests a coordinate, but only {share:.0%} of the values are decimal degrees"
        return _found(category, True, True, "name and values (coordinates)"), None
    if category in _CONFIRM:
        share = _share(present, _CONFIRM[category])
        if share < 0.5:
            return PhiVerdict(PhiFinding(category, f"name; only {share:.0%} of values have the shape", 0.55), 0.55), None
        return _found(category, strong, share >= 0.8), None
    by_values = phi_by_values(present)
    return _found(category, strong, by_values is not None and by_values[0] is category), None


def _found(category: PhiCategory, strong: bool, confirmed: bool, evidence: str | None = None) -> PhiVerdict:
    confidence = {(True, True): 0.97, (True, False): 0.85, (False, True): 0.85, (False, False): 0.55}[(strong, confirmed)]
    evidence = evidence or ("name and values" if confirmed else "name")
    return PhiVerdict(PhiFinding(category, evidence, confidence), confidence)
