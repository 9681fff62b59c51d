#!/usr/bin/env bash
# Scale the telemetry cluster down without losing state: k8s/scale-down.sh NEW_REPLICAS [NAMESPACE]
#
# bytewax keeps ANDON_RECOVERY_PARTITIONS recovery partitions (12 in the base), and pod p holds the partitions
# p, p + replicas, ... on its own volume (recovery-andon-telemetry-p). A pod that goes away must hand its
# partitions to a pod that stays, or the cluster refuses to resume (a partition missing). This script:
#   1. stops every pod cleanly (scale to 0: SIGTERM, outputs flushed, final snapshot);
#   2. mounts each recovery volume in a helper pod (the andon image, same user);
#   3. moves every partition file of the pods that go away to the pod (partition mod NEW_REPLICAS);
#   4. deletes the helpers, sets ANDON_CLUSTER_SIZE and starts NEW_REPLICAS pods.
# Then set `replicas:` for andon-telemetry to NEW_REPLICAS in the overlay, so the next `kubectl apply -k` keeps it.
# Scaling up needs no move: new pods start with empty volumes and the partitions stay where they are.
# KUBECTL overrides the kubectl command (tests use a stand-in).
set -euo pipefail

new=${1:?usage: k8s/scale-down.sh NEW_REPLICAS [NAMESPACE]}
ns=${2:-andon}
sts=andon-telemetry
k=${KUBECTL:-kubectl}
kn() { $k -n "$ns" "$@"; }

old=$(kn get statefulset "$sts" -o 'jsonpath={.spec.replicas}')
partitions=$(kn get statefulset "$sts" \
  -o 'jsonpath={.spec.template.spec.containers[?(@.name=="telemetry")].env[?(@.name=="ANDON_RECOVERY_PARTITIONS")].value}')
image=$(kn get statefulset "$sts" -o 'jsonpath={.spec.template.spec.containers[?(@.name=="telemetry")].image}')
if ! [[ $new =~ ^[0-9]+$ ]] || ((new < 1)); then
  echo "scale-down: NEW_REPLICAS must be a whole number of at least 1, not '$new'" >&2; exit 2
fi
if ((new >= old)); then
  echo "scale-down: $sts runs $old pods; $new is not fewer (scaling up needs no partition move: set replicas)" >&2
  exit 2
fi
if [[ -z $partitions ]] || ((partitions < new)); then
  echo "scale-down: ANDON_RECOVERY_PARTITIONS is '${partitions}'; it must be set and at least $new" >&2; exit 2
fi

echo "scale-down: stopping all $old pods of $sts cleanly (final snapshot)"
kn scale statefulset "$sts" --replicas=0
kn wait --for=delete pod -l "app.kubernetes.io/name=$sts" --timeout=180s

helpers=()
cleanup() { for h in "${helpers[@]}"; do kn delete pod "$h" --wait=false >/dev/null 2>&1 || true; done; }
trap cleanup EXIT
for ((i = 0; i < old; i++)); do
  h="$sts-recovery-$i"
  overrides=$(printf '{"spec":{"securityContext":{"runAsUser":10001,"runAsGroup":10001,"fsGroup":10001},
    "containers":[{"name":"helper","image":"%s","command":["sleep","3600"],
    "volumeMounts":[{"name":"recovery","mountPath":"/recovery"}]}],
    "volumes":[{"name":"recovery","persistentVolumeClaim":{"claimName":"recovery-%s-%d"}}]}}' "$image" "$sts" "$i")
  kn run "$h" --image="$image" --restart=Never --overrides="$overrides" >/dev/null
  helpers+=("$h")
done
for h in "${helpers[@]}"; do kn wait --for=condition=Ready "pod/$h" --timeout=180s >/dev/null; done

for ((i = new; i < old; i++)); do
  for f in $(kn exec "$sts-recovery-$i" -- ls /recovery); do
    [[ $f =~ ^part-([0-9]+)\.sqlite3(-wal|-shm)?$ ]] || continue
    to=$((BASH_REMATCH[1] % new))
    echo "scale-down: partition file $f: pod $i -> pod $to"
    kn exec "$sts-recovery-$i" -- cat "/recovery/$f" |
      kn exec -i "$sts-recovery-$to" -- sh -c "cat > /recovery/.$f.tmp && mv /recovery/.$f.tmp /recovery/$f"
    kn exec "$sts-recovery-$i" -- rm "/recovery/$f"
  done
done
cleanup
helpers=()

kn set env statefulset "$sts" -c telemetry "ANDON_CLUSTER_SIZE=$new"
kn scale statefulset "$sts" --replicas="$new"
echo "scale-down: $sts runs $new pods; now set replicas: $new for $sts in the overlay's kustomization.yaml"
