"""The defaults shipped in config/defaults (TOML): read, and added where the database lacks them."""

import tomllib
from collections.abc import Callable, Iterable

from config.settings import DEFAULTS


def load(name: str) -> dict:
    """One file of config/defaults, parsed."""
    return tomllib.loads((DEFAULTS / name).read_text(encoding="utf-8"))


def add_missing(specs: Iterable[dict], existing_codes: Iterable[str], create: Callable[..., object]) -> int:
    """Create each spec whose `code` is not among the existing codes; how many were added. Seeding twice
    adds nothing the second time."""
    existing = set(existing_codes)
    missing = [spec for spec in specs if spec["code"] not in existing]
    for spec in missing:
        create(**spec)
    return len(missing)
