"""Config that does nothing is refused: every key the site config accepts is read by production code, and a key
it does not know is an error naming it (the other half is in test_config.py)."""

from __future__ import annotations

import re
import typing
from pathlib import Path

import pytest
from pydantic import BaseModel

from andon.config import SiteConfig

ROOT = Path(__file__).resolve().parents[2]
#: production code: what a deployment runs (dev tools such as the simulator and the Odoo stand-in do not count)
PRODUCTION = [p for folder in ("andon", "wire", "operators", "pipelines", "connectors") for p in (ROOT / folder).rglob("*.py")
              if not {"simulator", "standin"} & set(p.parts)]


def fields(model: type[BaseModel], prefix: str = "") -> list[tuple[str, str]]:
    """(key path, attribute name) of every key of `model`, nested models included."""
    out = []
    for name, info in model.model_fields.items():
        key = info.alias or name
        out.append((prefix + key, name))
        for arg in [info.annotation, *typing.get_args(info.annotation)]:
            for inner in [arg, *typing.get_args(arg)]:
                if isinstance(inner, type) and issubclass(inner, BaseModel):
                    out.extend(fields(inner, f"{prefix}{key}."))
    return list(dict.fromkeys(out))


CONFIG = ROOT / "andon" / "config.py"


@pytest.fixture(scope="module")
def sources() -> tuple[str, str]:
    """(production code but the config module, the config module)."""
    return "\n".join(p.read_text() for p in PRODUCTION if p != CONFIG), CONFIG.read_text()


@pytest.mark.parametrize(("key", "name"), fields(SiteConfig))
def test_every_config_key_is_read(sources, key, name):
    """Read somewhere in production code (`.name`, or by its name as a string), or by a method of the config model
    itself (`self.name`): declaring it, or naming it in the environment overrides, is not reading it."""
    others, config = sources
    assert re.search(rf"\.{name}\b|[\"']{name}[\"']", others) or re.search(rf"self\.{name}\b", config), \
        f"{key} is accepted but no production code reads it"
