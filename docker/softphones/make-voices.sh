#!/usr/bin/env bash
# Generates the lab's voices (8 kHz mono 16-bit WAV) with espeak-ng + sox into OUTDIR.
# The voices steer Asterisk's AMD: "human" says "Hello?", is silent 1.5 s (AMD:
# HUMAN) and then keeps talking so an agent hears speech after the bridge; "machine" is a long
# greeting (AMD: MACHINE). Every file ends padded with silence so a call never runs out of audio.
set -euo pipefail
OUT=${1:?usage: make-voices.sh OUTDIR}
RECIPE_VERSION=2
mkdir -p "$OUT"
if [[ -f $OUT/.recipe && $(cat "$OUT/.recipe") == "$RECIPE_VERSION" ]]; then
  exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

say() { # say FILE TEXT: speech at 8 kHz mono 16-bit
  espeak-ng -s 150 -w "$tmp/raw-$1" "$2" || { echo "make-voices: espeak-ng failed for $1" >&2; exit 1; }
  sox "$tmp/raw-$1" -r 8000 -c 1 -b 16 "$tmp/$1" || { echo "make-voices: sox failed for $1" >&2; exit 1; }
}
silence() { # silence FILE SECONDS
  sox -n -r 8000 -c 1 -b 16 "$tmp/$1" trim 0 "$2"
}

say hello.wav "Hello?"
say talk.wav "Yes, this is the customer speaking. Thank you for calling me back about my order."
silence gap.wav 1.5
silence short.wav 0.7
# human: Hello? · 1.5 s silence · speech, repeated, then silence up to 120 s
sox "$tmp/hello.wav" "$tmp/gap.wav" "$tmp/talk.wav" "$tmp/short.wav" "$tmp/talk.wav" \
  "$tmp/short.wav" "$tmp/talk.wav" "$tmp/short.wav" "$tmp/talk.wav" "$tmp/human-body.wav"
sox "$tmp/human-body.wav" "$OUT/human.wav" pad 0 120

say greet.wav "Hello, you have reached the voicemail of Alex Martin. I am not available to take \
your call right now. Please leave your name, your number and a short message after the tone, \
and I will call you back as soon as I can. Thank you and have a nice day."
sox "$tmp/greet.wav" "$OUT/machine.wav" pad 0.2 110

sox -n -r 8000 -c 1 -b 16 "$OUT/silence.wav" trim 0 120

for n in 1 2 3 4; do
  say "agent$n.wav" "Hello, this is agent $n. How can I help you today?"
  sox "$tmp/agent$n.wav" "$tmp/short.wav" "$tmp/agent$n.wav" "$tmp/agent$n-body.wav"
  sox "$tmp/agent$n-body.wav" "$OUT/agent$n.wav" pad 0.3 110
done

echo "$RECIPE_VERSION" >"$OUT/.recipe"
