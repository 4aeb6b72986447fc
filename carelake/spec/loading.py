"""Loading `sources/`: a feed spec per `<provider>/<table>.yaml`, and the platform config beside them
(`_platform.yaml`, reserved folders: `carelake/spec/platform.py`), with errors that name the file,
the field and the fix."""

from __future__ import annotations

import functools
import hashlib
import os
import pickle
import types
import typing
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import BaseModel, ValidationError

from carelake.spec import SourceSpec, Validation
from carelake.spec.ordering import waits_for_problems
from carelake.spec.platform import PLATFORM_FILE, PlatformConfig, is_reserved, reserved_problems

# libyaml's C parser: ~20x faster than the pure-Python one, which dominated load time at 1,000 feeds.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# Discriminator tags of the quality rules, hidden from error locations (the user never wrote them).
_RULE_TAGS = frozenset(
    tag for model in typing.get_args(typing.get_args(Validation)[0]) for tag in typing.get_args(model.model_fields["rule"].annotation)
)


class SpecError(ValueError):
    """One or more source YAML files are invalid; `problems` holds one readable line per mistake."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("invalid source specs:\n  " + "\n  ".join(problems))


@dataclass(frozen=True)
class LoadedSpec:
    spec: SourceSpec
    path: Path


@dataclass(frozen=True)
class Catalog:
    """What `sources/` holds: the valid feeds, the platform config, and every invalid file with its mistakes."""

    feeds: list[LoadedSpec]
    platform: PlatformConfig
    invalid: dict[Path, list[str]]

    @property
    def problems(self) -> list[str]:
        return [problem for problems in self.invalid.values() for problem in problems]


def load_specs(sources_dir: Path, cache_file: Path | None = None) -> list[LoadedSpec]:
    """Every spec under `sources_dir`, sorted by provider/table; raises SpecError listing all mistakes
    (what `carelake validate` and CI use: strict)."""
    catalog = load_catalog(sources_dir, cache_file)
    if catalog.invalid:
        raise SpecError(catalog.problems)
    return catalog.feeds


def load_catalog(sources_dir: Path, cache_file: Path | None = None) -> Catalog:
    """Every valid spec under `sources_dir` and each invalid file's mistakes, without raising: one bad
    file (or a feed waiting for it) leaves every other feed loadable.

    With `cache_file`, specs whose file is unchanged (same size and mtime) are taken from the
    cache of validated specs instead of being parsed again: at 5,000 feeds parsing and
    validating YAML costs ~2 s per code-location load, the cache ~0.2 s.
    """
    invalid: dict[Path, list[str]] = {}
    loaded: list[LoadedSpec] = []
    seen: dict[str, Path] = {}
    cache = _SpecCache(cache_file)
    sources_dir = Path(sources_dir)
    for problem in reserved_problems(sources_dir):
        invalid.setdefault(Path(problem.split(": ", 1)[0]), []).append(problem)
    try:
        platform = load_platform(sources_dir)
    except SpecError as exc:
        invalid[sources_dir / PLATFORM_FILE] = exc.problems
        platform = PlatformConfig()
    for path in sorted(sources_dir.rglob("*.y*ml")):
        if is_reserved(sources_dir, path):
            continue
        try:
            spec = cache.get(path) or cache.put(path, load_spec(path))
        except SpecError as exc:
            invalid[path] = exc.problems
            continue
        if spec.key in seen:
            invalid[path] = [f"{path}: feed {spec.key} is already defined in {seen[spec.key]}"]
            continue
        seen[spec.key] = path
        if spec.delivery.channel.kind == "local" and (problem := platform.channel_problem(spec.delivery.channel.path)):
            invalid[path] = [f"{path}: {problem}"]
            continue
        loaded.append(LoadedSpec(spec, path))
    # A feed waiting for an invalid feed is invalid too, and so on down the chain.
    while problems := waits_for_problems([(item.spec, item.path) for item in loaded]):
        bad = {item.path for item in loaded if any(p.startswith(f"{item.path}: ") for p in problems)}
        for item in loaded:
            if item.path in bad:
                invalid.setdefault(item.path, []).extend(p for p in problems if p.startswith(f"{item.path}: "))
        loaded = [item for item in loaded if item.path not in bad]
    cache.save()
    return Catalog(loaded, platform, invalid)


class _SpecCache:
    """Validated specs by file path, valid while the file's size and mtime and the spec code are unchanged."""

    def __init__(self, cache_file: Path | None):
        self.file = cache_file
        self.entries: dict[str, tuple[int, int, SourceSpec]] = {}
        self.dirty = False
        if cache_file is not None and cache_file.exists():
            try:
                version, entries = pickle.loads(cache_file.read_bytes())
            except (pickle.UnpicklingError, EOFError, AttributeError, ImportError, TypeError, ValueError):
                return  # an unreadable cache is only a miss: every spec is parsed again
            if version == _code_version():
                self.entries = entries

    def get(self, path: Path) -> SourceSpec | None:
        if self.file is None:
            return None
        entry = self.entries.get(str(path.resolve()))
        stat = path.stat()
        return entry[2] if entry and entry[:2] == (stat.st_mtime_ns, stat.st_size) else None

    def put(self, path: Path, spec: SourceSpec) -> SourceSpec:
        if self.file is not None:
            stat = path.stat()
            self.entries[str(path.resolve())] = (stat.st_mtime_ns, stat.st_size, spec)
            self.dirty = True
        return spec

    def save(self) -> None:
        if self.file is None or not self.dirty:
            return
        self.file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.file.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(pickle.dumps((_code_version(), self.entries), protocol=pickle.HIGHEST_PROTOCOL))
        tmp.replace(self.file)


