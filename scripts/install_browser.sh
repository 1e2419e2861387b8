#!/usr/bin/env bash
# The browser of the UI tests (tests/ui): Debian's Chromium, never a test tool's own download.
# Installed once by `make install`; a no-op when /usr/bin/chromium is already there.
set -euo pipefail
BROWSER=${ORCHESTRATOR_CHROMIUM:-/usr/bin/chromium}
if [ -x "$BROWSER" ]; then
  exit 0
fi
if ! command -v apt-get >/dev/null; then
  echo "install_browser: $BROWSER is missing and apt-get is not available;" \
       "install Chromium and set ORCHESTRATOR_CHROMIUM to its path" >&2
  exit 1
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
echo "install_browser: installing Debian's chromium (once; the UI tests drive it headless)"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get install -y -q chromium >/dev/null 2>&1 || {
  $SUDO apt-get update -q >/dev/null && $SUDO apt-get install -y -q chromium >/dev/null
}
"$BROWSER" --version
