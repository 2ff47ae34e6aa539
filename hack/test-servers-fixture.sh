#!/usr/bin/env bash
# ctest fixture: "up STATE" starts the servers (clearing leftovers of a killed
# earlier run first); "down STATE" stops them.
set -euo pipefail
HACK=$(cd "$(dirname "$0")" && pwd)
case "$1" in
  up) bash "$HACK/servers-down.sh" "$2"; exec bash "$HACK/servers-up.sh" "$2" ;;
  down) exec bash "$HACK/servers-down.sh" "$2" ;;
  *) echo "usage: $0 up|down STATE_DIR" >&2; exit 2 ;;
esac
