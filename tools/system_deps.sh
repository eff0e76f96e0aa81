#!/usr/bin/env bash
# The system packages the Makefile needs beyond Python, installed when they are missing.
#
#   tools/system_deps.sh [venv] [node] [chromium]   (no argument: all three)
#
#   venv      python3's venv and ensurepip modules (Debian: python3-venv), for .venv
#   node      Node.js >= 20.11 (Debian: nodejs), for the JavaScript client's tests
#   chromium  the Chromium the browser tests drive ($CHROMIUM, default /usr/bin/chromium;
#             Debian: chromium). Never a browser download.
#
# Present: nothing happens, nothing is printed. Missing: as root on a system with apt-get,
# the Debian packages are installed (one line says which); otherwise it prints the exact
# command to run and exits 1. `make test` and .ci/run use this script; `make dev` uses
# `venv` only.
set -euo pipefail

PYTHON=${PYTHON:-python3}
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
NODE=${NODE:-node}
NODE_MIN_MAJOR=20
NODE_MIN_MINOR=11

wanted=("$@")
[ ${#wanted[@]} -gt 0 ] || wanted=(venv node chromium)

node_ok() {
  command -v "$NODE" >/dev/null 2>&1 || return 1
  local version major minor
  version=$("$NODE" -p 'process.versions.node' 2>/dev/null) || return 1
  IFS=. read -r major minor _ <<<"$version"
  [ "$major" -gt "$NODE_MIN_MAJOR" ] || { [ "$major" -eq "$NODE_MIN_MAJOR" ] && [ "$minor" -ge "$NODE_MIN_MINOR" ]; }
}

# What is missing, as Debian package names.
missing_packages() {
  local what
  for what in "${wanted[@]}"; do
    case "$what" in
      venv) "$PYTHON" -c 'import venv, ensurepip' 2>/dev/null || echo python3-venv ;;
      node) node_ok || echo nodejs ;;
      chromium) [ -x "$CHROMIUM" ] || echo chromium ;;
      *) echo "system_deps: unknown requirement '$what' (venv, node, chromium)" >&2; return 2 ;;
    esac
  done
}

explain() {  # what to do by hand; always exits 1
  {
    echo "system_deps: missing: $*"
    if [[ " $* " == *" nodejs "* ]]; then
      echo "  Node.js >= $NODE_MIN_MAJOR.$NODE_MIN_MINOR is needed (found: $("$NODE" --version 2>/dev/null || echo none))"
    fi
    if command -v apt-get >/dev/null 2>&1; then
      echo "  install with:  sudo apt-get install -y $*"
    else
      echo "  install with your package manager (Debian package names: $*)"
    fi
    [[ " $* " != *" nodejs "* ]] || echo "  or from https://nodejs.org/en/download if that nodejs is too old"
    [[ " $* " != *" chromium "* ]] || echo "  or set CHROMIUM=/path/to/chromium (now: $CHROMIUM)"
    echo "  then rerun the same command"
  } >&2
  exit 1
}

missing=$(missing_packages) || exit 2
[ -n "$missing" ] || exit 0
read -r -a packages <<<"$(echo $missing)"

if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  explain "${packages[@]}"
fi
echo "system_deps: installing ${packages[*]} with apt-get (first run only)" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
still=$(missing_packages) || exit 2
[ -z "$still" ] || explain $still
