#!/usr/bin/env bash
# run.sh - install what is missing, build, and run the whole Rapport suite in the
# foreground under build/bin/rapportd. Data goes to ./var/data (LMDB, one
# environment per service) and keys to ./var/keys (made on the first run).
# Ctrl-C (SIGINT) or SIGTERM stops every service cleanly.
#
#   ./scripts/run.sh                  # any RAPPORT_* setting may be set before it
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

./scripts/setup.sh
cmake -B build
cmake --build build -j"$(nproc)"

# rapportd's defaults, relative to the repository root: ./var/data and ./var/keys
# (keys made on the first run). RAPPORT_DATA / RAPPORT_KEYS override them.
cat <<MSG

Starting Rapport: data in ${RAPPORT_DATA:-./var/data}, keys in ${RAPPORT_KEYS:-./var/keys}.
When it says "Rapport is up", try in another terminal, from $root:

  export PATH=\$PWD/build/bin:\$PATH
  rapport token mint --sub alice --role manager --branch hq --save
  rapport health
  rapport leads list
  rapport --help

Ctrl-C here stops every service cleanly.

MSG
exec build/bin/rapportd
