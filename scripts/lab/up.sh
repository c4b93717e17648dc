#!/usr/bin/env bash
# npm run lab:up — brings up the telephony lab: a cached Debian sid chroot running
# Asterisk 22 (ARI + AMI), one baresip softphone per row of docker/softphones/phones.tsv, and
# SIPp for the busy customer; writes <labdir>/lab-state.json for the lab tests.
# Idempotent: a healthy running lab is left as it is; a stale one is cleaned first.
# Options: --restart (stop a running lab and start again).
# Env: DIALBACK_LAB_CACHE, DIALBACK_LAB_DIR, DIALBACK_LAB_MIRROR, DIALBACK_LAB_KEEP_ON_FAILURE=1.
set -euo pipefail
SCRIPT_NAME=lab:up
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
# shellcheck source=../../docker/softphones/phones.sh
source "$DOCKER_DIR/softphones/phones.sh"

RESTART=0
for arg in "$@"; do
  case $arg in
    --restart) RESTART=1 ;;
    *) die "unknown argument '$arg' (known: --restart)" ;;
  esac
done

require_root
load_phones || die "docker/softphones/phones.tsv is invalid"
HOST_PACKAGES=(debootstrap espeak-ng sox sip-tester)
ROOT_PACKAGES=(asterisk baresip-core)
export DEBIAN_FRONTEND=noninteractive

# --- 1. an existing lab ------------------------------------------------------------------------
if [[ -f $STATE_FILE ]]; then
  healthy=1
  while read -r name pid start; do
    pid_is_ours "$pid" "$start" || {
      healthy=0
      step "stale state: $name (pid $pid) is not running"
    }
  done < <(state_get 's.processes.map(p => p.name + " " + p.pid + " " + p.pidStart)')
  if ((healthy && !RESTART)) && ari_ready; then
    step "lab already up (state file $STATE_FILE); use --restart to start it again"
    exit 0
  fi
  step "stopping the previous lab"
  bash "$REPO/scripts/lab/down.sh" || die "could not stop the previous lab (scripts/lab/down.sh)"
fi

# --- 2. host packages --------------------------------------------------------------------------
missing=()
for p in "${HOST_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  step "installing host packages: ${missing[*]}"
  if ! apt-get install -y -q --no-install-recommends "${missing[@]}" >"/tmp/dialback-lab-apt.log" 2>&1; then
    step "apt-get install failed; running apt-get update and retrying"
    apt-get update -q >>"/tmp/dialback-lab-apt.log" 2>&1 || die "apt-get update failed; see /tmp/dialback-lab-apt.log"
    apt-get install -y -q --no-install-recommends "${missing[@]}" >>"/tmp/dialback-lab-apt.log" 2>&1 ||
      die "apt-get install ${missing[*]} failed; see /tmp/dialback-lab-apt.log"
  fi
else
  step "host packages present: ${HOST_PACKAGES[*]}"
fi

# --- 3. the sid root (cached) ------------------------------------------------------------------
# The mirror is the one the machine's own apt sources name: read at run time.
host_mirror() {
  local f uri
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -f $f ]] || continue
    while read -r uri; do
      [[ $uri == *security* ]] && continue
      echo "$uri" && return 0
    done < <(awk 'tolower($1) == "uris:" { for (i = 2; i <= NF; i++) print $i }' "$f")
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -f $f ]] || continue
    uri=$(awk '$1 == "deb" && $0 !~ /security/ { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }' "$f")
    [[ $uri == *debian* ]] && echo "$uri" && return 0
  done
  return 1
}

# Never delete a root that still has something mounted inside (the lab dir is bind-mounted).
assert_nothing_mounted_under() {
  if awk -v r="$1/" 'index($2, r) == 1 { found = 1 } END { exit !found }' /proc/mounts; then
    die "something is still mounted under $1 (see /proc/mounts); run npm run lab:down first"
  fi
}

ROOT_STAMP=$ROOT/.dialback-lab-root
if [[ -f $ROOT_STAMP && $(cat "$ROOT_STAMP") == "${ROOT_PACKAGES[*]}" ]]; then
  step "reusing the sid root at $ROOT"
