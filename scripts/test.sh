#!/usr/bin/env bash
# Install what the tests need and run every test (the README's test command; .ci/run calls it).
# Chromium for the browser tests comes from Debian's packages, installed here when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install --quiet --upgrade pip
python -m pip install --quiet -r requirements-dev.txt
if ! command -v chromium >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
python -m ruff check .
python -m pytest "$@"
