#!/usr/bin/env bash
# Build the pieces of a local Kubernetes control plane, with Helm and the External Secrets Operator,
# into .engines/bin (ignored by git), from published Go modules only (docs/testing.md, "Building the
# engines", explains the conventions; lab/engines/build.sh builds the Pulumi pieces the same way):
#
#   etcd                     etcd's server, module go.etcd.io/etcd/server/v3                  (lab/engines/cluster/etcd)
#   kube-apiserver           k8s.io/kubernetes/cmd/kube-apiserver                              (lab/engines/cluster/kubernetes)
#   kube-controller-manager  k8s.io/kubernetes/cmd/kube-controller-manager                     (lab/engines/cluster/kubernetes)
#   kubectl                  k8s.io/kubernetes/cmd/kubectl (same module, so it costs little)    (lab/engines/cluster/kubernetes)
#   helm                     Helm 3, helm.sh/helm/v3/cmd/helm                                  (lab/engines/cluster/helm)
#   external-secrets         the ESO controller (and webhook), module github.com/external-secrets/external-secrets
#                            v0.16.2 (v1.x is not buildable from the proxy: lab/engines/cluster/eso/go.mod)
#                                                                                              (lab/engines/cluster/eso)
#
# ESO's CRDs (config/crds/bases/*.yaml of the same module version) are copied to
# $AMEIDE_ENGINES/crds/external-secrets/, ready for `kubectl apply --server-side -f`.
#
# Go sources come from the Go module proxy and nowhere else (GOPROXY has no `direct`, so no VCS
# fetches); go.sum in each lab/engines/cluster/ module pins every byte. Each binary is rebuilt only when its
# recipe changes (versions, ldflags, go.mod/go.sum, the Go toolchain): the recipe is recorded in
# .engines/stamps/<name>. Go builds run one at a time (2 cores).
#
# Environment: AMEIDE_ENGINES (output directory, default <repo>/.engines), GOMODCACHE / GOCACHE (Go's defaults),
# PYTHON (reads `go mod download -json`; default python3).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
SRC="$ROOT/lab/engines/cluster"

# ---- what we build -------------------------------------------------------------------------------
ETCD_VERSION=v3.6.16                # go.etcd.io/etcd/server/v3 (and api, client/pkg, client/v3, pkg), lab/engines/cluster/etcd/go.mod
KUBE_VERSION=v1.34.4                # k8s.io/kubernetes; its staging modules k8s.io/* at v0.34.4, lab/engines/cluster/kubernetes/go.mod
KUBE_DATE=2026-02-10T12:53:36Z      # the module's time on the proxy (…/k8s.io/kubernetes/@v/v1.34.4.info): the binaries' buildDate
HELM_VERSION=v3.22.0                # helm.sh/helm/v3, lab/engines/cluster/helm/go.mod
ESO_MODULE=github.com/external-secrets/external-secrets
ESO_VERSION=v0.16.2                 # lab/engines/cluster/eso/go.mod says why not v1.x

source "$ROOT/lab/engines/common.sh"

# ---- 1. etcd -------------------------------------------------------------------------------------
# The module's root package is etcd's main. Upstream's build also sets api/v3/version.GitSHA, which the
# proxy does not tell; `etcd --version` then says "Git SHA: Not provided (use ./build instead of go build)".
build_etcd() {
  local ldflags="-s -w"
  local key="etcd $ETCD_VERSION $GO_VERSION $ldflags $(sha "$SRC/etcd/go.mod" "$SRC/etcd/go.sum")"
  if up_to_date etcd "$key"; then log "etcd $ETCD_VERSION: up to date"; return; fi
  local start=$EPOCHREALTIME
  log "building etcd $ETCD_VERSION (go.etcd.io/etcd/server/v3)..."
  (cd "$SRC/etcd" && go build -trimpath -ldflags "$ldflags" -o "$BIN/.etcd.tmp" go.etcd.io/etcd/server/v3)
  finish etcd "$key" "$start" "$("$BIN/.etcd.tmp" --version | sed -n 1p)"
}

