# Shared by the lab scripts and the Docker recipe (source it): reads phones.tsv into arrays.
# PHONE_NAME[i] PHONE_INDEX[i] PHONE_KIND[i] PHONE_VOICE[i] PHONE_ANSWER[i] PHONE_NUMBER[i] ("-": none)
# PHONE_SIP_PORT[i] PHONE_CTRL_PORT[i] PHONE_RTP_FIRST[i] PHONE_RTP_LAST[i]
PHONES_DIR=${PHONES_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}

load_phones() {
  PHONE_NAME=() PHONE_INDEX=() PHONE_KIND=() PHONE_VOICE=() PHONE_ANSWER=() PHONE_NUMBER=()
  PHONE_SIP_PORT=() PHONE_CTRL_PORT=() PHONE_RTP_FIRST=() PHONE_RTP_LAST=()
  local name index kind voice answer number extra
  local -A seen=()
  while read -r name index kind voice answer number extra; do
    number=${number:--}
    [[ -z $name || $name == \#* ]] && continue
    if [[ ! $name =~ ^[a-z0-9-]+$ || ! $index =~ ^[0-9]+$ || ! $number =~ ^([0-9]{2,15}|-)$ || -n $extra ]]; then
      echo "phones.tsv: bad row '$name $index $kind $voice $answer $number $extra'" >&2
      return 1
    fi
    case $kind in
      baresip | sipp-busy | absent) ;;
      *) echo "phones.tsv: unknown kind '$kind' for $name" >&2; return 1 ;;
    esac
    if [[ -n ${seen[$index]:-} ]]; then
      echo "phones.tsv: index $index used by both ${seen[$index]} and $name" >&2
      return 1
    fi
    seen[$index]=$name
    PHONE_NAME+=("$name") PHONE_INDEX+=("$index") PHONE_KIND+=("$kind")
    PHONE_VOICE+=("$voice") PHONE_ANSWER+=("$answer") PHONE_NUMBER+=("$number")
    PHONE_SIP_PORT+=($((5200 + index))) PHONE_CTRL_PORT+=($((6200 + index)))
    PHONE_RTP_FIRST+=($((30000 + 10 * index))) PHONE_RTP_LAST+=($((30000 + 10 * index + 9)))
  done <"$PHONES_DIR/phones.tsv"
}
