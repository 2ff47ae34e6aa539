#!/usr/bin/env bash
# Plots (issue 18): for every trace in hack/bench/traces/, lag and replicas of
# the eventworker policy and of the KEDA + HPA model over time, in one PNG per
# trace (lag on the left axis, replicas on the right), through `eventworker
# simulate --csv` and gnuplot (gnuplot-nox); with FORMAT=text, a text plot per
# trace on standard output instead (plot_text.py: four rows, lag and replicas
# of both policies, for notes and terminals).
# Usage: hack/bench/autoscale_plots.sh OUT_DIR [BUILD_DIR] [-- extra simulate options]
#   MODEL=default|large (default: default), THRESHOLD (default: 1000),
#   FORMAT=png|text (default: png), WIDTH (text columns, default: 90).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../lib.sh"
. "$HERE/autoscale_lib.sh"
OUT=${1:?usage: autoscale_plots.sh OUT_DIR [BUILD_DIR] [-- extra simulate options]}
BUILD=${2:-$REPO_DIR/build}
shift $(( $# < 2 ? $# : 2 ))
[ "${1:-}" = "--" ] && shift
EXTRA=("$@")
CLI=$(simulatorCli "$BUILD")
FORMAT=${FORMAT:-png}
case "$FORMAT" in
  png) command -v gnuplot >/dev/null || die "needs gnuplot (apt-get install gnuplot-nox), or FORMAT=text" ;;
  text) ;;
  *) die "FORMAT must be png or text, not $FORMAT" ;;
esac
MODEL=${MODEL:-default}
THRESHOLD=${THRESHOLD:-1000}
modelSize "$MODEL" >/dev/null  # dies on an unknown name
read -r -a OPTIONS <<<"$(modelOptions "$MODEL")"
mkdir -p "$OUT"
for trace in "$HERE"/traces/*.csv; do
  name=$(basename "$trace" .csv)
  for policy in eventworker keda; do
    "$CLI" simulate --trace "$trace" --policy "$policy" --lag-threshold "$THRESHOLD" "${OPTIONS[@]}" "${EXTRA[@]}" \
      --csv "$OUT/$name-$policy.csv" >/dev/null
  done
  if [ "$FORMAT" = text ]; then
    python3 "$HERE/plot_text.py" "$name (model $MODEL, lagThreshold $THRESHOLD)" \
      "$OUT/$name-eventworker.csv" "$OUT/$name-keda.csv" "${WIDTH:-90}"
    continue
  fi
  gnuplot <<GNUPLOT
set datafile separator ','
set terminal png size 1400,600
set output '$OUT/$name.png'
set title "$name: model $MODEL, lagThreshold $THRESHOLD" noenhanced
set key top left
set xlabel 'seconds'
set ylabel 'lag (messages)'
set y2label 'replicas'
set ytics nomirror
set y2tics
set yrange [0:*]
set y2range [0:*]
plot '$OUT/$name-keda.csv' using 1:4 skip 1 with lines lw 1 lc rgb '#e6a0a0' title 'KEDA lag' axes x1y1, \
     '$OUT/$name-eventworker.csv' using 1:4 skip 1 with lines lw 1 lc rgb '#90b0e0' title 'eventworker lag' axes x1y1, \
     '$OUT/$name-keda.csv' using 1:5 skip 1 with steps lw 2 lc rgb '#c00000' title 'KEDA replicas' axes x1y2, \
     '$OUT/$name-eventworker.csv' using 1:5 skip 1 with steps lw 2 lc rgb '#0040c0' title 'eventworker replicas' axes x1y2
GNUPLOT
  echo "$OUT/$name.png"
done
