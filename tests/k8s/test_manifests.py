"""Every overlay renders, validates strictly offline, keeps secrets out, and wires bytewax cluster mode consistently."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest

#: Kubernetes versions the manifests must validate against: the oldest we support (CronJob timeZone is GA in
#: 1.27; kubectl here is 1.32) and the newest kubernetes-validate bundles.
ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "k8s"
OVERLAYS = ("dev", "prod", "edge")

K8S_VERSIONS = ("1.29.0", kubernetes_validate.latest_version())
TARGETS = ("base", *OVERLAYS, "dev+monitoring", "edge+monitoring", "prod-monitoring")

#: Secret values known to the project (the Odoo stand-in's defaults and test keys): none may appear in a manifest.
KNOWN_SECRETS = ("andon-integration-secret", "admin-test-key", "integration-test-key")
SECRET_NAME = re.compile(r"PASSWORD|API_KEY|APIKEY|SECRET|TOKEN|CREDENTIAL", re.IGNORECASE)


def one(resources, kind, name):
    found = [r for r in resources if r["kind"] == kind and r["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind}/{name}, found {len(found)}"
    return found[0]


def pod_specs(resources):
    for r in resources:
        if r["kind"] in {"Deployment", "StatefulSet", "Job"}:
            yield r, r["spec"]["template"]["spec"]
        elif r["kind"] == "CronJob":
            yield r, r["spec"]["jobTemplate"]["spec"]["template"]["spec"]


@pytest.mark.parametrize("version", K8S_VERSIONS)
@pytest.mark.parametrize("target", TARGETS)
def test_kubernetes_validate_cli_strict(rendered_text, crd_schemas, target, version):
    """The CI command itself: `kubernetes-validate --strict` on the rendered output, no ERROR; it only warns
    (exit 0) for kinds it has no schema for, so each warning must be one of our CRDs (checked in the next test)."""
    proc = subprocess.run([sys.executable, "-m", "kubernetes_validate", "--strict", "-k", version,
                           str(rendered_text[target])], capture_output=True, text=True, timeout=300)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0 and "ERROR" not in output, output
    for line in output.splitlines():
        if line.startswith("WARN"):
            match = re.search(r"kind (\S+) with api version (\S+)", line)
            assert match and f"{match[2]}/{match[1]}" in crd_schemas, f"unexpected warning: {line}"


@pytest.mark.parametrize("target", TARGETS)
def test_builtin_kinds_strict_and_custom_resources_match_their_schema(rendered, crd_schemas, target):
    """Built-in kinds: kubernetes-validate strict schemas. Custom resources (Strimzi, Prometheus Operator): our
    hand-written subset schemas; a kind in neither (a typo such as `Deploymnet`) fails."""
    for resource in rendered[target]:
        label = f"{resource['kind']}/{resource['metadata']['name']}"
        for version in K8S_VERSIONS:
            try:
                kubernetes_validate.validate(resource, version, strict=True)
            except kubernetes_validate.SchemaNotFoundError:
                key = f"{resource['apiVersion']}/{resource['kind']}"
                assert key in crd_schemas, f"{label}: no Kubernetes schema and not a known CRD ({key})"
                jsonschema.validate(resource, crd_schemas[key])
            except kubernetes_validate.ValidationError as exc:
                pytest.fail(f"{label} against Kubernetes {version}: {exc.message} at {list(exc.path)}")


@pytest.mark.parametrize("target", TARGETS)
def test_no_secret_value_in_any_manifest(rendered, rendered_text, target):
    text = rendered_text[target].read_text()
    for value in KNOWN_SECRETS:
        assert value not in text
    kinds = {r["kind"] for r in rendered[target]}
    assert "Secret" not in kinds, "Secrets are created outside the manifests (docs/kubernetes.md)"
    for resource in rendered[target]:
        if resource["kind"] == "ConfigMap":
            for key, value in resource.get("data", {}).items():
                if SECRET_NAME.search(key):
                    assert key.endswith("_FILE") and value.startswith("/var/run/secrets/"), (key, value)
    for workload, pod in pod_specs(rendered[target]):
        secret_mounts = {v["name"] for v in pod.get("volumes", []) if "secret" in v}
        for container in pod.get("initContainers", []) + pod["containers"]:
            mounted = [m["mountPath"] for m in container.get("volumeMounts", []) if m["name"] in secret_mounts]
            for env in container.get("env", []):
                if not SECRET_NAME.search(env["name"]):
                    continue
                where = f"{workload['metadata']['name']}/{container['name']}: {env['name']}"
                if "valueFrom" in env:
                    assert set(env["valueFrom"]) == {"secretKeyRef"}, where
                else:
                    assert env["name"].endswith("_FILE"), f"{where} has a literal value"
                    assert any(env["value"].startswith(m + "/") for m in mounted), f"{where}: not a mounted Secret"


def cluster_port(sts: dict) -> int:
    ports = sts["spec"]["template"]["spec"]["containers"][0]["ports"]
    return next(p["containerPort"] for p in ports if p["name"] == "cluster")


def pod_env(sts: dict, ordinal: int) -> dict[str, str]:
    """The telemetry container's environment in pod `ordinal`, downward-API fields resolved as Kubernetes would."""
    env = {"HOSTNAME": f"{sts['metadata']['name']}-{ordinal}"}
    for item in sts["spec"]["template"]["spec"]["containers"][0]["env"]:
        if "valueFrom" in item:
            assert item["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.namespace"}}, item
            env[item["name"]] = sts["metadata"]["namespace"]
        else:
            env[item["name"]] = item["value"]
    return env


