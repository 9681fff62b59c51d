"""The telemetry StatefulSet's own command and environment, run as its pods would run it, on loopback.

The rendered base StatefulSet (two replicas) is read, not restated: its container args and env, its volume mounts and
its ANDON_ADDRESSES. Each pod becomes a local process: HOSTNAME is the pod name (andon derives the process id from
the ordinal), every `<pod>.<service>.<ns>.svc:PORT` becomes 127.0.0.1 with a free port, ConfigMap mounts become
directories holding the ConfigMap's data, the shared Parquet claim one directory for all, and each pod's recovery
claim and emptyDirs its own directory. The Kafka source is swapped for the JSONL replay entry point (`andon run
telemetry` -> `andon replay TRACE`, which takes the same execution options). Two processes must give the same
events and Parquet as one.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from flowtools import events_of, file_names, parquet_of

from andon.connectors.broker import free_port
from andon.pipelines.runner import statefulset_addresses
from andon.simulator import Simulation

ROOT = Path(__file__).resolve().parents[2]
#: Options of `andon run telemetry` that `andon replay` does not take (live-source and serving concerns), with arity.
RUN_ONLY = {"--metrics-port": 1, "--eof-idle": 1, "--now": 1}
#: Environment that belongs to the image, not to the dataflow (the kernel cache is the developer's own here).
IMAGE_ONLY = {"NUMBA_CACHE_DIR"}


def statefulset(rendered) -> tuple[dict, dict[str, dict]]:
    resources = rendered["base"]
    sts = next(r for r in resources if r["kind"] == "StatefulSet" and r["metadata"]["name"] == "andon-telemetry")
    configmaps = {r["metadata"]["name"]: r for r in resources if r["kind"] == "ConfigMap"}
    return sts, configmaps


def pod_process(sts, configmaps, ordinal: int, root: Path, trace: Path, ports: dict[str, int], replicas: int):
    """argv and env of pod `ordinal`, with its volumes mapped under `root`."""
    spec = sts["spec"]["template"]["spec"]
    container = spec["containers"][0]
    pod = f"{sts['metadata']['name']}-{ordinal}"
    claims = {t["metadata"]["name"] for t in sts["spec"].get("volumeClaimTemplates", [])}
    volumes = {v["name"]: v for v in spec["volumes"]}
    paths = {}
    for mount in container["volumeMounts"]:
        name = mount["name"]
        volume = volumes.get(name, {})
        if "configMap" in volume:
            local = root / "configmaps" / name
            local.mkdir(parents=True, exist_ok=True)
            for key, value in configmaps[volume["configMap"]["name"]]["data"].items():
                (local / key).write_text(value)
        elif "persistentVolumeClaim" in volume:
            local = root / "claims" / volume["persistentVolumeClaim"]["claimName"]  # shared by every pod
        else:
            assert name in claims or "emptyDir" in volume, f"unexpected volume {name}"
            local = root / "pods" / pod / name  # volumeClaimTemplates and emptyDirs: one per pod
        local.mkdir(parents=True, exist_ok=True)
        paths[mount["mountPath"]] = str(local)

    def localize(value: str) -> str:
        for mount_path, local in sorted(paths.items(), key=lambda kv: -len(kv[0])):
            if value == mount_path or value.startswith(mount_path + "/"):
                return local + value[len(mount_path):]
        return value

    def loopback(match: re.Match) -> str:
        return f"127.0.0.1:{ports[match[0]]}"

    env = {"HOSTNAME": pod}
    for ref in container.get("envFrom", []):
        env.update(configmaps[ref["configMapRef"]["name"]]["data"])
    for item in container["env"]:
        if "valueFrom" in item:  # the downward API; the telemetry pod needs no secret
            assert item["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.namespace"}}, item
            env[item["name"]] = sts["metadata"]["namespace"]
        else:
            env[item["name"]] = item["value"]
    if replicas > 1:  # the peers andon derives from the StatefulSet, each on its own loopback port
        env["ANDON_ADDRESSES"] = ";".join(statefulset_addresses({**env, "ANDON_CLUSTER_SIZE": str(replicas)}))
    for name in IMAGE_ONLY:
        env.pop(name, None)
    env = {k: localize(re.sub(r"[a-z0-9.-]+\.svc:\d+", loopback, v)) for k, v in env.items()}
    env["BYTEWAX_DATAFLOW_API_PORT"] = str(ports[f"{pod}:api"])  # one port per pod, as in its network namespace
    env["HOSTNAME"] = pod

    args = list(container["args"])
    assert args[:2] == ["run", "telemetry"], args
    rest = []
    i = 2
    while i < len(args):
        if args[i] in RUN_ONLY:
            i += 1 + RUN_ONLY[args[i]]
            continue
        rest.append(localize(args[i]))
        i += 1
    return [sys.executable, "-m", "andon.cli", "replay", str(trace), *rest], env


@pytest.fixture(scope="module")
def trace(tmp_path_factory, site):
    path = tmp_path_factory.mktemp("k8s-trace") / "trace.jsonl"
    Simulation(site, machines=8, hours=2.0, seed=11, faults=frozenset({"duplicates", "out_of_order"})).write_jsonl(path)
    return path


def run_pods(rendered, root: Path, trace: Path, replicas: int | None = None) -> Path:
    """Run the StatefulSet's pods as local processes (all at once, like podManagementPolicy: Parallel)."""
    sts, configmaps = statefulset(rendered)
    replicas = sts["spec"]["replicas"] if replicas is None else replicas
    name, namespace = sts["metadata"]["name"], sts["metadata"]["namespace"]
    hosts = statefulset_addresses({"ANDON_CLUSTER_SIZE": str(replicas), "HOSTNAME": f"{name}-0",
                                   "POD_NAMESPACE": namespace})
    ports = {host: free_port() for host in hosts}
    ports.update({f"{sts['metadata']['name']}-{i}:api": free_port() for i in range(replicas)})
    running = []
    for ordinal in range(replicas):
        argv, env = pod_process(sts, configmaps, ordinal, root, trace, ports, replicas)
        if replicas == 1:  # the reference: one process, no cluster
            env.pop("ANDON_CLUSTER_SIZE")
        full_env = {**os.environ, **env}
        # bytewax's dataflow API caches the rendered flow in ./dataflow.json unless told where
        api_cache = root / f"dataflow-api-{ordinal}-of-{replicas}"
        api_cache.mkdir(parents=True, exist_ok=True)
        full_env["BYTEWAX_DATAFLOW_API_CACHE_PATH"] = str(api_cache)
        running.append(subprocess.Popen(argv, cwd=ROOT, env=full_env, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, text=True))
    for proc in running:
        out, _ = proc.communicate(timeout=600)
        assert proc.returncode == 0, out
    claims = root / "claims"
    (parquet_claim,) = list(claims.iterdir())
    return parquet_claim


def test_two_pods_of_the_statefulset_equal_one_process(rendered, trace, tmp_path):
    sts, _ = statefulset(rendered)
    assert sts["spec"]["replicas"] == 2
    two = run_pods(rendered, tmp_path / "cluster", trace)
    one = run_pods(rendered, tmp_path / "single", trace, replicas=1)
    # each pod initialised its own recovery volume
    for pod in ("andon-telemetry-0", "andon-telemetry-1"):
        assert any((tmp_path / "cluster" / "pods" / pod / "recovery").glob("part-*.sqlite3")), pod
    events = events_of(one / "events.jsonl")
    assert len(events) > 50
    assert events_of(two / "events.jsonl") == events
    assert file_names(two) == file_names(one)
    for dataset in ("telemetry_agg", "shift_oee"):
        reference = parquet_of(one, dataset)
        assert reference.height > 0, dataset
        assert parquet_of(two, dataset).equals(reference), dataset