else
  MIRROR=${DIALBACK_LAB_MIRROR:-$(host_mirror)} ||
    die "no Debian mirror found in /etc/apt/sources.list.d/*.sources or sources.list; set DIALBACK_LAB_MIRROR"
  BUILD=$ROOT.partial
  assert_nothing_mounted_under "$BUILD"
  assert_nothing_mounted_under "$ROOT"
  rm -rf "$BUILD"
  mkdir -p "$CACHE_DIR"
  step "debootstrap --variant=minbase sid from $MIRROR (about 45 s; log $CACHE_DIR/debootstrap.log)"
  debootstrap --variant=minbase sid "$BUILD" "$MIRROR" >"$CACHE_DIR/debootstrap.log" 2>&1 ||
    die "debootstrap failed; see $CACHE_DIR/debootstrap.log"
  mount -t proc proc "$BUILD/proc" || die "mount proc in $BUILD"
  # the mirror serves a frozen sid whose Release file has "expired"
  APT_IN_ROOT=(chroot "$BUILD" apt-get -q -o Acquire::Check-Valid-Until=false)
  step "apt-get update inside the root"
  if ! "${APT_IN_ROOT[@]}" update >"$CACHE_DIR/root-apt.log" 2>&1; then
    umount "$BUILD/proc"
    die "apt-get update inside the root failed; see $CACHE_DIR/root-apt.log"
  fi
  step "apt-get install ${ROOT_PACKAGES[*]} inside the root (about 30 s)"
  if ! DEBIAN_FRONTEND=noninteractive "${APT_IN_ROOT[@]}" install -y --no-install-recommends \
    "${ROOT_PACKAGES[@]}" >>"$CACHE_DIR/root-apt.log" 2>&1; then
    umount "$BUILD/proc"
    die "apt-get install ${ROOT_PACKAGES[*]} inside the root failed; see $CACHE_DIR/root-apt.log"
  fi
  chroot "$BUILD" apt-get clean
  umount "$BUILD/proc" || die "umount $BUILD/proc"
  rm -rf "$ROOT"
  mv "$BUILD" "$ROOT"
  echo "${ROOT_PACKAGES[*]}" >"$ROOT_STAMP"
  step "sid root ready at $ROOT"
fi

# From here on a failure undoes what was done (mounts, processes): down.sh works from the state
# file, which is written as each process starts, and unmounts even without one.
on_failure() {
  local rc=$?
  ((rc)) || return 0
  if [[ ${DIALBACK_LAB_KEEP_ON_FAILURE:-0} != 1 ]]; then
    echo "[$SCRIPT_NAME] bring-up failed: undoing it (set DIALBACK_LAB_KEEP_ON_FAILURE=1 to keep it); logs stay in $LAB_DIR/logs" >&2
    bash "$REPO/scripts/lab/down.sh" >&2 || true
  fi
}
trap on_failure EXIT

# --- 4. prepare the root -----------------------------------------------------------------------
mkdir -p "$LAB_DIR"
LAB_DIR=$(cd "$LAB_DIR" && pwd -P)
STATE_FILE=$LAB_DIR/lab-state.json
is_mounted "$ROOT/proc" || mount -t proc proc "$ROOT/proc" || die "mount -t proc proc $ROOT/proc"
# The lab dir appears at the same path inside the root, so every path means the same in both.
mkdir -p "$ROOT$LAB_DIR"
is_mounted "$ROOT$LAB_DIR" || mount --bind "$LAB_DIR" "$ROOT$LAB_DIR" ||
  die "mount --bind $LAB_DIR $ROOT$LAB_DIR"
step "mounted proc and the lab dir ($LAB_DIR) in the root"

# Without network, every lookup of the host name blocks an Asterisk worker until it fails.
printf '127.0.0.1 localhost %s\n::1 localhost ip6-localhost ip6-loopback\n' "$(hostname)" >"$ROOT/etc/hosts"
# The packaged files belong to an asterisk uid that means something else outside the chroot,
# and Asterisk started with -U refused its own config: run it as root instead.
for d in /etc/asterisk /var/lib/asterisk /var/spool/asterisk /var/log/asterisk; do
  chown -R root:root "$ROOT$d"
done
mkdir -p "$ROOT/var/run/asterisk"

# The sounds come as en_US_f_Allison; `en` (what language en plays) is an alternatives link that
# a root built without the postinst, or an older root, lacks or leaves dangling: without it
# `sound:queue-periodic-announce` fails. Tested inside the root: the link is absolute there.
SOUNDS=/usr/share/asterisk/sounds
if [[ -d $ROOT$SOUNDS/en_US_f_Allison ]] && ! chroot "$ROOT" test -e "$SOUNDS/en/queue-periodic-announce.gsm"; then
  if [[ -d $ROOT$SOUNDS/en && ! -L $ROOT$SOUNDS/en ]]; then
    cp -rn "$ROOT$SOUNDS/en_US_f_Allison/." "$ROOT$SOUNDS/en/" || die "copying the sounds into $SOUNDS/en"
  else
    ln -sfn en_US_f_Allison "$ROOT$SOUNDS/en" || die "linking $SOUNDS/en to en_US_f_Allison"
  fi
  step "sounds: $SOUNDS/en now resolves to en_US_f_Allison"
