#!/bin/sh
# tests/valgrind.sh DMALAB: runs the C unit tests, the demo and every scenario
# script under valgrind; any error or definite/indirect leak fails the run.
# Ends with "N passed, N failed".
DMALAB=$1
export DMALAB
# scenarios run a few requests only: valgrind is ~50x slower than native
DMALAB_REQUESTS=${DMALAB_REQUESTS:-12}
# sweeps run their points in this process: valgrind then sees them all
DMALAB_JOBS=1
export DMALAB_JOBS
export DMALAB_REQUESTS
passed=0
failed=0
vg="valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect --error-exitcode=99"
for cmd in $(ls build/tests/test_* | grep -v test_repl) \
           "$DMALAB scripts/demo.lua" \
           "$DMALAB:test:tests/suite/pass_scenario.lua:tests/suite/expected_leak_scenario.lua" \
           "$DMALAB:test:--sandbox:tests/sandbox" \
           $(find scripts/seeds scripts/scenarios -name '*.lua' 2>/dev/null | sort | sed "s|^|$DMALAB:|"); do
  cmd=$(echo "$cmd" | sed 's|:| |g')
  set -- $cmd
  [ -x "$1" ] || continue
  if $vg "$@" >/dev/null 2>/tmp/valgrind.$$; then
    echo "ok - valgrind $*"
    passed=$((passed + 1))
  else
    cat /tmp/valgrind.$$
    echo "not ok - valgrind $*"
    failed=$((failed + 1))
  fi
done
rm -f /tmp/valgrind.$$
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
