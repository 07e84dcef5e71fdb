#!/usr/bin/env bash
# Applies the project's C++ style (.clang-format) to every C++ file in the
# repository, or with --check lists the files that differ and exits 1.
# Usage: tools/format.sh [--check]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# One clang-format version: its output differs between releases.
format=${CLANG_FORMAT:-clang-format-14}
command -v "$format" >/dev/null || {
  echo "qvae: error: $format not found, tools/format.sh, install it with tools/setup.sh --no-build" >&2; exit 2; }
mapfile -t files < <(cd "$root" && find src include tests tools -type f \( -name '*.cpp' -o -name '*.hpp' \) | sort)
cd "$root"
if [ "${1:-}" = "--check" ]; then
  bad=()
  for f in "${files[@]}"; do
    "$format" --style=file "$f" | cmp -s - "$f" || bad+=("$f")
  done
  if ((${#bad[@]})); then
    printf 'not formatted (run tools/format.sh): %s\n' "${bad[@]}" >&2
    exit 1
  fi
  echo "format: ${#files[@]} files follow .clang-format" >&2
else
  "$format" -i --style=file "${files[@]}"
fi
