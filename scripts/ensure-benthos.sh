#!/usr/bin/env bash
# Benthos v4.24.0 (MIT), a peer in `npm run bench:kafka`: built from its Go module into
# .cache/bin/benthos-v4.24.0 (or $TRACKING_GATEWAY_CACHE/bin), once. `go install pkg@version`
# is refused by the module proxy here (403 on the version list), so the module is downloaded
# and built in place. About 13 minutes cold on 2 cores. Exits non-zero when it cannot be had.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=v4.24.0
CACHE="${TRACKING_GATEWAY_CACHE:-$PWD/.cache}"
BIN="$CACHE/bin/benthos-$VERSION"
if [ -x "$BIN" ]; then echo "$BIN"; exit 0; fi
command -v go >/dev/null || { echo "ensure-benthos: no go toolchain on the PATH" >&2; exit 1; }
mkdir -p "$CACHE/bin"
export GOFLAGS="-modcacherw -buildvcs=false"
go mod download "github.com/benthosdev/benthos/v4@$VERSION" >&2
cd "$(go env GOMODCACHE)/github.com/benthosdev/benthos/v4@$VERSION"
# -checklinkname=0: segmentio/parquet-go links runtime.aeskeysched, which Go 1.23+ hides.
go build -ldflags=-checklinkname=0 -o "$BIN.tmp" ./cmd/benthos >&2
mv "$BIN.tmp" "$BIN"
echo "$BIN"