fi

bash "$DOCKER_DIR/render.sh" "$ROOT/etc/asterisk" "$LAB_DIR" || die "rendering the configuration (docker/render.sh)"
step "configuration rendered into $ROOT/etc/asterisk and $LAB_DIR/phones"
bash "$DOCKER_DIR/softphones/make-voices.sh" "$LAB_DIR/voices" || die "generating voices (docker/softphones/make-voices.sh)"
step "voices ready in $LAB_DIR/voices"
mkdir -p "$LAB_DIR/recordings" "$LAB_DIR/logs"

# --- 5. ports must be free ---------------------------------------------------------------------
check_free() { # PROTO PORT WHAT
  local holder
  holder=$(port_holder "$1" "$2")
  [[ -z $holder ]] || die "$1 port $2 ($3) is already in use: $holder"
}
check_free tcp 8088 "Asterisk HTTP/ARI"
check_free tcp "$AMI_PORT" "Asterisk AMI"
check_free udp 5060 "Asterisk PJSIP"
for i in "${!PHONE_NAME[@]}"; do
  [[ ${PHONE_KIND[$i]} == absent ]] && continue
  check_free udp "${PHONE_SIP_PORT[$i]}" "SIP of ${PHONE_NAME[$i]}"
  [[ ${PHONE_KIND[$i]} == baresip ]] && check_free tcp "${PHONE_CTRL_PORT[$i]}" "ctrl_tcp of ${PHONE_NAME[$i]}"
done

# --- 6. start everything, writing the state as processes start (down.sh can always clean) ------
PROC_NAME=() PROC_PID=() PROC_START=()
PHONE_PID=()
json_str() { local s=${1//\\/\\\\}; printf '"%s"' "${s//\"/\\\"}"; }
write_state() {
  local i n first=1 tmp=$STATE_FILE.tmp
  {
    printf '{\n  "version": 1,\n  "startedAt": "%s",\n' "$(date -u +%FT%T.%3NZ)"
    printf '  "labDir": %s,\n  "root": %s,\n  "stateFile": %s,\n' "$(json_str "$LAB_DIR")" "$(json_str "$ROOT")" "$(json_str "$STATE_FILE")"
    printf '  "mounts": [%s, %s],\n' "$(json_str "$ROOT$LAB_DIR")" "$(json_str "$ROOT/proc")"
    printf '  "ari": { "url": "%s", "eventsUrl": "ws://127.0.0.1:8088/ari/events", "username": "%s", "password": "%s", "app": "dialback" },\n' "$ARI_URL" "$ARI_USER" "$ARI_PASSWORD"
    printf '  "ami": { "host": "127.0.0.1", "port": %s, "username": "%s", "secret": "%s" },\n' "$AMI_PORT" "$AMI_USER" "$AMI_SECRET"
    printf '  "asterisk": { "pid": %s, "pidStart": %s, "sipPort": 5060, "rtpPorts": [10000, 10999], "amdContext": "dialback-amd", "amdExtension": "s", "inboundContext": "dialback-inbound", "queue": "support", "log": %s, "output": %s },\n' \
      "${ASTERISK_PID:-null}" "${ASTERISK_START:-null}" "$(json_str "$LAB_DIR/logs/asterisk/messages.log")" "$(json_str "$LAB_DIR/logs/asterisk.out")"
    printf '  "phones": {'
    for i in "${!PHONE_NAME[@]}"; do
      n=${PHONE_NAME[$i]}
      ((first)) || printf ','
      first=0
      printf '\n    "%s": { "kind": "%s", "endpoint": "PJSIP/%s", "sipPort": %s' "$n" "${PHONE_KIND[$i]}" "$n" "${PHONE_SIP_PORT[$i]}"
      [[ ${PHONE_NUMBER[$i]} == - ]] || printf ', "number": "%s"' "${PHONE_NUMBER[$i]}"
      case ${PHONE_KIND[$i]} in
        baresip)
          printf ', "ctrlPort": %s, "rtpPorts": [%s, %s], "answer": "%s", "voice": %s, "recording": %s, "log": %s' \
            "${PHONE_CTRL_PORT[$i]}" "${PHONE_RTP_FIRST[$i]}" "${PHONE_RTP_LAST[$i]}" "${PHONE_ANSWER[$i]}" \
            "$(json_str "$LAB_DIR/voices/${PHONE_VOICE[$i]}.wav")" "$(json_str "$LAB_DIR/recordings/$n.wav")" "$(json_str "$LAB_DIR/logs/$n.log")"
          ;;
        sipp-busy)
          printf ', "ctrlPort": null, "answers": 486, "recording": null, "log": %s' "$(json_str "$LAB_DIR/logs/$n.log")"
          ;;
        absent) printf ', "ctrlPort": null, "recording": null' ;;
      esac
      printf ', "pid": %s }' "${PHONE_PID[$i]:-null}"
    done
    printf '\n  },\n  "processes": ['
    first=1
    for i in "${!PROC_NAME[@]}"; do
      ((first)) || printf ','
      first=0
      printf '\n    { "name": "%s", "pid": %s, "pidStart": %s }' "${PROC_NAME[$i]}" "${PROC_PID[$i]}" "${PROC_START[$i]}"
    done
    printf '\n  ]\n}\n'
  } >"$tmp"
  mv "$tmp" "$STATE_FILE"
}
track() { # NAME PID
  local start
  start=$(proc_start "$2") || die "$1 (pid $2) exited at once; see $LAB_DIR/logs/$1.log"
  PROC_NAME+=("$1") PROC_PID+=("$2") PROC_START+=("$start")
  write_state
}