@functools.cache
def _code_version() -> str:
    """Changes whenever the spec models or their dependencies change, invalidating the cache."""
    import pydantic

    digest = hashlib.sha256(pydantic.VERSION.encode())
    # Everything spec validation runs lives in this package (models, patterns, pictures, ordering).
    for source in sorted(Path(__file__).parent.rglob("*.py")):
        digest.update(source.read_bytes())
    return digest.hexdigest()


def load_platform(sources_dir: Path) -> PlatformConfig:
    """`sources/_platform.yaml` (the defaults when there is none); raises SpecError with every mistake."""
    path = Path(sources_dir) / PLATFORM_FILE
    return _validated(PlatformConfig, _mapping(path), path) if path.exists() else PlatformConfig()


def _mapping(path: Path) -> dict:
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_LOADER)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark else ""
        raise SpecError([f"{path}{where}: not valid YAML ({getattr(exc, 'problem', exc)})"]) from exc
    if not isinstance(raw, dict):
        raise SpecError([f"{path}: expected a mapping of fields, got {type(raw).__name__}"])
    return raw


def _validated(model: type[BaseModel], raw: dict, path: Path) -> BaseModel:
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise SpecError([f"{path}: {_describe(err, model, raw)}" for err in exc.errors()]) from exc


def load_spec(path: Path) -> SourceSpec:
    """Parse one feed's YAML file; provider and table default to the file's folder and stem."""
    raw = _mapping(path)
    raw.setdefault("provider", path.parent.name)
    raw.setdefault("table", path.stem)
    spec = _validated(SourceSpec, raw, path)
    if (spec.provider, spec.table) != (path.parent.name, path.stem):
        raise SpecError(
            [f"{path}: provider/table {spec.key} must match the file location sources/<provider>/<table>.yaml"]
        )
    return spec


def _describe(err: dict, model: type[BaseModel], raw: object = None) -> str:
    loc = _format_loc(err["loc"], raw)
    if err["type"] == "extra_forbidden":
        allowed = _allowed_keys(model, err["loc"][:-1])
        hint = f"; allowed keys: {', '.join(allowed)}" if allowed else ""
        return f"{loc}: unknown key{hint}"
    value = err.get("input")
    shown = f" {value!r}" if isinstance(value, (str, int, float)) and not isinstance(value, bool) else ""
    return f"{loc}:{shown} {err['msg']}".replace("Value error, ", "")


def _format_loc(loc: tuple, raw: object = None) -> str:
    """`columns[3] (SSN).type`: list items by index and, where the item has one, by its name."""
    out, here = "", raw
    for part in loc:
        if isinstance(part, int):
            item = here[part] if isinstance(here, list) and 0 <= part < len(here) else None
            name = item.get("name") if isinstance(item, dict) else None
            out += f"[{part}]" + (f" ({name})" if isinstance(name, str) else "")
            here = item
        elif part in ("local", "csv", "not_null", "unique", "accepted_values", "slack", "email", "pagerduty") or part in _RULE_TAGS:
            continue  # discriminator tags pydantic inserts; the user never wrote them
        else:
            out += f".{part}" if out else str(part)
            here = here.get(part) if isinstance(here, dict) else None
    return out or "(top level)"


def _allowed_keys(model: type[BaseModel], loc: tuple) -> list[str]:
    current: object = model
    for part in loc:
        if isinstance(part, int):
            continue
        model_cls = _model_in(current, part)
        if model_cls is None:
            return []
        field = model_cls.model_fields.get(part)
        if field is None:
            current = model_cls  # a discriminator tag: stay on the tagged model
            continue
        current = field.annotation
    final = _model_in(current, None)
    return sorted(final.model_fields) if final else []


def _model_in(annotation: object, tag: object) -> type[BaseModel] | None:
    """The pydantic model inside an annotation (list[...], Optional, Annotated unions by tag)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    args = typing.get_args(annotation)
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _model_in(args[0], tag)
    candidates = [a for a in args if _model_in(a, tag) is not None]
    if origin in (typing.Union, types.UnionType) and len(candidates) > 1:
        for cand in candidates:
            model_cls = _model_in(cand, tag)
            tags = [typing.get_args(f.annotation) for n, f in model_cls.model_fields.items() if n in ("kind", "rule")]
            if tags and tag in tags[0]:
                return model_cls
        return None
    return _model_in(candidates[0], tag) if candidates else None
