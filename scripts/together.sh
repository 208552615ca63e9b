#!/usr/bin/env bash
# Run test commands side by side (make test uses it where one part mostly waits):
#   together.sh NAME 'command' [NAME 'command' ...]
# Each command's output goes to a file and is printed whole, in the order given, once
# it has ended (so the parts' lines do not interleave); the exit status is 1 when any
# command failed, and every command runs to its end either way.
set -u
if [ $# -lt 2 ] || [ $(($# % 2)) -ne 0 ]; then
  echo "usage: $0 NAME 'command' [NAME 'command' ...]" >&2
  exit 2
fi
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
names=() pids=()
while [ $# -gt 0 ]; do
  names+=("$1")
  ( start=$(date +%s); bash -c "$2"; rc=$?; echo "[together] $1 took $(( $(date +%s) - start )) s"; exit $rc ) >"$logs/${#names[@]}.log" 2>&1 &
  pids+=($!)
  echo "[together] started $1: $2"
  shift 2
done
status=0
for i in "${!pids[@]}"; do
  if wait "${pids[$i]}"; then result=passed; else result=FAILED; status=1; fi
  echo "[together] ---- ${names[$i]}: $result ----"
  cat "$logs/$((i + 1)).log"
done
exit $status
