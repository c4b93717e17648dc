#!/usr/bin/env bash
# npm run lab:down — stops exactly the processes listed in <labdir>/lab-state.json (TERM, wait,
# KILL; never by name), unmounts the lab dir and proc from the root, removes the state file.
# The cached root and the lab dir (voices, recordings, logs) stay for the next bring-up.
set -euo pipefail
SCRIPT_NAME=lab:down
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
require_root

if [[ -d $LAB_DIR ]]; then
  LAB_DIR=$(cd "$LAB_DIR" && pwd -P)
  STATE_FILE=$LAB_DIR/lab-state.json
fi

MOUNTS=("$ROOT$LAB_DIR" "$ROOT/proc")
if [[ -f $STATE_FILE ]]; then
  # Phones first, Asterisk last: hang-ups then reach Asterisk as normal BYEs.
  procs=$(state_get 's.processes.slice().reverse().map(p => p.name + " " + p.pid + " " + p.pidStart)') ||
    die "cannot read $STATE_FILE"
  while read -r name pid start; do
    [[ -n $name ]] && stop_pid "$name" "$pid" "$start"
  done <<<"$procs"
  mapfile -t MOUNTS < <(state_get 's.mounts')
else
  step "no state file at $STATE_FILE: nothing to stop"
fi

for m in "${MOUNTS[@]}"; do
  if is_mounted "$m"; then
    umount "$m" || umount -l "$m" || die "cannot unmount $m"
    step "unmounted $m"
  fi
done
rm -f "$STATE_FILE"
step "lab down"
