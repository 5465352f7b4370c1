#!/usr/bin/env bash
# `make docs`: rewrites the generated parts of docs/SPEC.md, the op reference (`runner ops`) and
# the key reference (`runner keys`), between their <!-- NAME:begin --> and <!-- NAME:end -->
# markers.  test_spec fails while they differ from what the runner prints.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNNER=${RUNNER:-build/runner}
doc=docs/SPEC.md
tmp="$(mktemp)"
trap 'rm -f "$tmp" "$tmp.part"' EXIT
cp "$doc" "$tmp"
for section in ops keys; do
    "$RUNNER" "$section" > "$tmp.part"
    awk -v begin="<!-- $section:begin -->" -v end="<!-- $section:end -->" -v part="$tmp.part" '
        $0 == begin { print; while ((getline line < part) > 0) print line; skip = 1; next }
        $0 == end { skip = 0 }
        !skip { print }' "$tmp" > "$tmp.new"
    mv "$tmp.new" "$tmp"
done
if cmp -s "$tmp" "$doc"; then echo "docs: $doc is up to date"; else cp "$tmp" "$doc"; echo "docs: $doc rewritten"; fi
