#!/usr/bin/env bash
# Build the real Kubernetes control plane the tests run against, once per machine:
# kube-apiserver, kube-controller-manager, kube-scheduler (k8s.io/kubernetes v1.36.3),
# etcd (go.etcd.io/etcd/server/v3 v3.6.16) and kwok (sigs.k8s.io/kwok v0.8.0, simulated
# kubelets), all from the Go module proxy through the wrapper modules in scripts/k8s/.
#
# Output: $TIATION_K8S_CACHE/<versions>/bin (default ~/.cache/tiation-k8s), outside the repo.
# A stamp holding the versions and the wrappers' go.sum hashes makes a rerun a no-op; the
# binaries are built into a temp dir and moved into place, so a killed build leaves no half cache.
# Prints the bin directory on stdout as its last line.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
WRAP="$HERE/k8s"
K8S_VERSION=v1.36.3
K8S_BUILD_DATE=2026-07-22T18:07:38Z
ETCD_VERSION=v3.6.16
KWOK_VERSION=v0.8.0

CACHE="${TIATION_K8S_CACHE:-$HOME/.cache/tiation-k8s}"
DEST="$CACHE/k8s-${K8S_VERSION}_etcd-${ETCD_VERSION}_kwok-${KWOK_VERSION}"
BIN="$DEST/bin"
STAMP_WANT="$(
	printf '%s %s %s\n' "$K8S_VERSION" "$ETCD_VERSION" "$KWOK_VERSION"
	sha256sum "$WRAP/kubernetes/go.sum" "$WRAP/etcd/go.sum" "$WRAP/kwok/go.sum" | awk '{print $1}'
)"

if [[ -f "$DEST/stamp" && "$(cat "$DEST/stamp")" == "$STAMP_WANT" ]]; then
	echo "$BIN"
	exit 0
fi

# One build at a time per machine: a second caller waits for the first and then finds the stamp.
mkdir -p "$CACHE"
exec 9>"$CACHE/.build.lock"
flock 9
if [[ -f "$DEST/stamp" && "$(cat "$DEST/stamp")" == "$STAMP_WANT" ]]; then
	echo "$BIN"
	exit 0
fi

if ! command -v go >/dev/null; then
	echo "build-k8s-test-cluster: go is not installed (Go >= 1.26 is needed)" >&2
	exit 1
fi

export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=readonly
mkdir -p "$CACHE"
TMP="$(mktemp -d "$CACHE/build.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
mkdir -p "$TMP/bin"
log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
start=$SECONDS

log "etcd $ETCD_VERSION"
(cd "$WRAP/etcd" && nice -n 10 go build -trimpath -installsuffix=cgo \
	-ldflags="-s -w -X=go.etcd.io/etcd/api/v3/version.GitSHA=$ETCD_VERSION" \
	-o "$TMP/bin/etcd" go.etcd.io/etcd/server/v3) >&2

log "kwok $KWOK_VERSION"
(cd "$WRAP/kwok" && nice -n 10 go build -trimpath -ldflags="-s -w" \
	-o "$TMP/bin/kwok" sigs.k8s.io/kwok/cmd/kwok) >&2

log "kube-apiserver, kube-controller-manager, kube-scheduler $K8S_VERSION"
minor="${K8S_VERSION#v1.}"
minor="${minor%%.*}"
ldflags="-s -w"
for pkg in k8s.io/client-go/pkg/version k8s.io/component-base/version; do
	ldflags+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
	ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=$K8S_BUILD_DATE"
done
(cd "$WRAP/kubernetes" && nice -n 10 go build -trimpath -tags=selinux,notest,grpcnotrace \
	-ldflags="all=$ldflags" -o "$TMP/bin/" \
	k8s.io/kubernetes/cmd/kube-apiserver \
	k8s.io/kubernetes/cmd/kube-controller-manager \
	k8s.io/kubernetes/cmd/kube-scheduler) >&2

# Read whole outputs first: `| grep -q` can end the pipe early and fail it under pipefail.
have="$("$TMP/bin/kube-apiserver" --version)"
[[ "$have" == *"Kubernetes $K8S_VERSION"* ]] || { echo "kube-apiserver --version says: $have" >&2; exit 1; }
have="$("$TMP/bin/etcd" --version)"
[[ "$have" == *"etcd Version: ${ETCD_VERSION#v}"* ]] || { echo "etcd --version says: $have" >&2; exit 1; }

rm -rf "$DEST"
mkdir -p "$DEST"
mv "$TMP/bin" "$BIN"
printf '%s\n' "$STAMP_WANT" >"$DEST/stamp"
log "built in $((SECONDS - start)) s into $BIN"
echo "$BIN"
