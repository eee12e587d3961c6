#!/usr/bin/env bash
# Prints the bin folder of a Go toolchain at least as new as the version asked for.
# The `go` on the PATH when it is new enough; else that release, fetched once by the `go` on
# the PATH from the Go module proxy (release N is the module golang.org/toolchain at
# v0.0.1-goN.<os>-<arch>) into .cache/go-mod (or $TRACKING_GATEWAY_CACHE/go-mod). This is
# how Debian bookworm's golang-go (1.19, older than GOTOOLCHAIN switching, added in 1.21)
# builds helm, whose go.mod asks for a newer Go.
# Usage: scripts/ensure-go.sh 1.26.0   (stdout: the bin folder; progress on stderr)
set -euo pipefail
want="${1:?usage: ensure-go.sh <go version, e.g. 1.26.0>}"
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache_dir="${TRACKING_GATEWAY_CACHE:-$repo_root/.cache}"

if ! command -v go >/dev/null 2>&1; then
  echo "ensure-go: no go on the PATH (apt-get install golang-go; any version will do)" >&2
  exit 1
fi
# GOTOOLCHAIN=local: report and use the go that is installed, never one it would switch to.
export GOTOOLCHAIN=local
have="$(go env GOVERSION)"
have="${have#go}"
have="${have%% *}"
# sort -V orders 1.19.8 before 1.26.0; the older of the two first means `have` is new enough.
if [ "$(printf '%s\n' "$want" "$have" | sort -V | head -n 1)" = "$want" ]; then
  dirname "$(command -v go)"
  exit 0
fi

module="golang.org/toolchain@v0.0.1-go$want.$(go env GOOS)-$(go env GOARCH)"
export GOMODCACHE="$cache_dir/go-mod"
root="$GOMODCACHE/$module"
if [ ! -x "$root/bin/go" ]; then
  echo "ensure-go: go $have is older than $want; fetching $module from the Go module proxy" >&2
  # -modcacherw: the files are ours to mark executable below (module zips carry no modes).
  GOFLAGS=-modcacherw go mod download "$module" >&2
  chmod +x "$root/bin/"* "$root/pkg/tool/"*/*
fi
echo "$root/bin"
