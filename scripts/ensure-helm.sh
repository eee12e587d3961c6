#!/usr/bin/env bash
# Installs the pinned helm CLI into the project's cache and prints its path.
# Built from source with `go install` because the Go module proxy is the only
# place CI can fetch helm from; the binary is cached so only a cold machine pays
# (2–3 minutes on 2 cores: module download plus compile).
# Usage: scripts/ensure-helm.sh   (stdout: path to helm; progress on stderr)
set -euo pipefail

HELM_VERSION="v3.22.0"
# The Kubernetes version helm assumes for `helm template` and `helm lint`
# (.Capabilities.KubeVersion, Chart.yaml kubeVersion checks). helm's Makefile derives it
# from its k8s.io/client-go (v0.37.0 in helm v3.22.0 → 1.37); `go install` alone would
# leave the compiled-in default of 1.20.
HELM_KUBE_MAJOR="1"
HELM_KUBE_MINOR="37"
# The `go` line of helm v3.22.0's go.mod: the oldest Go that builds it (scripts/ensure-go.sh
# fetches that release when the installed Go is older, as Debian bookworm's 1.19 is).
HELM_GO_VERSION="1.26.0"

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache_dir="${TRACKING_GATEWAY_CACHE:-$repo_root/.cache}"
bin_dir="$cache_dir/bin"
helm_bin="$bin_dir/helm"
# The stamp records what the cached binary was built with; a change of pin rebuilds it.
stamp_file="$bin_dir/helm.stamp"
stamp="helm $HELM_VERSION kube $HELM_KUBE_MAJOR.$HELM_KUBE_MINOR"

if [[ -x "$helm_bin" && -f "$stamp_file" && "$(cat "$stamp_file")" == "$stamp" ]]; then
  echo "$helm_bin"
  exit 0
fi

go_bin="$(bash "$repo_root/scripts/ensure-go.sh" "$HELM_GO_VERSION")"
# Unset GOROOT: each go finds its own root from where it lies; one set for an older Go would
# point the fetched toolchain at that Go's standard library.
unset GOROOT
export PATH="$go_bin:$PATH" GOTOOLCHAIN=local

mkdir -p "$bin_dir"
echo "ensure-helm: installing $stamp into $bin_dir with go install" >&2
started=$SECONDS
ldflags="-X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
for pkg in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
  ldflags+=" -X $pkg.k8sVersionMajor=$HELM_KUBE_MAJOR -X $pkg.k8sVersionMinor=$HELM_KUBE_MINOR"
done
GOBIN="$bin_dir" CGO_ENABLED=0 go install -ldflags "$ldflags" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
echo "$stamp" >"$stamp_file"
echo "ensure-helm: installed in $((SECONDS - started))s" >&2
echo "$helm_bin"
