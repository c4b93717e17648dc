#!/usr/bin/env bash
# Restarts the lab's Asterisk alone (the lab tests cut Asterisk mid-call): stops the pid in
# lab-state.json, optionally stays down for --pause SECONDS, starts it again, waits until ARI
# and AMI answer, and updates the state file. The phones keep running.
set -euo pipefail
SCRIPT_NAME=lab:restart-asterisk
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

PAUSE=0
while (($#)); do
  case $1 in
    --pause)
      PAUSE=${2:?--pause needs a number of seconds}
      shift 2
      ;;
    *) die "unknown argument '$1' (known: --pause SECONDS)" ;;
  esac
done

require_root
LAB_DIR=$(cd "$LAB_DIR" 2>/dev/null && pwd -P) || die "no lab dir; run npm run lab:up first"
STATE_FILE=$LAB_DIR/lab-state.json
[[ -f $STATE_FILE ]] || die "no state file at $STATE_FILE; run npm run lab:up first"

read -r old_pid old_start < <(state_get 's.asterisk.pid + " " + s.asterisk.pidStart')
stop_pid asterisk "$old_pid" "$old_start"
if [[ $PAUSE != 0 ]]; then
  step "Asterisk stays down for ${PAUSE}s"
  sleep "$PAUSE"
fi

step "starting Asterisk again"
start_asterisk
node -e 'const fs = require("fs");
  const [file, pid, start] = process.argv.slice(1);
  const s = JSON.parse(fs.readFileSync(file, "utf8"));
  s.asterisk.pid = Number(pid);
  s.asterisk.pidStart = Number(start);
  for (const p of s.processes) if (p.name === "asterisk") { p.pid = Number(pid); p.pidStart = Number(start); }
  s.asteriskRestartedAt = new Date().toISOString();
  fs.writeFileSync(file + ".tmp", JSON.stringify(s, null, 2) + "\n");
  fs.renameSync(file + ".tmp", file);' "$STATE_FILE" "$ASTERISK_PID" "$ASTERISK_START" ||
  die "could not update $STATE_FILE with the new Asterisk pid $ASTERISK_PID"

wait_until "$READY_TIMEOUT" "ARI ($ARI_URL/ari/asterisk/info)" ari_ready
wait_until "$READY_TIMEOUT" "AMI login on 127.0.0.1:$AMI_PORT" ami_ready
step "Asterisk back (pid $ASTERISK_PID); ARI and AMI answer"
