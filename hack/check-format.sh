#!/usr/bin/env bash
# Fails when a C++ file of the tree differs from what clang-format makes of it
# with the checked-in .clang-format, and names the files. Run
# `git ls-files '*.cpp' '*.h' | xargs clang-format -i` to fix them.
set -euo pipefail
cd "${1:-$(dirname "$0")/..}"
command -v clang-format >/dev/null || { echo "clang-format is not installed (hack/deps.sh installs it)" >&2; exit 77; }
bad=()
while IFS= read -r f; do
  clang-format --dry-run --Werror "$f" 2>/dev/null || bad+=("$f")
done < <(git ls-files '*.cpp' '*.hpp' '*.h')
if [ ${#bad[@]} -gt 0 ]; then
  printf 'not formatted (clang-format -i FILE):\n'; printf '  %s\n' "${bad[@]}"; exit 1
fi
echo "all $(git ls-files '*.cpp' '*.hpp' '*.h' | wc -l) C++ files formatted"