# ---- 2. kube-apiserver, kube-controller-manager, kubectl ------------------------------------------
# The version variables that Kubernetes' hack/lib/version.sh sets, in both packages that carry them. A
# build without them reports v0.0.0-master+$Format:%H$, which Helm's kubeVersion checks and kubectl's
# skew warnings would trip on. The git commit is not known from the proxy and stays unset.
kube_ldflags() {
  local flags="-s -w" pkg
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    flags+=" -X $pkg.gitVersion=$KUBE_VERSION -X $pkg.gitMajor=$(cut -d. -f1 <<<"${KUBE_VERSION#v}")"
    flags+=" -X $pkg.gitMinor=$(cut -d. -f2 <<<"$KUBE_VERSION") -X $pkg.gitTreeState=clean -X $pkg.buildDate=$KUBE_DATE"
  done
  printf '%s' "$flags"
}

build_kube() {
  local name=$1 ldflags key
  ldflags="$(kube_ldflags)"
  key="$name $KUBE_VERSION $GO_VERSION $ldflags $(sha "$SRC/kubernetes/go.mod" "$SRC/kubernetes/go.sum")"
  if up_to_date "$name" "$key"; then log "$name $KUBE_VERSION: up to date"; return; fi
  local start=$EPOCHREALTIME
  log "building $name $KUBE_VERSION (k8s.io/kubernetes/cmd/$name)..."
  (cd "$SRC/kubernetes" && go build -trimpath -ldflags "$ldflags" -o "$BIN/.$name.tmp" "k8s.io/kubernetes/cmd/$name")
  local what
  if [[ $name == kubectl ]]; then what="$("$BIN/.$name.tmp" version --client | sed -n 1p)"
  else what="$("$BIN/.$name.tmp" --version)"; fi
  finish "$name" "$key" "$start" "$what"
}

# ---- 3. Helm 3 -----------------------------------------------------------------------------------
# As Helm's Makefile: its version, a clean tree, and the Kubernetes version it defaults to (Capabilities
# without a cluster, `helm lint`) taken from its client-go v0.X.Y as 1.X.
build_helm() {
  local client_go minor ldflags key
  client_go="$(cd "$SRC/helm" && go list -m -f '{{.Version}}' k8s.io/client-go)"
  minor="$(cut -d. -f2 <<<"$client_go")"
  ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
  ldflags+=" -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$minor"
  ldflags+=" -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$minor"
  key="helm $HELM_VERSION $GO_VERSION $ldflags $(sha "$SRC/helm/go.mod" "$SRC/helm/go.sum")"
  if up_to_date helm "$key"; then log "helm $HELM_VERSION: up to date"; return; fi
  local start=$EPOCHREALTIME
  log "building helm $HELM_VERSION (helm.sh/helm/v3/cmd/helm)..."
  (cd "$SRC/helm" && go build -trimpath -ldflags "$ldflags" -o "$BIN/.helm.tmp" helm.sh/helm/v3/cmd/helm)
  finish helm "$key" "$start" "$("$BIN/.helm.tmp" version --short)"
}

# ---- 4. the External Secrets Operator ------------------------------------------------------------
# Upstream's Makefile builds main.go with CGO_ENABLED=0 and no ldflags (the binary carries no version).
# Its CRDs come along from the same module: config/crds/bases/*.yaml (kustomization.yaml left out).
build_eso() {
  local ldflags="-s -w"
  local key="external-secrets $ESO_VERSION $GO_VERSION $ldflags $(sha "$SRC/eso/go.mod" "$SRC/eso/go.sum")"
  local crds="$OUT/crds/external-secrets"
  if up_to_date external-secrets "$key" && [[ -f "$crds/VERSION" && "$(cat "$crds/VERSION")" == "$ESO_VERSION" ]]; then
    log "external-secrets $ESO_VERSION: up to date"; return
  fi
  local start=$EPOCHREALTIME
  log "building external-secrets $ESO_VERSION ($ESO_MODULE)..."
  (cd "$SRC/eso" && go build -trimpath -ldflags "$ldflags" -o "$BIN/.external-secrets.tmp" "$ESO_MODULE")
  local moddir
  moddir="$(module_dir "$SRC/eso" "$ESO_MODULE")"
  rm -rf "$crds" && mkdir -p "$crds"
  cp "$moddir"/config/crds/bases/*.yaml "$crds/"
  rm -f "$crds/kustomization.yaml"
  chmod u+w "$crds"/*.yaml
  printf '%s\n' "$ESO_VERSION" > "$crds/VERSION"
  finish external-secrets "$key" "$start" "$ESO_MODULE $ESO_VERSION, $(ls "$crds"/*.yaml | wc -l) CRDs in $crds"
}

total_start=$EPOCHREALTIME
build_etcd
build_kube kube-apiserver
build_kube kube-controller-manager
build_kube kubectl
build_helm
build_eso
log "done in $(elapsed "$total_start"); put $BIN first on PATH"
