# Shared by the autoscaling benches (autoscale_compare.sh, autoscale_plots.sh).
# Source it after hack/lib.sh; it defines no side effects.

# modelSize NAME -> "PARTITIONS PER_REPLICA_RATE MAX_REPLICAS" of issue 18's model sizes.
modelSize() {
  case "$1" in
    default) echo "12 100 100" ;;
    large) echo "48 250 48" ;;
    *) die "unknown model $1 (default, large)" ;;
  esac
}

# modelOptions NAME -> the `eventworker simulate` options of that model.
modelOptions() {
  local partitions rate max
  read -r partitions rate max <<<"$(modelSize "$1")"
  echo "--partitions $partitions --per-replica-rate $rate --max-replicas $max"
}

# simulatorCli BUILD_DIR -> the eventworker CLI, or dies saying how to build it.
simulatorCli() {
  local cli="$1/operator/eventworker"
  # Brought up to date first: a stale binary prints an older policy's figures.
  [ -f "$1/CMakeCache.txt" ] && cmake --build "$1" --target eventworker >&2
  [ -x "$cli" ] || die "build first: cmake --preset default && cmake --build build --target eventworker"
  echo "$cli"
}
