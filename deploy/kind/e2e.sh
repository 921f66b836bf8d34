#!/usr/bin/env bash
# End-to-end on a throwaway kind cluster (`make kind-e2e`; needs Docker and kind, plus `make install tools`
# for helm, kubectl and the bioxen CLI):
#   1. create the cluster (deploy/kind/cluster.yaml)
#   2. build the three images and load them into the nodes
#   3. install metrics-server (the HPAs' CPU metrics)
#   4. helm install --wait the chart with helm/bioxen/ci/kind-values.yaml
#   5. helm test (the project's client calls both services by their cluster DNS names)
#   6. the phase-1 demo through kubectl port-forward
#   7. the VM pods compute through the services (their own /metrics count successes)
#   8. load the static service until its HPA scales the Deployment up
#   9. tear the cluster down (KEEP_CLUSTER=1 keeps it for debugging)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
export PATH="$root/.tools/bin:$root/.venv/bin:$PATH"

CLUSTER=${BIOXEN_KIND_CLUSTER:-bioxen-e2e}
NAMESPACE=${BIOXEN_NAMESPACE:-bioxen}
RELEASE=${BIOXEN_RELEASE:-bioxen}
KEEP_CLUSTER=${KEEP_CLUSTER:-0}
HPA_TIMEOUT=${HPA_TIMEOUT:-600}
METRICS_SERVER_VERSION=${METRICS_SERVER_VERSION:-v0.7.2}
TAG=$(awk '/^appVersion:/ {gsub(/"/, "", $2); print $2}' helm/bioxen/Chart.yaml)

log() { printf '\n=== %s\n' "$*"; }
fail() { echo "e2e: $*" >&2; exit 1; }
need() { command -v "$1" >/dev/null 2>&1 || { echo "e2e: $1 not found: $2" >&2; exit 2; }; }
need docker "install Docker"
need kind "install kind (https://kind.sigs.k8s.io)"
need kubectl "run make tools"
need helm "run make tools"
docker info >/dev/null 2>&1 || { echo "e2e: the docker daemon is not reachable" >&2; exit 2; }

background=()
cleanup() {
  local rc=$?
  for pid in "${background[@]}"; do kill "$pid" 2>/dev/null || true; done
  if [ "$rc" -ne 0 ] && kubectl get ns "$NAMESPACE" >/dev/null 2>&1; then
    log "failure diagnostics"
    kubectl -n "$NAMESPACE" get all,hpa,pdb,networkpolicy -o wide || true
    kubectl -n "$NAMESPACE" describe pods | tail -n 80 || true
    kubectl -n "$NAMESPACE" logs -l app.kubernetes.io/instance="$RELEASE" --tail=40 --prefix || true
  fi
  if [ "$KEEP_CLUSTER" = 1 ]; then
    echo "e2e: keeping cluster $CLUSTER (kind delete cluster --name $CLUSTER)"
  else
    kind delete cluster --name "$CLUSTER" >/dev/null 2>&1 || true
  fi
  exit "$rc"
}
trap cleanup EXIT

log "1. cluster $CLUSTER"
kind delete cluster --name "$CLUSTER" >/dev/null 2>&1 || true
kind create cluster --name "$CLUSTER" --config deploy/kind/cluster.yaml --wait 180s
kubectl config use-context "kind-$CLUSTER"

log "2. images bioxen/{static,dynamic,vm}:$TAG"
for image in static dynamic vm; do
  docker build --file "Dockerfile.$image" --tag "bioxen/$image:$TAG" .
  kind load docker-image --name "$CLUSTER" "bioxen/$image:$TAG"
done

log "3. metrics-server $METRICS_SERVER_VERSION"
kubectl apply -f "https://github.com/kubernetes-sigs/metrics-server/releases/download/$METRICS_SERVER_VERSION/components.yaml"
# kind's kubelets serve self-signed certificates
kubectl -n kube-system patch deployment metrics-server --type=json \
  -p '[{"op": "add", "path": "/spec/template/spec/containers/0/args/-", "value": "--kubelet-insecure-tls"}]'
kubectl -n kube-system rollout status deployment/metrics-server --timeout=180s

log "4. helm install $RELEASE"
helm install "$RELEASE" helm/bioxen --namespace "$NAMESPACE" --create-namespace \
  --values helm/bioxen/ci/kind-values.yaml --wait --timeout 10m
