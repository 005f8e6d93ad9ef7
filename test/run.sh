#!/usr/bin/env bash
# Runs every test file. Node 20's test runner has no glob support and passes silently when it
# finds nothing, so the files are listed explicitly and their count is checked.
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(find test plugins -name '*.test.ts' -not -path '*/node_modules/*' | sort)
if [ "${#files[@]}" -eq 0 ]; then echo "no test files found" >&2; exit 1; fi
echo "running ${#files[@]} test files"
exec node --import tsx --test --test-reporter=spec --test-concurrency=2 "$@" "${files[@]}"
