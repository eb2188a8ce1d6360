#!/bin/sh
# CI's bounded run of the API fuzzer (make fuzz-smoke): the inputs of
# crashes found before (tests/fuzz/regressions/, each replayed once), then
# 90 s of fuzzing from the seeds and the merged corpus (tests/fuzz/merged/:
# what make fuzz found, reduced by make fuzz-merge to inputs that together
# reach every edge) with a fixed seed, new inputs kept in a scratch
# directory (the tree is not touched). Ends with "N passed, N failed" (1 passed when no crash, leak, UB or timeout).
bin=$1
seeds=$2
regressions=$(dirname "$seeds")/regressions
merged=$(dirname "$seeds")/merged
scratch=$(dirname "$bin")/smoke-corpus
rm -rf "$scratch"
mkdir -p "$scratch" "$(dirname "$bin")/crashes"
if "$bin" "$regressions"/* && "$bin" "$scratch" "$seeds" "$merged" -max_len=2048 -len_control=20 -timeout=30 -rss_limit_mb=2048 -seed=1 \
     -max_total_time=90 -print_final_stats=1 -artifact_prefix="$(dirname "$bin")/crashes/"; then
  echo "1 passed, 0 failed"
else
  echo "0 passed, 1 failed"
  exit 1
fi
