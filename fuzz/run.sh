#!/usr/bin/env bash
# Runs the libFuzzer harnesses that "make fuzz-bins" builds (docs/testing.md).
#
#   fuzz/run.sh [-o DIR] [-t SECS] [-s] [NAME...]
#
# For each harness NAME (all when none is given): replays fuzz/corpus/NAME/
# (the seeds, and the reproducers of bugs found), then fuzzes for SECS
# seconds (60).  The binaries are DIR/fuzz_NAME (DIR: .output/fuzz).  The
# corpus grown is kept in DIR/corpus/NAME/ for the next run; with -s (the
# smoke round) each run starts from the seeds alone, in a corpus that is
# thrown away.  A crash, sanitizer report, leak, failed check or input
# slower than 10 s stops that harness; its input is kept in
# DIR/artifacts/NAME/ and the report is in DIR/NAME.log.
#
# Prints one line per harness and a total; exits 1 if any harness failed.
set -uo pipefail
cd "$(dirname "$0")/.."

out=.output/fuzz secs=60 smoke=0
while getopts o:t:s opt; do
	case $opt in
	o) out=$OPTARG ;;
	t) secs=$OPTARG ;;
	s) smoke=1 ;;
	*)
		echo "usage: $0 [-o DIR] [-t SECS] [-s] [NAME...]" >&2
		exit 2
		;;
	esac
done
shift $((OPTIND - 1))
(($#)) || set -- policy table flow num csum

# The longest input each harness is given: room for a few dozen policy
# lines, a table line past the 510-character limit, FLOW_WORDS_MAX words
# and more, a 20-digit number with a long fraction, a full-size frame.
declare -A max_len=([policy]=4096 [table]=4096 [flow]=512 [num]=64 [csum]=2048)

# The harnesses' private directories, and the smoke round's corpora: on
# a tmpfs where there is one (the policy and table harnesses write files
# for every input, 3 to 4 times faster there than on ext4), else in DIR;
# removed at the end, crash or not.
mkdir -p "$out"
tmp=$(mktemp -d /dev/shm/flowbpf-fuzz.XXXXXX 2>/dev/null) ||
	tmp=$(mktemp -d "$out/tmp.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
TMPDIR=$(cd "$tmp" && pwd)
export TMPDIR
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}

failed=0
for name in "$@"; do
	bin=$out/fuzz_$name seeds=fuzz/corpus/$name log=$out/$name.log
	art=$out/artifacts/$name/
	if [ ! -x "$bin" ] || [ ! -d "$seeds" ]; then
		echo "fuzz: $name: no harness $bin or no corpus $seeds" >&2
		failed=$((failed + 1))
		continue
	fi
	mkdir -p "$art"
	opts=(-max_len="${max_len[$name]:-4096}" -timeout=10
	      -artifact_prefix="$art")
	[ -f "fuzz/$name.dict" ] && opts+=(-dict="fuzz/$name.dict")

	# Every file of the corpus once, as a regression test.
	"$bin" "${opts[@]}" "$seeds"/* >"$log" 2>&1
	rc=$?
	if [ "$rc" = 0 ]; then
		if ((smoke)); then
			corpus=$(mktemp -d "$tmp/$name.XXXXXX")
		else
			corpus=$out/corpus/$name
			mkdir -p "$corpus"
		fi
		"$bin" "${opts[@]}" -max_total_time="$secs" \
			-print_final_stats=1 "$corpus" "$seeds" >>"$log" 2>&1
		rc=$?
	fi

	# "#1234 DONE cov: 812 ft: 2345 corp: 210/12Kb ... exec/s: 2057 ..."
	last=$(grep -a ' cov: ' "$log" | tail -n 1)
	field() { sed -n "s/.* $1: \([^ ]*\).*/\1/p" <<<"$last"; }
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
	new=$(sed -n 's/^stat::new_units_added: *//p' "$log")
	if [ "$rc" = 0 ]; then
		echo "fuzz: $name: ok, ${runs:-?} runs in ${secs}s" \
			"(${rate:-?}/s), cov $(field cov), ft $(field ft)," \
			"corpus $(field corp) (${new:-0} new)"
	else
		failed=$((failed + 1))
		echo "fuzz: $name: FAILED (exit $rc); report in $log," \
			"input in $art" >&2
		grep -a -m 1 -A 30 -E '^==[0-9]+==ERROR|check failed|runtime error|ALARM|Test unit written' \
			"$log" >&2 || tail -n 30 "$log" >&2
	fi
done
echo "fuzz: $# harnesses, $failed failed"
((failed == 0))
