#!/bin/sh
# Checks that every code block README.md takes from a source file shows that
# file as it is. In the README, the line
#
#   <!-- snippet: examples/readme_usage.cpp -->
#
# comes right before a fenced block; the block must equal the lines of that
# file between `// readme-snippet-begin` and `// readme-snippet-end`.
#
#   tests/readme_snippet.sh SOURCE_ROOT
#
# Exits 1 with a diff (README block against file) when one differs, and when
# the README names no snippet at all, so that losing the marker fails too.

set -eu

root=${1:?usage: readme_snippet.sh SOURCE_ROOT}
readme="$root/README.md"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

files=$(sed -n 's/^<!-- snippet: \(.*\) -->$/\1/p' "$readme")
if [ -z "$files" ]; then
  echo "readme_snippet: $readme has no <!-- snippet: FILE --> marker" >&2
  exit 1
fi

status=0
for file in $files; do
  # The fenced block that follows the marker, without its fences.
  awk -v marker="<!-- snippet: $file -->" '
    $0 == marker { armed = 1; next }
    armed && !inside && /^```/ { inside = 1; next }
    inside && /^```$/ { exit }
    inside { print }
  ' "$readme" >"$work/readme"
  if [ ! -f "$root/$file" ]; then
    echo "readme_snippet: README.md shows $file, which does not exist" >&2
    status=1
    continue
  fi
  awk '
    /^\/\/ readme-snippet-end$/ { exit }
    inside { print }
    /^\/\/ readme-snippet-begin$/ { inside = 1 }
  ' "$root/$file" >"$work/source"
  if [ ! -s "$work/source" ]; then
    echo "readme_snippet: $file has no readme-snippet-begin/end region" >&2
    status=1
  elif ! diff -u --label "README.md ($file block)" --label "$file" \
         "$work/readme" "$work/source"; then
    echo "readme_snippet: README.md's block differs from $file;" \
         "copy the region between the markers into the README" >&2
    status=1
  else
    echo "readme_snippet: README.md shows $file as it is"
  fi
done
exit $status
