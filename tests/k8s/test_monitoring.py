"""The monitoring component: ServiceMonitors with the release label kube-prometheus-stack selects (changeable by a
patch), the dashboard as a ConfigMap Grafana's sidecar picks up, alerts on metrics andon exports; `promtool check
rules` on the alerts when promtool can be had (`make promtool`); the ServiceMonitors and the PrometheusRule validate
strictly against prometheus-operator's own CRD schemas (upstream_crd_schemas.json), not only our subsets."""

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


def strict(schema):
    """An upstream CRD schema made strict as kubeconform -strict does: an object schema that names its properties
    allows no other (unless it says otherwise); int-or-string fields take either."""
    if isinstance(schema, list):
        return [strict(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: strict(v) for k, v in schema.items()}
    if "properties" in out and "additionalProperties" not in out \
            and not out.get("x-kubernetes-preserve-unknown-fields"):
        out["additionalProperties"] = False
    if out.get("x-kubernetes-int-or-string") and "anyOf" not in out:
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if isinstance(out.get("pattern"), str) and "(?i)" in out["pattern"][1:]:  # Go's RE2 takes flags anywhere
        out["pattern"] = "(?i)" + out["pattern"].replace("(?i)", "")
    return out


@pytest.fixture(scope="module")
def upstream():
    """"apiVersion/kind" -> the strict upstream schema (prometheus-operator's own CRDs, upstream_crd_schemas.json)."""
    doc = json.loads((Path(__file__).parent / "upstream_crd_schemas.json").read_text())
    return {key: strict(schema) for key, schema in doc["schemas"].items()}


@pytest.mark.parametrize("target", ["prod", "dev+monitoring", "edge+monitoring"])
def test_monitoring_resources_validate_against_prometheus_operators_own_crds(rendered, upstream, target):
    """Not only our hand-written subsets (crd_schemas.json): the CRDs prometheus-operator itself installs."""
    import jsonschema

    found = [r for r in rendered[target] if r["kind"] in MONITORING_KINDS]
    assert sorted(r["kind"] for r in found) == ["PrometheusRule", "ServiceMonitor", "ServiceMonitor"]
    for resource in found:
        schema = upstream[f"{resource['apiVersion']}/{resource['kind']}"]
        errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(resource), key=str)
        assert not errors, f"{resource['kind']}/{resource['metadata']['name']}: {errors[0].message} at " \
                           f"{list(errors[0].absolute_path)}"


def test_the_strict_upstream_schema_refuses_a_misspelt_field(rendered, upstream):
    import copy

    import jsonschema

    monitor = copy.deepcopy(next(r for r in rendered["prod"] if r["kind"] == "ServiceMonitor"))
    monitor["spec"]["endpoints"][0]["intervall"] = "30s"
    with pytest.raises(jsonschema.ValidationError, match="intervall"):
        jsonschema.validate(monitor, upstream["monitoring.coreos.com/v1/ServiceMonitor"])
    rule = copy.deepcopy(next(r for r in rendered["prod"] if r["kind"] == "PrometheusRule"))
    rule["spec"]["groups"][0]["rules"][0]["for"] = 10  # a duration is a string
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(rule, upstream["monitoring.coreos.com/v1/PrometheusRule"])
