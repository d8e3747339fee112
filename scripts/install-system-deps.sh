#!/usr/bin/env bash
# Debian packages some tests drive the way a person would: LibreOffice re-saves returned review
# workbooks; headless Chromium opens the HTML report and screenshots it; the kill tests
# (pytest -m kill) compile a test-only Delta LogStore with javac. Installed only when missing
# and when this user may install packages.
set -euo pipefail
need=()
command -v soffice >/dev/null 2>&1 || need+=(libreoffice-calc)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v javac >/dev/null 2>&1 || need+=(openjdk-17-jdk-headless)
if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "note: ${need[*]} not installed and this user cannot apt-get it; the tests that need it will fail" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
