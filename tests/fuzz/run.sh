#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Runs a fuzz harness from a scratch copy of its checked-in corpus (new
# inputs never land in the source tree):
#   tests/fuzz/run.sh BIN SECONDS [libFuzzer args]
# BIN xnb-fuzz-rx uses tests/fuzz/corpus, xnb-fuzz-tx tests/fuzz/corpus-tx.
# A finding leaves its input in the scratch directory and fails the run.
set -euo pipefail
bin=$(realpath "$1")
secs=$2
shift 2
name=$(basename "$bin")
here=$(cd "$(dirname "$0")" && pwd)
case $name in
*-tx) corpus=$here/corpus-tx; max_len=73728 ;;
*) corpus=$here/corpus; max_len=40960 ;;
esac
work=$(mktemp -d /tmp/xnb-fuzz.XXXXXX)
cp "$corpus"/* "$work"/
mkdir "$work/new"
cd "$work"
set +e
"$bin" -max_total_time="$secs" -max_len=$max_len -print_final_stats=1 \
	-artifact_prefix="$work/" "$@" new "$work" 2>&1 | tee "$work/log" |
	grep -E '^(stat::|==[0-9]+==ERROR|SUMMARY|Done)|DONE|crash-|leak-|timeout-|xnb-fuzz:|runtime error'
rc=${PIPESTATUS[0]}
set -e
if [ "$rc" -ne 0 ]; then
	echo "FAIL: $name exited $rc; input and log kept in $work" >&2
	exit 1
fi
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log")
if [ -z "$execs" ] || [ "$execs" -lt 1000 ]; then
	echo "FAIL: only '${execs}' executions in ${secs} s" >&2
	exit 1
fi
echo "$name: $execs executions in $secs s, no finding"
rm -rf "$work"
