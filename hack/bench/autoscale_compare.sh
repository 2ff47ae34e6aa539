#!/usr/bin/env bash
# Benchmark (issue 6 item 3): the eventworker scaling policy against the model
# of KEDA's Kafka scaler under the HPA, on every trace in hack/bench/traces/,
# both with the same lagThreshold, through `eventworker simulate` (default
# model: 12 partitions, 100 msg/s per replica, 10 s pod start, 5 s rebalance
# pause). Then KEDA's model swept over lagThreshold 10, 100, 1,000, 10,000,
# to place eventworker on KEDA's whole lag / cost trade-off curve.
# Builds nothing. Deterministic: the same build prints the same tables.
# Usage: hack/bench/autoscale_compare.sh [BUILD_DIR] [LAG_THRESHOLD] [-- extra simulate options]
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../lib.sh"
BUILD=${1:-$REPO_DIR/build}
LAG_THRESHOLD=${2:-1000}
shift $(( $# < 2 ? $# : 2 ))
[ "${1:-}" = "--" ] && shift
EXTRA=("$@")
CLI="$BUILD/operator/eventworker"
[ -x "$CLI" ] || die "build first: cmake --preset default && cmake --build build --target eventworker"
TRACES=("$HERE"/traces/*.csv)
[ -e "${TRACES[0]}" ] || die "no traces in $HERE/traces"

# run TRACE POLICY THRESHOLD -> "lag_seconds peak_lag p99_lag replica_seconds scale_events peak_replicas"
run() {
  "$CLI" simulate --trace "$1" --policy "$2" --lag-threshold "$3" "${EXTRA[@]}" |
    awk '{v[$1]=$2} END {print v["lag_seconds"], v["peak_lag"], v["p99_lag"], v["replica_seconds"], v["scale_events"], v["peak_replicas"]}'
}

echo "eventworker vs KEDA (Kafka scaler + HPA, documented defaults), lagThreshold $LAG_THRESHOLD ${EXTRA[*]}"
echo "target: eventworker lag-s <= 0.50x KEDA, replica-s <= 1.00x KEDA, fewer scale events"
echo
printf '%-18s %-11s %12s %9s %9s %10s %7s %8s\n' trace policy lag-s peak-lag p99-lag replica-s events peak-rep
declare -A EW
misses=0
rows=()
for trace in "${TRACES[@]}"; do
  name=$(basename "$trace" .csv)
  read -r el ep e9 er ee epr < <(run "$trace" eventworker "$LAG_THRESHOLD")
  read -r kl kp k9 kr ke kpr < <(run "$trace" keda "$LAG_THRESHOLD")
  EW[$name]="$el $er $ee"
  printf '%-18s %-11s %12s %9s %9s %10s %7s %8s\n' "$name" eventworker "$el" "$ep" "$e9" "$er" "$ee" "$epr"
  printf '%-18s %-11s %12s %9s %9s %10s %7s %8s\n' "" keda "$kl" "$kp" "$k9" "$kr" "$ke" "$kpr"
  verdict=$(awk -v el="$el" -v kl="$kl" -v er="$er" -v kr="$kr" -v ee="$ee" -v ke="$ke" 'BEGIN {
    lr = kl > 0 ? el / kl : (el > 0 ? 1e9 : 0); rr = kr > 0 ? er / kr : 0
    ok = (lr <= 0.5 && rr <= 1.0 && ee < ke)
    printf "%.2fx %.2fx %s", lr, rr, ok ? "met" : "MISSED"
  }')
  read -r lr rr ok <<<"$verdict"
  [ "$ok" = met ] || misses=$((misses + 1))
  rows+=("$(printf '%-18s %14s %16s %12s %8s' "$name" "$lr" "$rr" "$ee vs $ke" "$ok")")
done
echo
printf '%-18s %14s %16s %12s %8s\n' trace "lag-s ew/keda" "replica-s ew/keda" "events" target
printf '%s\n' "${rows[@]}"

echo
echo "KEDA model swept over lagThreshold (eventworker at $LAG_THRESHOLD for reference)"
printf '%-18s %-16s %12s %10s %7s\n' trace policy lag-s replica-s events
for trace in "${TRACES[@]}"; do
  name=$(basename "$trace" .csv)
  read -r el er ee <<<"${EW[$name]}"
  printf '%-18s %-16s %12s %10s %7s\n' "$name" "eventworker@$LAG_THRESHOLD" "$el" "$er" "$ee"
  for t in 10 100 1000 10000; do
    read -r kl _ _ kr ke _ < <(run "$trace" keda "$t")
    printf '%-18s %-16s %12s %10s %7s\n' "" "keda@$t" "$kl" "$kr" "$ke"
  done
done
echo
if [ "$misses" -eq 0 ]; then echo "all targets met"; else echo "targets missed on $misses trace(s)"; fi
