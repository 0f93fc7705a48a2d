#!/usr/bin/env bash
# Install (if needed) Debian's Chromium for the web page tests (tests/test_web_page.py drive it
# with Playwright; no browser is downloaded) and print its path as the ONLY line on stdout
# (everything else goes to stderr). Idempotent: does nothing when a Chromium is there already.
set -euo pipefail
exec 3>&1 1>&2                                      # fd 3 = real stdout
die() { echo "chromium.sh: ERROR: $*" >&2; exit 1; }
find_chromium() { command -v chromium || command -v chromium-browser || true; }

if [ -z "$(find_chromium)" ]; then
  [ "$(id -u)" = 0 ] || exec sudo -E bash "$0" "$@" 1>&3 3>&-   # needs root (apt)
  echo "chromium.sh: installing chromium via apt" >&2
  log=$(mktemp)
  export DEBIAN_FRONTEND=noninteractive
  if ! { timeout 600 apt-get update -qq \
         && timeout 900 apt-get install -y -qq --no-install-recommends chromium; } >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    rm -f "$log"
    die "apt-get install chromium failed"
  fi
  rm -f "$log"
fi
path=$(find_chromium)
[ -n "$path" ] || die "no chromium on PATH after installing it"
# It must start (shared libraries present): print its version.
version=$(timeout 60 "$path" --version 2>/dev/null) || die "$path does not start"
echo "chromium.sh: $version at $path" >&2
echo "$path" >&3
