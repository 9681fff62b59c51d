"""k8s/scale-down.sh against a stand-in kubectl: all pods stop before any file moves, every recovery partition of
a removed pod lands, byte for byte, on the pod that holds it afterwards (partition mod replicas), and the cluster
restarts with the new size. (No Kubernetes cluster can run here; the stand-in keeps each volume as a folder.)"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "k8s" / "scale-down.sh"

FAKE_KUBECTL = r'''#!/usr/bin/env python3
import json, os, re, subprocess, sys
state_path = os.environ["FAKE_K8S_STATE"]
state = json.load(open(state_path))
args = sys.argv[1:]
if args[:1] == ["-n"]:
    args = args[2:]
state["calls"].append(" ".join(args))
def volume(pod):
    return os.path.join(state["volumes"], pod.rsplit("-", 1)[1])
verb = args[0]
if verb == "get":
    path = args[args.index("-o") + 1]
    if "ANDON_RECOVERY_PARTITIONS" in path:
        print(state["partitions"], end="")
    elif ".image" in path:
        print(state["image"], end="")
    else:
        print(state["replicas"], end="")
elif verb == "scale":
    state["replicas"] = int(args[-1].split("=")[1])
elif verb == "run":
    assert state["replicas"] == 0, "a helper started while the cluster runs"
    overrides = json.loads(next(a for a in args if a.startswith("--overrides=")).split("=", 1)[1])
    claim = overrides["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"]
    assert claim == "recovery-andon-telemetry-" + args[1].rsplit("-", 1)[1], claim
    assert overrides["spec"]["securityContext"]["runAsUser"] == 10001
elif verb == "exec":
    rest = args[args.index("--") + 1:]
    pod = [a for a in args[1:args.index("--")] if a != "-i"][0]
    local = [a.replace("/recovery", volume(pod)) for a in rest]
    if rest[0] == "ls":
        print("\n".join(sorted(os.listdir(local[1]))))
    elif rest[0] == "cat":
        sys.stdout.buffer.write(open(local[1], "rb").read())
    elif rest[0] == "rm":
        os.remove(local[1])
    elif rest[:2] == ["sh", "-c"]:
        sys.exit(subprocess.run(["sh", "-c", local[2]], stdin=sys.stdin).returncode)
elif verb == "set":
    state["env"].update(dict(a.split("=", 1) for a in args if "=" in a and not a.startswith("-")))
json.dump(state, open(state_path, "w"))
'''


@pytest.fixture
def cluster(tmp_path):
    """Three pods' recovery volumes with the 12 partitions as andon lays them out (partition p on pod p mod 3)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    kubectl = bin_dir / "kubectl"
    kubectl.write_text(FAKE_KUBECTL)
    kubectl.chmod(0o755)
    volumes = tmp_path / "volumes"
    for pod in range(3):
        (volumes / str(pod)).mkdir(parents=True)
    for p in range(12):
        (volumes / str(p % 3) / f"part-{p}.sqlite3").write_bytes(f"state of partition {p}".encode() * 100)
    (volumes / "2" / "part-5.sqlite3-wal").write_bytes(b"wal of 5")
    state = tmp_path / "state.json"
    state.write_text(json.dumps({"replicas": 3, "partitions": "12", "image": "ghcr.io/example/andon:0.1.0",
                                 "volumes": str(volumes), "calls": [], "env": {}}))
    env = {**os.environ, "FAKE_K8S_STATE": str(state), "KUBECTL": str(kubectl)}
    return env, volumes, state


def test_scale_down_moves_every_partition_of_the_removed_pods(cluster):
    env, volumes, state = cluster
    proc = subprocess.run(["bash", str(SCRIPT), "2", "andon"], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    held = {pod: sorted(f.name for f in (volumes / str(pod)).iterdir()) for pod in range(3)}
    assert held[2] == []
    for p in range(12):
        owner = p % 3 if p % 3 < 2 else p % 2  # pods 0 and 1 keep theirs; pod 2's go to p mod 2
        path = volumes / str(owner) / f"part-{p}.sqlite3"
        assert path.read_bytes() == f"state of partition {p}".encode() * 100, p
    assert (volumes / "1" / "part-5.sqlite3-wal").read_bytes() == b"wal of 5"
    assert not [f for pod in held.values() for f in pod if f.startswith(".")], "a temporary file was left"
    final = json.loads(state.read_text())
    calls = final["calls"]
    first_exec = next(i for i, c in enumerate(calls) if c.startswith(("run", "exec")))
    assert calls.index("scale statefulset andon-telemetry --replicas=0") < first_exec
    assert calls[-1] == "scale statefulset andon-telemetry --replicas=2"
    assert final["env"] == {"ANDON_CLUSTER_SIZE": "2"} and final["replicas"] == 2
    assert "set replicas: 2" in proc.stdout


@pytest.mark.parametrize(("args", "message"), [(["3"], "is not fewer"), (["0"], "at least 1"),
                                              (["two"], "whole number")])
def test_scale_down_refuses_what_it_cannot_do(cluster, args, message):
    env, volumes, state = cluster
    proc = subprocess.run(["bash", str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and message in proc.stderr
    assert not any("scale" in c for c in json.loads(state.read_text())["calls"])
