#!/usr/bin/env bash
# The whole test suite, as `npm test` and CI run it: build, start the services the
# integration tests need, run every tap test, print `N passed, N failed`.
set -euo pipefail
cd "$(dirname "$0")/.."

npm run build --silent

report=$(mktemp)
trap 'rm -f "$report"' EXIT

status=0
npx tap dist/test 2>&1 | tee "$report" || status=$?

# tap ends with a line like `# { total: 120, pass: 118, fail: 2, skip: 0 }`.
summary=$(grep -E '^# \{ total: [0-9]+' "$report" | tail -n 1 || true)
count() { echo "$summary" | grep -oE "$1: [0-9]+" | grep -oE '[0-9]+' || echo 0; }
if [ -z "$summary" ]; then
  echo "tests: no summary from tap"
  exit 1
fi
echo "$(count pass) passed, $(count fail) failed"
exit "$status"
