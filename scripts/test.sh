#!/usr/bin/env bash
# test.sh - install what is missing, build, and run the whole test suite with ctest.
#
#   ./scripts/test.sh                 # build/ : unit + integration tests
#   ./scripts/test.sh --sanitize      # build-asan/ : the same under ASan + UBSan
#   ./scripts/test.sh -- -R leads     # anything after -- goes to ctest
#
# The exit status is ctest's. Tests use ephemeral ports and temporary directories,
# so they run two at a time (RAPPORT_TEST_JOBS overrides).
set -euo pipefail
cd "$(dirname "$0")/.."

sanitize=0
ctest_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --sanitize) sanitize=1 ;;
    --) shift; ctest_args=("$@"); break ;;
    -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "test.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
  esac
  shift
done

./scripts/setup.sh

jobs=$(nproc 2>/dev/null || echo 2)
if [ "$sanitize" = 1 ]; then
  dir=build-asan
  cmake -B "$dir" -DRAPPORT_SANITIZE=ON
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
else
  dir=build
  cmake -B "$dir"
fi
cmake --build "$dir" -j"$jobs"

rc=0
ctest --test-dir "$dir" --output-on-failure --no-tests=error \
  -j"${RAPPORT_TEST_JOBS:-2}" ${ctest_args[@]+"${ctest_args[@]}"} || rc=$?
exit "$rc"
