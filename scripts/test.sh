#!/usr/bin/env bash
# The whole test suite, as `npm test` and CI run it: build, start the services the
# integration tests need — a Kafka broker from Maven Central jars (unless KAFKA_BROKERS
# names one) and moto, the AWS API emulator, from PyPI (unless AWS_ENDPOINT_URL names one)
# — run every tap test, stop the services, print `N passed, N failed`.
set -euo pipefail
cd "$(dirname "$0")/.."
shopt -s globstar

# npm runs this with node_modules/.bin first on the PATH: `node` is the pinned Node.js 24.
echo "test: $(command -v node) $(node --version)"
# Java, Maven, Python's venv, Go, Chromium, NGINX, curl: installed now when root, else one
# message naming what is missing — before anything is built or started.
bash scripts/ensure-prerequisites.sh
npm run build --silent

report=$(mktemp)
cleanup() {
  rm -f "$report"
  if [ -z "${KAFKA_BROKERS:-}" ]; then node dist/test/harness/kafka-global.js stop >/dev/null 2>&1 || true; fi
  if [ -z "${AWS_ENDPOINT_URL:-}" ]; then node dist/test/harness/moto-global.js stop >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT

if [ -z "${KAFKA_BROKERS:-}" ]; then
  echo "test: starting a Kafka broker (KRaft, from Maven Central jars; cached under .cache/)"
  node dist/test/harness/kafka-global.js start
fi
if [ -z "${AWS_ENDPOINT_URL:-}" ]; then
  echo "test: starting moto, the AWS API emulator (from PyPI into a cached virtualenv)"
  node dist/test/harness/moto-global.js start
fi

status=0
npx tap "$@" dist/test/**/*.test.js 2>&1 | tee "$report" || status=$?

# tap ends with a line like `# { total: 120, pass: 118, fail: 2, skip: 0 }`.
summary=$(grep -aE '^# \{ total: [0-9]+' "$report" | tail -n 1 || true)
if [ -z "$summary" ]; then
  echo "test: tap printed no summary"
  exit 1
fi
count() { echo "$summary" | grep -oE "$1: [0-9]+" | grep -oE '[0-9]+' || echo 0; }
echo "$(count pass) passed, $(count fail) failed"
exit "$status"
