#!/usr/bin/env bash
# The tools `npm test` needs besides Node.js, checked before the build starts anything:
#   java 17+  runs the Kafka broker (test/harness/kafka-broker.ts)
#   mvn       fetches its jars from Maven Central (test/harness/kafka-classpath.ts)
#   python3 with venv  installs moto, the AWS API emulator, from PyPI (test/harness/moto-server.ts)
#   go        builds the pinned helm for the chart tests (scripts/ensure-helm.sh; any Go: an
#             older one fetches the toolchain helm needs, scripts/ensure-go.sh) — not when HELM is set
#   chromium  the browser tests (scripts/ensure-chromium.sh)
#   nginx     the first-party test proxies through it (load-tests/nginx.ts)
#   curl      the README's commands are run as written (test/docs/commands.test.ts)
# As root on Debian/Ubuntu the missing ones are installed: one `apt-get update`, one
# `apt-get install`, the .deb files kept under .cache/apt. Otherwise nothing is installed: the
# run stops with one message naming each missing tool and the command that installs it.
#
# Tests of this script see the machine as a fresh one through two variables: PATH (a tool is
# looked for there first) and PREREQUISITES_SYSTEM_DIRS (the fixed folders the harnesses also
# look in, default "/usr/sbin /usr/bin"; nginx lives in /usr/sbin, off a user's PATH).
set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache_dir="${TRACKING_GATEWAY_CACHE:-$repo_root/.cache}"
system_dirs="${PREREQUISITES_SYSTEM_DIRS-/usr/sbin /usr/bin}"

# The path of the first of the named programs on the PATH or in the system folders.
find_tool() {
  local name dir
  for name in "$@"; do
    if command -v "$name" >/dev/null 2>&1; then command -v "$name"; return 0; fi
    for dir in $system_dirs; do
      if [ -x "$dir/$name" ]; then echo "$dir/$name"; return 0; fi
    done
  done
  return 1
}

# The major version `java -version` reports: "17.0.15" → 17, the old "1.8.0_292" → 8.
java_major() {
  local java version
  java="$(find_tool java)" || return 1
  version="$("$java" -version 2>&1 | sed -n 's/.*version "\([^"]*\)".*/\1/p' | head -n 1)"
  case "$version" in
    1.*) version="${version#1.}" ;;
  esac
  echo "${version%%[._+-]*}"
}

missing=()   # lines "tool|Debian package|why"
check() {
  missing=()
  local major
  major="$(java_major || true)"
  if [ -z "$major" ]; then
    missing+=("java 17 or newer|openjdk-17-jre-headless|runs the Kafka broker")
  elif [ "$major" -lt 17 ] 2>/dev/null; then
    missing+=("java 17 or newer (found java $major)|openjdk-17-jre-headless|runs the Kafka broker")
  fi
  find_tool mvn >/dev/null || missing+=("mvn (Maven)|maven|fetches the Kafka broker's jars")
  local python
  if ! python="$(find_tool python3)"; then
    missing+=("python3 with venv|python3-venv|installs moto, the AWS API emulator")
  elif ! "$python" -c 'import venv, ensurepip' >/dev/null 2>&1; then
    missing+=("python3's venv module|python3-venv|installs moto, the AWS API emulator")
  fi
  if [ -z "${HELM:-}" ]; then
    find_tool go >/dev/null || missing+=("go|golang-go|builds the pinned helm CLI")
  fi
  if [ -z "${CHROMIUM_PATH:-}" ]; then
    find_tool chromium chromium-browser >/dev/null || missing+=("chromium|chromium|the browser tests")
  fi
  find_tool nginx >/dev/null || missing+=("nginx|nginx|the first-party proxy test")
  find_tool curl >/dev/null || missing+=("curl|curl|runs the README's commands")
  return 0
}

packages() {
  local line
  for line in "${missing[@]}"; do
    line="${line#*|}"
    echo "${line%%|*}"
  done | sort -u | tr '\n' ' ' | sed 's/ $//'
}

report() {
  local line tool package why
  echo "npm test needs tools this machine does not have:"
  for line in "${missing[@]}"; do
    IFS='|' read -r tool package why <<<"$line"
    printf '  %-42s %s  (apt-get install %s)\n' "$tool" "$why" "$package"
  done
  echo "Install them as root (Debian/Ubuntu):"
  echo "  apt-get update && apt-get install -y --no-install-recommends $(packages)"
  echo "or run npm test as root, which installs them itself."
}

check
if [ "${#missing[@]}" -eq 0 ]; then exit 0; fi

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  report >&2
  exit 1
fi

to_install="$(packages)"
echo "prerequisites: installing $to_install with apt-get (.deb files cached under $cache_dir/apt)"
mkdir -p "$cache_dir/apt/partial"
# The cache folder belongs to root, which apt's _apt download user cannot write to.
apt_options=(-o "Dir::Cache::Archives=$cache_dir/apt/" -o APT::Sandbox::User=root)
apt-get "${apt_options[@]}" update -qq
# shellcheck disable=SC2046 # one word per package
DEBIAN_FRONTEND=noninteractive apt-get "${apt_options[@]}" install -y -qq --no-install-recommends $to_install
# The nginx package starts a system nginx on port 80 where it can; the tests run their own.
if [[ " $to_install " == *" nginx "* ]] && command -v service >/dev/null 2>&1; then
  service nginx stop >/dev/null 2>&1 || true
fi

check
if [ "${#missing[@]}" -ne 0 ]; then
  echo "prerequisites: still missing after apt-get install:" >&2
  report >&2
  exit 1
fi
