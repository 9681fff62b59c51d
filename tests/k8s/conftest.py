"""Fixtures for the Kubernetes tests: every overlay rendered once with `kubectl kustomize`."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "k8s"
OVERLAYS = ("dev", "prod", "edge")


def render(target: Path) -> str:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl (v1.27 or newer, for kustomize v5) is not installed")
    proc = subprocess.run([kubectl, "kustomize", str(target)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"kubectl kustomize {target} failed:\n{proc.stderr}"
    return proc.stdout


@pytest.fixture(scope="session")
def rendered_text(tmp_path_factory) -> dict[str, Path]:
    """overlay name (and "base") -> path of its rendered YAML."""
    out = tmp_path_factory.mktemp("rendered")
    paths = {}
    for name in ("base", *OVERLAYS):
        target = K8S / "base" if name == "base" else K8S / "overlays" / name
        paths[name] = out / f"{name}.yaml"
        paths[name].write_text(render(target))
    return paths


@pytest.fixture(scope="session")
def rendered(rendered_text) -> dict[str, list[dict]]:
    """overlay name (and "base") -> list of rendered resources."""
    return {name: [d for d in yaml.safe_load_all(path.read_text()) if d] for name, path in rendered_text.items()}


@pytest.fixture(scope="session")
def crd_schemas() -> dict[str, dict]:
    """"apiVersion/kind" -> JSON Schema for the custom resources andon uses (see crd_schemas.json)."""
    return json.loads((Path(__file__).parent / "crd_schemas.json").read_text())["schemas"]