kubectl -n "$NAMESPACE" get pods,svc,hpa -o wide

log "5. helm test"
helm test "$RELEASE" --namespace "$NAMESPACE" --logs

log "6. demo through kubectl port-forward"
kubectl -n "$NAMESPACE" port-forward "svc/$RELEASE-static-api" 8001:8000 >/dev/null 2>&1 &
background+=($!)
kubectl -n "$NAMESPACE" port-forward "svc/$RELEASE-dynamic-api" 8002:8000 >/dev/null 2>&1 &
background+=($!)
for port in 8001 8002; do
  for _ in $(seq 60); do
    curl -fsS "http://localhost:$port/readyz" >/dev/null 2>&1 && break
    sleep 1
  done
  curl -fsS "http://localhost:$port/readyz" >/dev/null || fail "port-forward to :$port does not answer"
done
if command -v bioxen >/dev/null 2>&1; then
  bioxen demo --static-url http://localhost:8001 --dynamic-url http://localhost:8002
else
  docker run --rm --network host "bioxen/vm:$TAG" demo --static-url http://localhost:8001 --dynamic-url http://localhost:8002
fi

log "7. VM pods compute through the services"
vm_metrics() {
  kubectl -n "$NAMESPACE" exec "deploy/$RELEASE-vm-$1" -- python -c \
    "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:9100/metrics').read().decode())"
}
for vm in ecoli-vm-1 ecoli-vm-2 yeast-vm-1; do
  ok=""
  for _ in $(seq 60); do
    if vm_metrics "$vm" | grep -E '^bioxen_vm_computations_total\{.*outcome="success".*\} [1-9]' >/dev/null; then
      ok=1; break
    fi
    sleep 2
  done
  [ -n "$ok" ] || fail "VM $vm has no successful computation"
  echo "VM $vm: computations succeed through the services"
done

log "8. load until the static HPA scales up (timeout ${HPA_TIMEOUT}s)"
kubectl -n "$NAMESPACE" create configmap bioxen-load --from-file=load.py=deploy/kind/load.py \
  --dry-run=client -o yaml | kubectl apply -f -
kubectl -n "$NAMESPACE" apply -f - <<YAML
apiVersion: v1
kind: Pod
metadata:
  name: bioxen-load
  labels:
    app.kubernetes.io/instance: $RELEASE
    bioxen.io/client: "true"
spec:
  restartPolicy: Never
  automountServiceAccountToken: false
  securityContext: {runAsNonRoot: true, runAsUser: 10001, seccompProfile: {type: RuntimeDefault}}
  containers:
    - name: load
      image: bioxen/vm:$TAG
      imagePullPolicy: IfNotPresent
      command: ["python", "/load/load.py"]
      env:
        - {name: BIOXEN_LOAD_URL, value: "http://$RELEASE-static-api:8000"}
        - {name: BIOXEN_LOAD_SECONDS, value: "$HPA_TIMEOUT"}
      securityContext: {allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: {drop: [ALL]}}
      volumeMounts: [{name: load, mountPath: /load}]
  volumes: [{name: load, configMap: {name: bioxen-load}}]
YAML
initial=$(kubectl -n "$NAMESPACE" get hpa "$RELEASE-static" -o jsonpath='{.spec.minReplicas}')
deadline=$((SECONDS + HPA_TIMEOUT))
scaled=""
while [ $SECONDS -lt $deadline ]; do
  replicas=$(kubectl -n "$NAMESPACE" get deployment "$RELEASE-static" -o jsonpath='{.status.replicas}')
  echo "$(date +%T) static replicas=${replicas:-?} hpa: $(kubectl -n "$NAMESPACE" get hpa "$RELEASE-static" --no-headers 2>/dev/null | awk '{print $3, $4, $5, $6}')"
  if [ "${replicas:-0}" -gt "$initial" ]; then scaled=1; break; fi
  sleep 10
done
kubectl -n "$NAMESPACE" delete pod bioxen-load --wait=false >/dev/null 2>&1 || true
[ -n "$scaled" ] || fail "the static HPA did not scale above $initial replicas within ${HPA_TIMEOUT}s"
kubectl -n "$NAMESPACE" describe hpa "$RELEASE-static" | tail -n 15

log "e2e passed"
