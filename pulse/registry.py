"""The framework registry (pulse/frameworks.toml): ids, names, colours and per-source keys."""

from __future__ import annotations

import difflib
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from pulse.errors import PulseError, UnknownFramework

REGISTRY_FILE = Path(__file__).with_name("frameworks.toml")
_LIST_FIELDS = ("github", "github_former", "pypi", "hf_tags", "pwc", "trends", "stackoverflow")


@dataclass(frozen=True)
class Framework:
    id: str
    name: str
    color: str
    github: tuple[str, ...] = ()
    github_former: tuple[str, ...] = ()
    pypi: tuple[str, ...] = ()
    hf_tags: tuple[str, ...] = ()
    pwc: tuple[str, ...] = ()
    trends: tuple[str, ...] = ()
    stackoverflow: tuple[str, ...] = ()
    default: bool = False
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def primary_repo(self) -> str | None:
        return self.github[0] if self.github else None


def load(path: Path = REGISTRY_FILE) -> dict[str, Framework]:
    """Parse a registry file; raise PulseError naming the file and key on a malformed entry."""
    try:
        with open(path, "rb") as fh:
            raw = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise PulseError(f"Cannot parse the framework registry {path}: {exc}.", "Fix the TOML syntax.") from exc
    frameworks: dict[str, Framework] = {}
    for fid, entry in raw.items():
        if fid != fid.lower() or not isinstance(entry, dict):
            raise PulseError(f"Registry {path}: '{fid}' must be a lowercase table name.")
        for key in ("name", "color"):
            if key not in entry:
                raise PulseError(f"Registry {path}: [{fid}] has no '{key}'.", f"Add {key} = \"...\".")
        known = {"name", "color", "default", *_LIST_FIELDS}
        lists = {k: tuple(entry.get(k, ())) for k in _LIST_FIELDS}
        frameworks[fid] = Framework(
            id=fid,
            name=entry["name"],
            color=entry["color"],
            default=bool(entry.get("default", False)),
            extra={k: v for k, v in entry.items() if k not in known},
            **lists,
        )
    return frameworks


@lru_cache(maxsize=1)
def frameworks() -> dict[str, Framework]:
    """All frameworks, keyed by id, in registry order."""
    return load()


def ids() -> list[str]:
    return list(frameworks())


def default_ids() -> list[str]:
    return [f.id for f in frameworks().values() if f.default]


def suggest(given: str, candidates: list[str] | None = None) -> str | None:
    candidates = candidates if candidates is not None else ids()
    lowered = given.strip().lower()
    by_name = {f.name.lower(): f.id for f in frameworks().values()}
    if lowered in by_name:
        return by_name[lowered]
    match = difflib.get_close_matches(lowered, candidates, n=1, cutoff=0.5)
    if match:
        return match[0]
    match = difflib.get_close_matches(lowered, list(by_name), n=1, cutoff=0.5)
    return by_name[match[0]] if match else None


def get(framework_id: str) -> Framework:
    """The framework with this id; UnknownFramework (with the closest id) otherwise."""
    try:
        return frameworks()[framework_id]
    except KeyError:
        raise UnknownFramework(framework_id, suggest(framework_id), ids()) from None


def validate(framework_ids: list[str] | tuple[str, ...]) -> list[str]:
    """Check ids, raising UnknownFramework for the first unknown one."""
    return [get(f).id for f in framework_ids]


def color_map() -> dict[str, str]:
    return {f.id: f.color for f in frameworks().values()}


def display_name(framework_id: str) -> str:
    f = frameworks().get(framework_id)
    return f.name if f else framework_id


def by_key(field_name: str) -> dict[str, str]:
    """Map each value of a per-source list field (e.g. 'pwc', 'hf_tags') to its framework id."""
    if field_name not in _LIST_FIELDS:
        raise ValueError(f"not a registry list field: {field_name}")
    mapping: dict[str, str] = {}
    for f in frameworks().values():
        for value in getattr(f, field_name):
            mapping[value.lower()] = f.id
    return mapping


def pairs(field_name: str, framework_ids: list[str] | None, what: str) -> list[tuple[str, str]]:
    """(framework id, value) for each value of a per-source list field of the chosen frameworks
    (all when none are chosen); a chosen framework without values is refused, naming the field."""
    if field_name not in _LIST_FIELDS:
        raise ValueError(f"not a registry list field: {field_name}")
    chosen = validate(framework_ids) if framework_ids else ids()
    without = [f for f in chosen if not getattr(get(f), field_name)]
    if framework_ids and without:
        raise PulseError(f"{', '.join(without)} has no {what} ({field_name}) in pulse/frameworks.toml.",
                         f"Add {field_name} = [\"...\"] there, or choose another framework.")
    return [(fid, value) for fid in chosen for value in getattr(get(fid), field_name)]
