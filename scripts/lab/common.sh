# Shared by up.sh, down.sh and restart-asterisk.sh (sourced): paths, progress output, failure
# reporting, process start/stop by pid, and readiness probes. See docker/README.md for why
# the lab is a Debian sid chroot.

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
DOCKER_DIR=$REPO/docker
CACHE_DIR=${DIALBACK_LAB_CACHE:-$HOME/.cache/dialback-lab}
ROOT=$CACHE_DIR/root
LAB_DIR=${DIALBACK_LAB_DIR:-$CACHE_DIR/run}
STATE_FILE=$LAB_DIR/lab-state.json
ARI_URL=http://127.0.0.1:8088
ARI_USER=dialback
ARI_PASSWORD=dialback
AMI_PORT=5038
AMI_USER=dialback
AMI_SECRET=dialback
READY_TIMEOUT=${DIALBACK_LAB_READY_TIMEOUT:-60}
T0=${EPOCHREALTIME/,/.}
SCRIPT_NAME=${SCRIPT_NAME:-lab}

elapsed() { awk -v a="$T0" -v b="${EPOCHREALTIME/,/.}" 'BEGIN { printf "%6.1fs", b - a }'; }
step() { echo "[$SCRIPT_NAME $(elapsed)] $*"; }
die() {
  echo "[$SCRIPT_NAME $(elapsed)] FAILED: $*" >&2
  exit 1
}

require_root() {
  [[ $(id -u) -eq 0 ]] || die "the lab needs root (debootstrap, chroot, mount); run as root"
}

# The start time of a process (clock ticks since boot), stored next to its pid so that a pid
# recycled by another process is never signalled.
proc_start() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  # shellcheck disable=SC2086
  set -- $stat
  # a zombie (state Z) has exited; it only waits for its parent to reap it
  [[ $1 != Z ]] || return 1
  echo "${20}"
}

pid_is_ours() { # pid_is_ours PID START
  [[ -n $1 && $1 != null && $(proc_start "$1" 2>/dev/null) == "$2" ]]
}

# stop_pid NAME PID START: TERM, wait up to 10 s, then KILL; only if PID is still that process.
stop_pid() {
  local name=$1 pid=$2 start=$3 i
  if ! pid_is_ours "$pid" "$start"; then
    step "$name (pid $pid) already gone"
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do
    pid_is_ours "$pid" "$start" || {
      step "stopped $name (pid $pid)"
      return 0
    }
    # a child of this shell (restart-asterisk) must be reaped, or it stays a zombie
    wait "$pid" 2>/dev/null || true
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  sleep 0.2
  pid_is_ours "$pid" "$start" && die "$name (pid $pid) survived SIGKILL"
  step "killed $name (pid $pid) after 10 s without exiting on TERM"
}

is_mounted() { awk -v m="$1" '$2 == m { found = 1 } END { exit !found }' /proc/mounts; }

# start_in_root LOG CMD...: start CMD inside the chroot, detached from this shell's session,
# and print its pid (setsid and chroot exec, so the pid is the program's own).
start_in_root() {
  local log=$1
  shift
  setsid chroot "$ROOT" "$@" </dev/null >>"$log" 2>&1 &
  echo $!
}

start_asterisk() {
  mkdir -p "$ROOT/var/run/asterisk" "$LAB_DIR/logs"
  rm -f "$ROOT/var/run/asterisk/asterisk.ctl" "$ROOT/var/run/asterisk/asterisk.pid"
  ASTERISK_PID=$(start_in_root "$LAB_DIR/logs/asterisk.out" asterisk -f)
  sleep 0.05
  ASTERISK_START=$(proc_start "$ASTERISK_PID") ||
    die "Asterisk exited at once; see $LAB_DIR/logs/asterisk.out"
}

# wait_until SECONDS DESCRIPTION CMD...: retry CMD every 0.2 s; die naming DESCRIPTION.
wait_until() {
  local timeout=$1 what=$2
  shift 2
  local deadline
  deadline=$(awk -v t="${EPOCHREALTIME/,/.}" -v d="$timeout" 'BEGIN { printf "%d", t + d }')
  until "$@" >/dev/null 2>&1; do
    if ((${EPOCHREALTIME%[.,]*} >= deadline)); then
      die "$what did not answer within ${timeout}s"
    fi
    if [[ -n ${ASTERISK_PID:-} ]] && ! pid_is_ours "$ASTERISK_PID" "$ASTERISK_START"; then
      die "Asterisk (pid $ASTERISK_PID) exited while waiting for $what; see $LAB_DIR/logs/asterisk.out and $LAB_DIR/logs/asterisk/messages.log"
    fi
    sleep 0.2
  done
}

ari_ready() {
  curl -sf --max-time 2 -u "$ARI_USER:$ARI_PASSWORD" "$ARI_URL/ari/asterisk/info" | grep -q '"system"'
}

# AMI answers a login with "Response: Success" (bash /dev/tcp: no extra tool needed).
ami_ready() {
  local line ok=1
  exec 3<>"/dev/tcp/127.0.0.1/$AMI_PORT" || return 1
  printf 'Action: Login\r\nUsername: %s\r\nSecret: %s\r\nEvents: off\r\n\r\n' "$AMI_USER" "$AMI_SECRET" >&3
  while IFS= read -r -t 3 line <&3; do
    case $line in
      Response:\ Success*) ok=0 && break ;;
      Response:\ Error*) break ;;
    esac
  done
  printf 'Action: Logoff\r\n\r\n' >&3 2>/dev/null || true
  exec 3<&- 3>&-
  return $ok
}

tcp_listening() { ss -Htln "sport = :$1" | grep -q .; }
udp_bound() { ss -Hunl "sport = :$1" | grep -q .; }

# port_holder PROTO PORT: prints who holds the port, if anyone
port_holder() {
  if [[ $1 == tcp ]]; then ss -Htlnp "sport = :$2"; else ss -Hulnp "sport = :$2"; fi
}

# state_get EXPR: evaluate a JS expression over the state file `s` (node is the project runtime)
state_get() {
  node -e 'const s = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    const v = (new Function("s", "return (" + process.argv[2] + ")"))(s);
    if (Array.isArray(v)) console.log(v.join("\n")); else if (v !== undefined && v !== null) console.log(v);' \
    "$STATE_FILE" "$1"
}
