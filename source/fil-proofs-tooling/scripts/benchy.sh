#!/usr/bin/env bash
# FIXTURE of rust-fil-proofs' fil-proofs-tooling/scripts/benchy.sh (written for these tests,
# behaving as that script does): benchy runs under GNU time (`env time`, /usr/bin/time or
# gtime, whichever says GNU), time's format string is a JSON object holding
# "max-resident-set-size-kb" under benchmarks.outputs, and jq -s '.[0] * .[1]' merges it into
# benchy's report, pretty-printed. Quirks kept: benchy's own stderr goes to the same file as
# time's report (a benchy that logs to stderr breaks the merge), and a failure prints debug
# output to stderr but the script still exits 0, so only a missing metric shows it.
command -v jq >/dev/null || { echo "error: jq" >&2; exit 1; }

report=$(mktemp)
timed=$(mktemp)
gnutime="env time"
if [[ $(env time --version 2>&1) != *GNU* ]]; then
  if [[ $(/usr/bin/time --version 2>&1) == *GNU* ]]; then gnutime=/usr/bin/time
  elif [[ $(gtime --version 2>&1) == *GNU* ]]; then gnutime=gtime
  else echo "error: GNU time not installed" >&2; exit 1
  fi
fi
cmd="$gnutime -f '{ \"benchmarks\": { \"outputs\": { \"max-resident-set-size-kb\": %M } } }' /nix/store/lsffdd4ad5lhli9rsbrgphr21lcm1v1k-rust-fil-proofs-sector-bench-bb3b02c57b28/bin/benchy $*"
eval "RUST_BACKTRACE=1 $cmd" > "$report" 2> "$timed"
timed_rc=$?
jq -s '.[0] * .[1]' "$report" "$timed"
jq_rc=$?
if [ "$timed_rc" -ne 0 ] || [ "$jq_rc" -ne 0 ]; then
  {
    echo "benchy failed: $cmd"
    echo "--- time and benchy stderr:"; cat "$timed"
    echo "--- benchy stdout:"; cat "$report"
  } >&2
fi
