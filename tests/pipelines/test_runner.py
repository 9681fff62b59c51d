"""Cluster options: peers derived from the StatefulSet, and recovery partitions laid out so the cluster can scale."""

from __future__ import annotations

import pytest

from andon.errors import AndonError
from andon.pipelines.runner import init_recovery, statefulset_addresses

POD = {"HOSTNAME": "andon-telemetry-1", "POD_NAMESPACE": "plant-a", "ANDON_CLUSTER_SIZE": "3"}


@pytest.mark.parametrize(
    ("extra", "expected"),
    [({}, [f"andon-telemetry-{i}.andon-telemetry.plant-a.svc:9999" for i in range(3)]),
     ({"ANDON_CLUSTER_SERVICE": "peers", "ANDON_CLUSTER_PORT": "7000"},
      [f"andon-telemetry-{i}.peers.plant-a.svc:7000" for i in range(3)]),
     ({"ANDON_CLUSTER_SIZE": ""}, None)],
)
def test_peers_from_the_statefulset(extra, expected):
    assert statefulset_addresses({**POD, **extra}) == expected


@pytest.mark.parametrize(
    ("extra", "message"),
    [({"ANDON_CLUSTER_SIZE": "three"}, "not a positive whole number"), ({"ANDON_CLUSTER_SIZE": "0"}, "positive"),
     ({"HOSTNAME": "laptop"}, "not a StatefulSet pod name"), ({"POD_NAMESPACE": ""}, "downward API")],
)
def test_a_wrong_cluster_environment_is_a_clear_error(extra, message):
    with pytest.raises(AndonError, match=message):
        statefulset_addresses({**POD, **extra})


def test_each_process_creates_its_share_of_a_fixed_partition_count(tmp_path, monkeypatch):
    monkeypatch.setenv("ANDON_RECOVERY_PARTITIONS", "12")
    held = {}
    for proc in range(5):
        init_recovery(tmp_path / str(proc), proc, 5)
        held[proc] = sorted(int(p.stem.split("-")[1]) for p in (tmp_path / str(proc)).glob("part-*.sqlite3"))
    assert held == {p: [i for i in range(12) if i % 5 == p] for p in range(5)}
    init_recovery(tmp_path / "0", 0, 2)  # a restart after scaling keeps what the volume holds
    assert sorted(int(p.stem.split("-")[1]) for p in (tmp_path / "0").glob("part-*.sqlite3")) == held[0]
