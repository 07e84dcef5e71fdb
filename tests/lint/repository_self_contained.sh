#!/usr/bin/env bash
# usage: repository_self_contained.sh [REPO_ROOT]
# The repository explains itself: no comment, doc, help text or config may point
# at files outside it (specification files, a sibling shared/ folder), at issue
# numbers, or at section numbers of documents it does not contain.  Science and
# contracts are in docs/*.md, referred to by file and section name.
set -u
root=${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
cd "$root" || { echo "cannot enter $root" >&2; exit 2; }
self=tests/lint/repository_self_contained.sh

# --- Not yet cleaned: these paths are being rewritten; remove each entry once it
# --- passes.  Nothing else may be added here.
not_yet_cleaned=(
)

# What is searched.
roots=(src include tests tools docs configs jobs README.md CMakeLists.txt cmake)

# Forbidden references (extended regular expressions), one per line.
patterns=(
  '[Ii]ssues? #?[0-9]+'                                              # issue numbers
  '\([Ii]ssue'                                                       # "(issue 7; ...)"
  '(^|[^/[:alnum:]_.-])(hpc|rbm-graphs-logz|calochallenge|dwave|model|ARCHITECTURE|style)\.md'  # outside spec files (ours are docs/NAME.md)
  '\.\./shared'                                                      # the sibling shared/ folder
  'shared/spec'
  '(^|[^[:alnum:]_])spec/'
  '§'                                                                # section numbers of outside documents
  '\[inferred\]'
)

existing=()
for r in "${roots[@]}"; do [ -e "$r" ] && existing+=("$r"); done

args=()
for p in "${patterns[@]}"; do args+=(-e "$p"); done

hits=$(grep -rnIE "${args[@]}" -- "${existing[@]}" 2>/dev/null | while IFS= read -r line; do
  path=${line%%:*}
  [ "$path" = "$self" ] && continue
  skip=0
  for prefix in "${not_yet_cleaned[@]}"; do
    case "$path" in "$prefix"*) skip=1; break ;; esac
  done
  [ "$skip" = 1 ] || printf '%s\n' "$line"
done)

if [ -n "$hits" ]; then
  printf '%s\n' "$hits"
  echo "repository_self_contained: $(printf '%s\n' "$hits" | wc -l) reference(s) outside the repository or to issue/section numbers;" \
       "explain the point in docs/*.md and refer to it by file and section name" >&2
  exit 1
fi
echo "repository_self_contained: ok"