@pytest.mark.parametrize(("target", "replicas"), [("base", 2), ("dev", 1), ("prod", 6), ("edge", 1)])
def test_peers_derived_from_the_statefulset_are_every_pod_through_the_headless_service(rendered, target, replicas):
    """Scaling is one number: andon derives every peer from ANDON_CLUSTER_SIZE (the replicas, copied by the
    kustomization's replacement), the pod's name and its namespace; no address list to keep in step."""
    from andon.pipelines.runner import statefulset_addresses

    resources = rendered[target]
    sts = one(resources, "StatefulSet", "andon-telemetry")
    spec = sts["spec"]
    namespace = sts["metadata"]["namespace"]
    service = one(resources, "Service", spec["serviceName"])
    assert service["spec"]["clusterIP"] == "None" and service["spec"]["publishNotReadyAddresses"] is True
    assert spec["podManagementPolicy"] == "Parallel"
    assert spec["updateStrategy"] == {"type": "OnDelete"}  # one cluster restart per update, not one per pod
    assert spec["replicas"] == replicas
    expected = [f"andon-telemetry-{i}.{spec['serviceName']}.{namespace}.svc:{cluster_port(sts)}"
                for i in range(replicas)]
    for ordinal in range(replicas):
        env = pod_env(sts, ordinal)
        assert "ANDON_ADDRESSES" not in env
        assert env["ANDON_CLUSTER_SIZE"] == str(replicas)
        assert statefulset_addresses(env) == expected
    assert int(env["ANDON_RECOVERY_PARTITIONS"]) >= replicas
    # one recovery volume per pod, mounted where ANDON_RECOVERY_DIR points
    assert [t["metadata"]["name"] for t in spec["volumeClaimTemplates"]] == ["recovery"]
    assert spec["volumeClaimTemplates"][0]["spec"]["accessModes"] == ["ReadWriteOnce"]
    mounts = {m["name"]: m["mountPath"] for m in spec["template"]["spec"]["containers"][0]["volumeMounts"]}
    assert mounts["recovery"] == env["ANDON_RECOVERY_DIR"]
    assert not any(v["name"] == "recovery" for v in spec["template"]["spec"]["volumes"])


