"""The monitoring component: ServiceMonitors with the release label kube-prometheus-stack selects (changeable by a
patch), the dashboard as a ConfigMap Grafana's sidecar picks up, alerts on metrics andon exports; `promtool check
rules` on the alerts when promtool can be had (`make promtool`)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "k8s"
COMPONENT = K8S / "components" / "monitoring"
MONITORING_KINDS = {"ServiceMonitor", "PrometheusRule"}
ALERTS = {"AndonDeadLettersGrowing", "AndonBatchesMostlyDeadLettered", "AndonConsumerLagHigh", "AndonOdooCircuitOpen",
          "AndonNoProgress", "AndonDataBehindThePlant"}


def promtool() -> str | None:
    local = ROOT / "tools" / "bin" / "promtool"
    return str(local) if local.exists() else shutil.which("promtool")


def render(target: Path) -> str:
    proc = subprocess.run(["kubectl", "kustomize", str(target)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def monitoring(resources):
    return [r for r in resources if r["kind"] in MONITORING_KINDS or r["metadata"]["name"] == "andon-grafana-dashboard"]


@pytest.mark.parametrize("target", ["prod", "dev+monitoring", "edge+monitoring"])
def test_with_the_component(rendered, target):
    found = monitoring(rendered[target])
    kinds = sorted(r["kind"] for r in found)
    assert kinds == ["ConfigMap", "PrometheusRule", "ServiceMonitor", "ServiceMonitor"]
    for r in found:
        if r["kind"] in MONITORING_KINDS:
            assert r["metadata"]["labels"]["release"] == "kube-prometheus-stack", r["metadata"]["name"]
    (dashboard,) = [r for r in found if r["kind"] == "ConfigMap"]
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(dashboard["data"]["andon-dashboard.json"]) == json.loads(
        (COMPONENT / "andon-dashboard.json").read_text())


@pytest.mark.parametrize("target", ["base", "dev", "edge", "prod-monitoring"])
def test_without_the_component(rendered, target):
    assert monitoring(rendered[target]) == []


def test_the_release_label_is_one_patch_away(tmp_path):
    tree = tmp_path / "k8s"
    shutil.copytree(K8S, tree)
    overlay = tree / "overlays" / "prod" / "kustomization.yaml"
    overlay.write_text(overlay.read_text().replace("patches:\n", """patches:
  - target: {group: monitoring.coreos.com}
    patch: |-
      - op: replace
        path: /metadata/labels/release
        value: my-prometheus
""", 1))
    resources = [d for d in yaml.safe_load_all(render(overlay.parent)) if d]
    labels = {r["metadata"]["name"]: r["metadata"]["labels"]["release"] for r in resources
              if r["kind"] in MONITORING_KINDS}
    assert labels == {"andon-telemetry": "my-prometheus", "andon-odoo-clients": "my-prometheus",
                      "andon": "my-prometheus"}


def rules(rendered) -> dict:
    (rule,) = [r for r in rendered["prod"] if r["kind"] == "PrometheusRule"]
    return rule["spec"]


def test_alerts_cover_dlq_growth_lag_circuit_and_progress_on_exported_metrics(rendered, exported):
    spec = rules(rendered)
    alerts = {r["alert"]: r for g in spec["groups"] for r in g["rules"]}
    assert set(alerts) == ALERTS
    for name, rule in alerts.items():
        metrics = set(re.findall(r"\bandon_[a-z0-9_]+", rule["expr"]))
        assert metrics and metrics <= exported, (name, metrics - exported)
        assert rule["labels"]["severity"] in {"warning", "critical"}
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]


def test_promtool_check_rules(rendered, tmp_path):
    tool = promtool()
    if tool is None:
        pytest.skip("promtool is not installed: `make promtool-deb` (Debian's package) or `make promtool` (Go build)")
    path = tmp_path / "andon-rules.yaml"
    path.write_text(yaml.safe_dump(rules(rendered)))
    proc = subprocess.run([tool, "check", "rules", str(path)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"SUCCESS: {len(ALERTS)} rules found" in proc.stdout + proc.stderr
