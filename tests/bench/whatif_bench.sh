#!/bin/sh
# tests/bench/whatif_bench.sh DMALAB: the what-if workflow's performance
# (make bench; numbers to read, not a timed test):
#  1. the full whatif_map_registers sweep with --jobs 1 and --jobs 2: wall
#     time, speed-up, and whether the two result tables are identical;
#  2. a streamed Chrome trace of 10 M records: RSS every million records
#     (flat means the stream keeps no record) and the file's size.
DMALAB=${1:-bin/dmalab}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
now() { date +%s.%N; }
REQ=${BENCH_REQUESTS:-400}
for jobs in 1 2; do
  t0=$(now)
  DMALAB_WHATIF=full DMALAB_WHATIF_SWEEP_ONLY=1 DMALAB_REQUESTS=$REQ "$DMALAB" sweep scripts/scenarios/whatif_map_registers.lua \
    --quiet --jobs $jobs --out "$dir/j$jobs.csv" >/dev/null || exit 1
  te=$(now)
  eval "t$jobs=\$(awk -v a=$t0 -v b=$te 'BEGIN { printf \"%.2f\", b - a }')"
done
speedup=$(awk -v a=$t1 -v b=$t2 'BEGIN { printf "%.2f", a / b }')
if cmp -s "$dir/j1.csv" "$dir/j2.csv"; then same=identical; else same=DIFFERENT; fi
echo "sweep (78 points x $REQ requests): --jobs 1 ${t1}s, --jobs 2 ${t2}s, speed-up ${speedup}x, results $same"
OUT="$dir/stream.json" RECORDS=${BENCH_RECORDS:-10000000} "$DMALAB" -e '
local n = tonumber(os.getenv("RECORDS"))
local path = os.getenv("OUT")
local function rss()
  for line in io.lines("/proc/self/status") do
    local kb = line:match("^VmRSS:%s+(%d+)")
    if kb then return tonumber(kb) end
  end
end
local m = dma.machine { trace = { file = path, keep = 1024 } }
local out = {}
for i = 1, n do
  m:trace_event(i, i * 3, i * 7)
  if i % (n // 10) == 0 then out[#out + 1] = ("%dM:%dkB"):format(i // 1000000, rss()) end
end
m:close()
local f = io.open(path); local size = f:seek("end"); f:close()
print(("streamed trace of %d records: RSS %s; file %d bytes (%.0f bytes a record)"):format(
  n, table.concat(out, " "), size, size / n))'
