#!/usr/bin/env bash
# Installs the pinned helm CLI into the project's cache and prints its path.
# Built from source with `go install` because the Go module proxy is the only
# place CI can fetch helm from; the binary is cached so only a cold machine pays.
# Usage: scripts/ensure-helm.sh   (stdout: path to helm; progress on stderr)
set -euo pipefail

HELM_VERSION="v3.22.0"

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache_dir="${TRACKING_GATEWAY_CACHE:-$repo_root/.cache}"
bin_dir="$cache_dir/bin"
helm_bin="$bin_dir/helm"

# `helm version --template` prints just the version; a stale pin triggers a reinstall.
if [[ -x "$helm_bin" ]] && [[ "$("$helm_bin" version --template '{{.Version}}' 2>/dev/null)" == "$HELM_VERSION" ]]; then
  echo "$helm_bin"
  exit 0
fi

if ! command -v go >/dev/null 2>&1; then
  echo "ensure-helm: go is required to install helm $HELM_VERSION" >&2
  exit 1
fi

mkdir -p "$bin_dir"
echo "ensure-helm: installing helm $HELM_VERSION into $bin_dir (go install, cold takes minutes)" >&2
started=$SECONDS
# -ldflags sets the version helm reports, which `go install` alone leaves as "v3.x-dev".
GOBIN="$bin_dir" CGO_ENABLED=0 go install \
  -ldflags "-X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" \
  "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
echo "ensure-helm: installed in $((SECONDS - started))s" >&2
echo "$helm_bin"
