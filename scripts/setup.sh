#!/usr/bin/env bash
# setup.sh - install the Debian packages Rapport needs to build and test, and
# nothing else. Idempotent: each package is checked with dpkg-query, and apt-get
# runs only when something is missing. Without root it works when everything is
# already installed, and otherwise says which packages it needs root for.
#
#   ./scripts/setup.sh            # used by scripts/run.sh and scripts/test.sh
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config   # compiler, one CMake build, pkg-config lookups
  libzmq3-dev libczmq-dev            # ZeroMQ transport, CURVE/ZAP, zcert
  libprotobuf-c-dev protobuf-c-compiler  # messages and protoc-c code generation
  liblmdb-dev                        # storage
  libsodium-dev                      # CURVE keys, Ed25519 tokens, Argon2id, BLAKE2b
  libjansson-dev                     # JSON: JWT, CLI output, CloudEvents JSON
  libmicrohttpd-dev                  # ops HTTP: /metrics /healthz /readyz
  libcmocka-dev                      # unit tests
  libcsv-dev                         # CSV imports
  python3-jwt python3-cryptography   # tests: PyJWT checks identity's tokens against its JWKS (EdDSA)
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#PACKAGES[@]} packages are installed"
  exit 0
fi

echo "setup: installing ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO=(sudo -n)
  else
    echo "setup: these packages are missing and installing them needs root:" >&2
    echo "  apt-get install -y --no-install-recommends ${missing[*]}" >&2
    echo "setup: run this script as root (or with sudo), then try again" >&2
    exit 1
  fi
else
  SUDO=()
fi

export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "setup: done"