write_state
step "starting Asterisk (chroot $ROOT asterisk -f)"
start_asterisk
track asterisk "$ASTERISK_PID"

for i in "${!PHONE_NAME[@]}"; do
  n=${PHONE_NAME[$i]}
  log=$LAB_DIR/logs/$n.log
  case ${PHONE_KIND[$i]} in
    baresip)
      : >"$log"
      PHONE_PID[i]=$(start_in_root "$log" baresip -f "$LAB_DIR/phones/$n")
      ;;
    sipp-busy)
      : >"$log"
      setsid sipp -sf "$DOCKER_DIR/softphones/busy-uas.xml" -i 127.0.0.1 -p "${PHONE_SIP_PORT[$i]}" \
        -mi 127.0.0.1 -mp "${PHONE_RTP_FIRST[$i]}" -nostdin -trace_err -error_file "$LAB_DIR/logs/$n-errors.log" </dev/null >>"$log" 2>&1 &
      PHONE_PID[i]=$!
      ;;
    absent) continue ;;
  esac
  sleep 0.02
  track "$n" "${PHONE_PID[$i]}"
done
step "started ${#PHONE_PID[@]} phones: ${PHONE_NAME[*]}"

# --- 7. wait until everything answers ----------------------------------------------------------
# ARI's HTTP server answers before every module is loaded: wait for "fully booted" first.
wait_until "$READY_TIMEOUT" "Asterisk boot (asterisk -rx 'core waitfullybooted')" \
  timeout 5 chroot "$ROOT" asterisk -rx 'core waitfullybooted'
step "Asterisk fully booted"
wait_until "$READY_TIMEOUT" "ARI ($ARI_URL/ari/asterisk/info)" ari_ready
step "ARI answers at $ARI_URL"
wait_until "$READY_TIMEOUT" "AMI login on 127.0.0.1:$AMI_PORT" ami_ready
step "AMI answers on 127.0.0.1:$AMI_PORT"
wait_until 10 "PJSIP on udp 127.0.0.1:5060" udp_bound 5060
for i in "${!PHONE_NAME[@]}"; do
  n=${PHONE_NAME[$i]}
  case ${PHONE_KIND[$i]} in
    baresip)
      wait_until 15 "softphone $n (udp ${PHONE_SIP_PORT[$i]})" udp_bound "${PHONE_SIP_PORT[$i]}"
      wait_until 15 "softphone $n ctrl_tcp (tcp ${PHONE_CTRL_PORT[$i]})" tcp_listening "${PHONE_CTRL_PORT[$i]}"
      ;;
    sipp-busy) wait_until 15 "SIPp $n (udp ${PHONE_SIP_PORT[$i]})" udp_bound "${PHONE_SIP_PORT[$i]}" ;;
    absent) ;;
  esac
done
step "all phones listen"
has_endpoint() { chroot "$ROOT" asterisk -rx "pjsip show endpoint $1" 2>/dev/null | grep -q "Endpoint:  *$1"; }
for n in "${PHONE_NAME[@]}"; do
  wait_until 10 "PJSIP endpoint $n in Asterisk (see $LAB_DIR/logs/asterisk/messages.log)" has_endpoint "$n"
done
step "Asterisk knows every endpoint ($(chroot "$ROOT" asterisk -rx 'core show version' | head -1))"

trap - EXIT
step "lab up; state file: $STATE_FILE"
