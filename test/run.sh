#!/usr/bin/env bash
# Runs the tests: `fast` (no Docker Engine: the daemon on the fake backend, parsers, HTTP),
# `runtime` (the Jina runtime's processes, no engine), `engine` (the real Docker Engine, and the
# /docs page in a real browser), `swarm` (the Swarm backend: a single-node Swarm on the engine,
# then a three-node cluster made by scripts/swarm-cluster.sh; one file at a time, after the rest,
# since a cluster is three more engines on the machine), or `all` (in that order).
# Node 20's test runner has no glob support and passes silently when it finds nothing, so the
# files are listed explicitly and their count is checked.
set -euo pipefail
cd "$(dirname "$0")/.."
suite="${1:-all}"
shift || true
runner=(node --import tsx --test --test-reporter=spec --test-concurrency=2)

files_of() {
  case "$1" in
    fast) find test plugins -name '*.test.ts' -not -name '*.docker.test.ts' -not -name '*.browser.test.ts' -not -path 'test/runtime/*' -not -path '*/node_modules/*' | sort ;;
    runtime) find test/runtime -name '*.test.ts' | sort ;;
    engine) find test plugins \( -name '*.docker.test.ts' -o -name '*.browser.test.ts' \) -not -path '*/node_modules/*' -not -path 'test/swarm/*' | sort ;;
    swarm) find test/swarm -name '*.docker.test.ts' | sort -r ;;  # swarm.docker.test.ts (one node) first
  esac
}

run() {
  local which="$1"
  shift
  mapfile -t files < <(files_of "$which")
  if [ "${#files[@]}" -eq 0 ]; then echo "no $which test files found" >&2; exit 1; fi
  echo "running ${#files[@]} $which test files"
  if [ "$which" = swarm ]; then
    "${runner[@]}" --test-concurrency=1 "$@" "${files[@]}"
  elif [ "$which" != engine ]; then
    # These suites must not need an engine: point Docker nowhere.
    DOCKER_HOST=unix:///nonexistent/docker.sock "${runner[@]}" "$@" "${files[@]}"
  else
    "${runner[@]}" "$@" "${files[@]}"
  fi
}

case "$suite" in
  fast | runtime | engine | swarm) run "$suite" "$@" ;;
  all)
    status=0
    for s in fast runtime engine swarm; do run "$s" "$@" || status=$?; done
    exit $status ;;
  *) echo "usage: test/run.sh [fast|runtime|engine|swarm|all] [node --test flags]" >&2; exit 2 ;;
esac
