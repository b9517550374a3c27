# Shared by lab/engines/build.sh and lab/engines/build-cluster.sh (sourced after ROOT is set): where binaries
# and recipe stamps go, Go from the module proxy only (no `direct`: nothing is cloned), static binaries.
OUT="${AMEIDE_ENGINES:-$ROOT/.engines}"
BIN="$OUT/bin"
STAMPS="$OUT/stamps"
PYTHON="${PYTHON:-python3}"

export GOPROXY=https://proxy.golang.org
export GOFLAGS="-buildvcs=false -mod=readonly"
export CGO_ENABLED=0                      # static binaries, no C toolchain needed (as upstream releases)

mkdir -p "$BIN" "$STAMPS"
GO_VERSION="$(go env GOVERSION)"

log() { printf 'engines: %s\n' "$*"; }

sha() { cat "$@" | sha256sum | cut -d' ' -f1; }

# elapsed START: seconds since START (an $EPOCHREALTIME value), e.g. "12.3s".
elapsed() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1fs", b - a }'; }

# module_dir DIR MODULE: where MODULE (as DIR's go.mod selects it) is in the module cache.
module_dir() {
  (cd "$1" && go mod download -json "$2" | "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
}

# up_to_date NAME KEY: the binary exists and was built from this recipe.
up_to_date() {
  [[ -x "$BIN/$1" && -f "$STAMPS/$1" && "$(cat "$STAMPS/$1")" == "$2" ]]
}

# finish NAME KEY START DESCRIPTION: move the fresh binary in place, record its recipe, report.
finish() {
  local name=$1 key=$2 start=$3 what=$4
  mv -f "$BIN/.$name.tmp" "$BIN/$name"
  printf '%s\n' "$key" > "$STAMPS/$name"
  log "built $name ($what) in $(elapsed "$start")"
}
