#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xennetback authors
#
# The simulator's xenstored through Debian's xenstore-utils, unchanged, the
# way an administrator would poke at it: write/read/ls/rm, permissions as
# xenstore-chmod sets them, a guest denied another guest's tree, and
# xenstore-watch seeing the initial fire and a change.
# usage: test_cli.sh xnb-simd xnb-simctl
set -u
SIMD=$1 SIMCTL=$2
. "$(dirname "$0")/../common/xnb_lib.sh" test_cli
T=$T_DIR
check() { eval "$2" || fail "$1"; }

sim_start
simctl create 1 --mem 64
simctl create 2 --mem 64
D0=$T/sim/xenstored.sock D1=$T/sim/xs-dom1.sock D2=$T/sim/xs-dom2.sock
as() { local s=$1; shift; XENSTORED_PATH=$s "$@"; }

check "write/read" '[ "$(as $D0 xenstore-write /tool/x/y hello && as $D0 xenstore-read /tool/x/y)" = hello ]'
check "list" '[ "$(as $D0 xenstore-list /tool/x)" = y ]'
check "exists" 'as $D0 xenstore-exists /tool/x/y'
check "rm" 'as $D0 xenstore-rm /tool/x && ! as $D0 xenstore-exists /tool/x/y 2>/dev/null'
check "ls shows the domain dirs" 'as $D0 xenstore-ls /local/domain | grep -q "^1 = "'
check "guest writes its own tree" 'as $D1 xenstore-write /local/domain/1/data/k v'
check "guest relative path" '[ "$(as $D1 xenstore-read data/k)" = v ]'
check "guest denied another guest tree" '! as $D2 xenstore-read /local/domain/1/data/k 2>/dev/null'
check "guest denied writing dom0 tree" '! as $D2 xenstore-write /local/domain/0/evil x 2>/dev/null'
check "chmod gives read" 'as $D1 xenstore-chmod /local/domain/1/data/k n1 r2 && [ "$(as $D2 xenstore-read /local/domain/1/data/k)" = v ]'
check "perms listed" 'as $D0 xenstore-ls -p /local/domain/1/data | grep -q "(n1,r2)"'
check "guest cannot chmod what it does not own" '! as $D2 xenstore-chmod /local/domain/1/data/k b2 2>/dev/null'

as $D0 xenstore-watch -n 2 /tool/w >"$T/watch.out" 2>&1 &
WPID=$!
T_PIDS+=($WPID)
sleep 0.5
as $D0 xenstore-write /tool/w/child 1
for _ in $(seq 50); do kill -0 $WPID 2>/dev/null || break; sleep 0.1; done
check "watch: initial fire and a descendant change" 'grep -qx /tool/w "$T/watch.out" && grep -qx /tool/w/child "$T/watch.out"'

simctl destroy 2
check "destroyed domain tree gone" '! as $D0 xenstore-exists /local/domain/2 2>/dev/null'
check "destroyed domain socket gone" '[ ! -e $D2 ]'
finish
