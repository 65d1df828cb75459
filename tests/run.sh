#!/bin/bash
# Run test programs; each exits 0 (pass), 77 (skip) or anything else (fail).
# Prints one line per test and a final "N passed, N failed, N skipped".
pass=0; fail=0; skip=0; failed=()
TIMEOUT=${TEST_TIMEOUT:-180}
for t in "$@"; do
	name=${t#*/tests/}
	log=$(mktemp)
	start=$EPOCHREALTIME
	timeout -k 5 "$TIMEOUT" "$t" >"$log" 2>&1; rc=$?
	dur=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.2f", b-a}')
	case $rc in
	0)  pass=$((pass+1)); echo "PASS $name (${dur}s)";;
	77) skip=$((skip+1)); echo "SKIP $name: $(tail -n1 "$log")";;
	*)  fail=$((fail+1)); failed+=("$name"); echo "FAIL $name (rc=$rc, ${dur}s)"; sed 's/^/    | /' "$log" | tail -n 40;;
	esac
	rm -f "$log"
done
[ ${#failed[@]} -gt 0 ] && echo "failed: ${failed[*]}"
echo "$pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
