#!/bin/sh
# tests/run.sh BUILD DMALAB: runs every test suite against one build and ends
# with the line "N passed, N failed" (exit 1 if anything failed).
#   C unit tests (cmocka)      BUILD/tests/test_*
#   Lua tests (busted, 5.4)    tests/lua/*_spec.lua, module from BUILD/dma.so
#   scripts (dmalab)           scripts/demo.lua and scripts/**/ *.lua scenarios
#   README                     every sh/lua block (tests/readme.lua), the API
#                              reference against the help table, make install
#                              (plain builds only: they run bin/dmalab)
#   lint (luacheck)            scripts/ tests/ repl/lua/
BUILD=$1
DMALAB=$2
export DMALAB
passed=0
failed=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

count() { passed=$((passed + $1)); failed=$((failed + $2)); }

# With sanitizers, stock lua5.4 must preload the runtimes the module needs.
if [ -n "$SANITIZE" ]; then
  SAN_PRELOAD="$(${CC:-cc} -print-file-name=libasan.so) $(${CC:-cc} -print-file-name=libubsan.so)"
  export ASAN_OPTIONS=detect_leaks=0:abort_on_error=0
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
fi

echo "== C unit tests (cmocka)"
for t in "$BUILD"/tests/test_*; do
  [ -x "$t" ] || continue
  ASAN_OPTIONS=detect_leaks=1 "$t" >"$log" 2>&1
  rc=$?
  cat "$log"
  p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -n 1)
  f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -n 1)
  if [ -z "$p$f" ] && [ $rc -ne 0 ]; then f=1; fi  # crashed before reporting
  count "${p:-0}" "${f:-0}"
done

echo "== Lua tests (busted on Lua 5.4)"
LD_PRELOAD="$SAN_PRELOAD" busted --cpath="$BUILD/?.so" -o TAP >"$log" 2>&1
rc=$?
cat "$log"
p=$(grep -c '^ok ' "$log")
f=$(grep -c '^not ok ' "$log")
if [ "$p$f" = "00" ] || { [ $rc -ne 0 ] && [ "$f" = 0 ]; }; then f=$((f + 1)); fi
count "$p" "$f"

echo "== scripts (dmalab)"
for s in scripts/demo.lua $(find scripts/seeds scripts/scenarios -name '*.lua' 2>/dev/null | sort); do
  if ASAN_OPTIONS=detect_leaks=1 "$DMALAB" "$s" >"$log" 2>&1; then
    echo "ok - $s"
    count 1 0
  else
    cat "$log"
    echo "not ok - $s"
    count 0 1
  fi
done

echo "== layers (core includes only earlier layers, no include cycle)"
if lua5.4 tests/layers.lua; then count 1 0; else count 0 1; fi

if [ -z "$SANITIZE" ]; then
  echo "== README (every sh and lua block; the API reference; make install)"
  for t in "lua5.4 tests/readme.lua" "$DMALAB tests/readme_api.lua" "sh tests/install.sh"; do
    $t >"$log" 2>&1
    rc=$?
    cat "$log"
    p=$(grep -c '^ok ' "$log")
    f=$(grep -c '^not ok ' "$log")
    if [ $rc -ne 0 ] && [ "$f" = 0 ]; then f=1; fi
    if [ "$p$f" = "00" ]; then p=1; fi  # a check that prints nothing when it passes
    count "$p" "$f"
  done
fi

echo "== lint (luacheck)"
if luacheck --no-color -q scripts tests repl/lua bindings/lab; then count 1 0; else count 0 1; fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
