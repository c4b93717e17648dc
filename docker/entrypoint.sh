#!/usr/bin/env bash
# Container entrypoint: "asterisk" runs Asterisk in the foreground; "phones" runs every phone of
# softphones/phones.tsv (baresip, or SIPp for the busy customer) and exits when one of them dies.
set -euo pipefail
LAB_DIR=${LAB_DIR:-/lab}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

case ${1:-asterisk} in
  asterisk)
    mkdir -p /var/run/asterisk "$LAB_DIR/logs/asterisk"
    # root, as in the chroot lab (no -U)
    exec asterisk -f
    ;;
  phones)
    # shellcheck source=softphones/phones.sh
    source "$HERE/softphones/phones.sh"
    load_phones
    mkdir -p "$LAB_DIR/recordings" "$LAB_DIR/logs"
    for i in "${!PHONE_NAME[@]}"; do
      n=${PHONE_NAME[$i]}
      case ${PHONE_KIND[$i]} in
        baresip) baresip -f "$LAB_DIR/phones/$n" </dev/null >"$LAB_DIR/logs/$n.log" 2>&1 & ;;
        sipp-busy)
          sipp -sf "$HERE/softphones/busy-uas.xml" -i 127.0.0.1 -p "${PHONE_SIP_PORT[$i]}" \
            -mi 127.0.0.1 -mp "${PHONE_RTP_FIRST[$i]}" -nostdin </dev/null >"$LAB_DIR/logs/$n.log" 2>&1 &
          ;;
        absent) continue ;;
      esac
      echo "started $n (${PHONE_KIND[$i]}, sip ${PHONE_SIP_PORT[$i]}, pid $!)"
    done
    wait -n
    echo "a phone exited; stopping" >&2
    exit 1
    ;;
  *)
    echo "usage: entrypoint.sh asterisk|phones" >&2
    exit 2
    ;;
esac
