"""Fixtures for the Kubernetes tests: every overlay rendered once with `kubectl kustomize`."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import urllib.request
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


COMPONENT_LINE = "  - ../../components/monitoring\n"
#: Each overlay as shipped, and with the monitoring component toggled: added where it is not, removed where it is.
VARIANTS = ("dev+monitoring", "edge+monitoring", "prod-monitoring")


def toggled_monitoring(tree: Path, overlay: str) -> Path:
    """The overlay in a copy of k8s/ with the monitoring component added (or removed when it has it)."""
    path = tree / "overlays" / overlay / "kustomization.yaml"
    text = path.read_text()
    if COMPONENT_LINE in text:
        text = text.replace("components:\n" + COMPONENT_LINE, "")
        assert COMPONENT_LINE not in text
    else:
        text += "components:\n" + COMPONENT_LINE
    path.write_text(text)
    return path.parent


@pytest.fixture(scope="session")
def rendered_text(tmp_path_factory) -> dict[str, Path]:
    """overlay name (and "base", and the VARIANTS) -> path of its rendered YAML."""
    out = tmp_path_factory.mktemp("rendered")
    paths = {}
    for name in ("base", *OVERLAYS):
        target = K8S / "base" if name == "base" else K8S / "overlays" / name
        paths[name] = out / f"{name}.yaml"
        paths[name].write_text(render(target))
    for variant in VARIANTS:
        tree = out / f"tree-{variant}"
        shutil.copytree(K8S, tree)
        paths[variant] = out / f"{variant}.yaml"
        paths[variant].write_text(render(toggled_monitoring(tree, variant[:-len("monitoring") - 1])))
    return paths


@pytest.fixture(scope="session")
def rendered(rendered_text) -> dict[str, list[dict]]:
    """overlay name (and "base") -> list of rendered resources."""
    return {name: [d for d in yaml.safe_load_all(path.read_text()) if d] for name, path in rendered_text.items()}


@pytest.fixture(scope="session")
def crd_schemas() -> dict[str, dict]:
    """"apiVersion/kind" -> JSON Schema for the custom resources andon uses (see crd_schemas.json)."""
    return json.loads((Path(__file__).parent / "crd_schemas.json").read_text())["schemas"]


@pytest.fixture(scope="session")
def exported() -> set[str]:
    """Sample names andon's /metrics can serve: families from the TYPE lines, with their suffixes."""
    import andon.connectors.odoo.metrics
    import andon.connectors.odoo.sync_metrics
    import andon.pipelines.odoo_sync.observe
    import andon.pipelines.telemetry.metrics  # noqa: F401
    from andon.connectors.status_server import StatusServer

    server = StatusServer(0, host="127.0.0.1").start()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/metrics", timeout=5) as resp:
            text = resp.read().decode()
    finally:
        server.stop()
    names = set()
    for name, kind in re.findall(r"^# TYPE (\S+) (\S+)$", text, re.M):
        base = name.removesuffix("_total")
        names |= {name, base}
        if kind == "counter":
            names.add(base + "_total")
        elif kind == "histogram":
            names |= {base + s for s in ("_bucket", "_sum", "_count")}
    return {n for n in names if n.startswith("andon_")}
