#!/usr/bin/env bash
# Renders the lab configuration, used by scripts/lab/up.sh (chroot) and the Dockerfile:
#   render.sh ETC_ASTERISK_DIR LAB_DIR
# - docker/asterisk/*.conf → ETC_ASTERISK_DIR, with @LAB_DIR@ replaced
# - one pjsip endpoint + aor per phone of softphones/phones.tsv (and one per number column)
#   → ETC_ASTERISK_DIR/pjsip_phones.conf
# - one baresip folder (config, accounts) per baresip phone → LAB_DIR/phones/NAME/
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ETC=${1:?usage: render.sh ETC_ASTERISK_DIR LAB_DIR}
LAB_DIR=${2:?usage: render.sh ETC_ASTERISK_DIR LAB_DIR}
# shellcheck source=softphones/phones.sh
source "$HERE/softphones/phones.sh"
load_phones

mkdir -p "$ETC" "$LAB_DIR/phones" "$LAB_DIR/recordings" "$LAB_DIR/logs/asterisk"
for f in "$HERE"/asterisk/*.conf; do
  sed "s|@LAB_DIR@|$LAB_DIR|g" "$f" >"$ETC/$(basename "$f")"
done

{
  echo "; rendered by docker/render.sh from docker/softphones/phones.tsv — do not edit"
  for i in "${!PHONE_NAME[@]}"; do
    n=${PHONE_NAME[$i]}
    printf '\n[%s](lab-endpoint)\naors = %s\n\n[%s](lab-aor)\ncontact = sip:%s@127.0.0.1:%s\n' \
      "$n" "$n" "$n" "$n" "${PHONE_SIP_PORT[$i]}"
    num=${PHONE_NUMBER[$i]}
    # the same phone under its number (the contact keeps the phone's own user name)
    [[ $num == - ]] || printf '\n[%s](lab-endpoint)\naors = %s\n\n[%s](lab-aor)\ncontact = sip:%s@127.0.0.1:%s\n' \
      "$num" "$num" "$num" "$n" "${PHONE_SIP_PORT[$i]}"
  done
} >"$ETC/pjsip_phones.conf"

for i in "${!PHONE_NAME[@]}"; do
  [[ ${PHONE_KIND[$i]} == baresip ]] || continue
  n=${PHONE_NAME[$i]}
  d=$LAB_DIR/phones/$n
  mkdir -p "$d"
  sed -e "s|@NAME@|$n|g" -e "s|@SIP_PORT@|${PHONE_SIP_PORT[$i]}|g" \
    -e "s|@CTRL_PORT@|${PHONE_CTRL_PORT[$i]}|g" \
    -e "s|@RTP_FIRST@|${PHONE_RTP_FIRST[$i]}|g" -e "s|@RTP_LAST@|${PHONE_RTP_LAST[$i]}|g" \
    -e "s|@VOICE_FILE@|$LAB_DIR/voices/${PHONE_VOICE[$i]}.wav|g" \
    -e "s|@RECORDING@|$LAB_DIR/recordings/$n.wav|g" \
    "$HERE/softphones/baresip.config.in" >"$d/config"
  sed -e "s|@NAME@|$n|g" -e "s|@ANSWER@|${PHONE_ANSWER[$i]}|g" \
    "$HERE/softphones/baresip.accounts.in" >"$d/accounts"
done