@pytest.mark.parametrize("target", TARGETS)
def test_every_container_has_resources_and_long_running_ones_have_probes(rendered, target):
    for workload, pod in pod_specs(rendered[target]):
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod.get("automountServiceAccountToken") is False
        for container in pod.get("initContainers", []) + pod["containers"]:
            where = f"{workload['metadata']['name']}/{container['name']}"
            assert {"cpu", "memory"} <= set(container["resources"]["requests"]), where
            assert "memory" in container["resources"]["limits"], where
            assert container["securityContext"]["allowPrivilegeEscalation"] is False, where
        if workload["kind"] in {"Deployment", "StatefulSet"}:
            for container in pod["containers"]:
                assert "readinessProbe" in container, workload["metadata"]["name"]
                if workload["metadata"]["name"].startswith("andon-"):
                    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
                    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"


def test_topics_are_the_five_of_the_site_config(rendered):
    from andon.config import load_site

    topics = load_site(ROOT / "examples" / "plant-a.toml").topics
    wanted = {topics.telemetry, topics.telemetry_dlq, topics.events, topics.events_dlq, topics.workorders}
    for target in ("base", "dev", "prod"):
        names = {r["spec"]["topicName"] for r in rendered[target] if r["kind"] == "KafkaTopic"}
        assert names == wanted, target
    sts = one(rendered["base"], "StatefulSet", "andon-telemetry")
    args = sts["spec"]["template"]["spec"]["containers"][0]["args"]
    telemetry = one(rendered["base"], "KafkaTopic", "andon-telemetry-v1")
    assert int(args[args.index("--shards") + 1]) == telemetry["spec"]["partitions"]


def test_edge_runs_no_odoo_workload_and_mirrors_events_to_central(rendered):
    edge = rendered["edge"]
    names = {r["metadata"]["name"] for r in edge if r["kind"] in {"Deployment", "CronJob", "StatefulSet"}}
    assert names == {"andon-telemetry"}
    configmaps = [r for r in edge if r["kind"] == "ConfigMap"]
    assert not any(r["metadata"]["name"].startswith("andon-odoo") for r in configmaps)
    assert not any(key.startswith("ANDON_ODOO") for r in configmaps for key in r.get("data", {}))
    mm2 = one(edge, "KafkaMirrorMaker2", "andon-events-to-central")
    (mirror,) = mm2["spec"]["mirrors"]
    assert re.fullmatch(mirror["topicsPattern"], "andon.events.v1")
    assert mm2["spec"]["connectCluster"] == mirror["targetCluster"]
    config = mirror["sourceConnector"]["config"]
    assert config["replication.policy.class"].endswith("IdentityReplicationPolicy")


def test_prod_uses_sasl_ssl_and_json2(rendered):
    prod = rendered["prod"]
    kafka = next(r for r in prod if r["kind"] == "ConfigMap" and r["metadata"]["name"].startswith("andon-kafka"))
    odoo = next(r for r in prod if r["kind"] == "ConfigMap" and r["metadata"]["name"].startswith("andon-odoo"))
    assert kafka["data"]["ANDON_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert odoo["data"]["ANDON_ODOO_TRANSPORT"] == "json2"
    assert "ANDON_ODOO_PASSWORD_FILE" not in odoo["data"]


def test_site_config_in_the_base_is_the_example_plant():
    """kustomize cannot load files outside k8s/base, so the ConfigMap's source is a copy: keep it current."""
    assert (K8S / "base" / "site" / "site.toml").read_bytes() == (ROOT / "examples" / "plant-a.toml").read_bytes()


#: What an overlay may add beside patches: infrastructure, never a second copy of an andon workload.
OVERLAY_EXTRAS = {"dev": {"Deployment/odoo"}, "prod": set(), "edge": set()}


@pytest.mark.parametrize("name", OVERLAYS)
def test_overlays_patch_the_base_workloads_and_add_none(rendered, name):
    """Each overlay builds on ../../base, and every andon workload it renders comes from the base."""
    assert "- ../../base" in (K8S / "overlays" / name / "kustomization.yaml").read_text()
    kinds = {"Deployment", "StatefulSet", "CronJob"}
    base = {f"{r['kind']}/{r['metadata']['name']}" for r in rendered["base"] if r["kind"] in kinds}
    overlay = {f"{r['kind']}/{r['metadata']['name']}" for r in rendered[name] if r["kind"] in kinds}
    assert overlay - base == OVERLAY_EXTRAS[name]
