#!/usr/bin/env bash
# `make run`: the orchestrator (with its demo) on the local stack, in the foreground.
# Ctrl-C (or SIGTERM) stops the server, and the stack too if this script brought it up.
set -euo pipefail
cd "$(dirname "$0")/.."

stack_dir="${ORCHESTRATOR_STACK_STATE_DIR:-.stack}"
started_stack=0
if ! python3 scripts/stack.py status >/dev/null; then
  python3 scripts/stack.py up
  started_stack=1
fi
# shellcheck source=/dev/null
. "$stack_dir/env"

serve_pid=""
cleanup() {
  trap - EXIT INT TERM
  if [[ -n "$serve_pid" ]] && kill -0 "$serve_pid" 2>/dev/null; then
    kill -TERM "$serve_pid" 2>/dev/null || true
    # Give the server 15 s to shut down cleanly, then kill it.
    for _ in $(seq 150); do kill -0 "$serve_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$serve_pid" 2>/dev/null || true
    wait "$serve_pid" 2>/dev/null || true
  fi
  if [[ "$started_stack" == 1 ]]; then
    python3 scripts/stack.py down
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "run: ORCHESTRATOR_API_URL=$ORCHESTRATOR_API_URL (Ctrl-C stops)"
# In the background so that the traps above run as soon as a signal arrives.
.venv/bin/orchestrator serve --demo &
serve_pid=$!
wait "$serve_pid"
