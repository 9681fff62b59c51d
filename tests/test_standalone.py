"""The repository stands alone: nothing in it points at documents outside the clone."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = ("andon", "wire", "operators", "connectors", "pipelines", "benchmarks", "docs", "k8s", "examples", "tests")
OUTSIDE = ("../shared", "/work/shared", "ARCHITECTURE.md", "ODOO.md", "STYLE.md")


def project_files():
    yield from (ROOT / name for name in ("README.md", "Makefile", "Dockerfile", "pyproject.toml"))
    for folder in FOLDERS:
        for path in sorted((ROOT / folder).rglob("*")):
            if path.suffix in {".py", ".md", ".toml", ".yaml", ".json", ".sh"} and path != Path(__file__):
                yield path


@pytest.mark.parametrize("needle", OUTSIDE)
def test_no_file_points_outside_the_clone(needle):
    hits = [str(p.relative_to(ROOT)) for p in project_files() if needle in p.read_text(encoding="utf-8")]
    assert not hits, f"{needle!r} is not in a user's clone; point at docs/ instead: {hits}"


def test_readme_points_at_the_architecture_page():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "docs/architecture.md" in readme and (ROOT / "docs" / "architecture.md").exists()
