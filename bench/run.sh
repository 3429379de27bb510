#!/usr/bin/env bash
# "make bench": installs what the benchmarks need, builds, runs every part
# with its variants interleaved round by round, prints the table and
# writes docs/benchmarks.md.  Benchmarks are not tests: a missed target is
# reported, never a failure.
#   BENCH_ROUNDS  rounds per part (default 5, at least 5 for the record)
#   BENCH_SECS    seconds per throughput measurement (default 5)
#   BENCH_PARTS   parts to run (default "pkt sweep mem tput decide connect units";
#                 empty: only rewrite docs/benchmarks.md from the last
#                 results).  A run replaces the results of the parts it
#                 runs and keeps those of the others, each part with the
#                 date, commit and rounds of the run that measured it.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${BENCH_ROUNDS:-5}
parts=${BENCH_PARTS-pkt sweep mem tput decide connect units}

bash scripts/deps.sh
bash scripts/deps.sh xdp-tools netsniff-ng nftables iptables libnetfilter-queue-dev
make -s -j"$(nproc)" bench-bins

B=./.output/bench/bench
res=.output/bench/results.tsv
# Besides the lines of bench.h, the results file holds a line per part
# measured: "meta PART DATE COMMIT ROUNDS KERNEL" (the part's lines all
# carry its name as their section).  Results written before these lines
# existed get them from .output/bench/commit and the file's time.
if [[ -s $res ]] && ! grep -q '^meta' "$res"; then
	awk -F'\t' -v date="$(date -u -r "$res" '+%Y-%m-%d %H:%M UTC')" \
		-v commit="$(cat .output/bench/commit 2>/dev/null || echo unknown)" \
		-v kernel="$(uname -r)" '
		$1 == "row" && $4 > rounds { rounds = $4 }
		$1 == "row" && !($2 in seen) { seen[$2]; order[++n] = $2 }
		END { for (i = 1; i <= n; i++)
			printf "meta\t%s\t%s\t%s\t%d\t%s\n", order[i], date, commit, rounds, kernel }
	' "$res" >"$res.meta"
	cat "$res.meta" >>"$res"
	rm -f "$res.meta"
fi
# BENCH_PARTS="" only rewrites the document from the last results.
# The commit measured is the one at the start of the run, and so is the
# date recorded for each of its parts.
if [[ -n $parts ]]; then
	if [[ -e $res ]]; then
		awk -F'\t' -v parts="$parts" '
			BEGIN { n = split(parts, p, " "); for (i = 1; i <= n; i++) drop[p[i]] }
			!($2 in drop)' "$res" >"$res.keep"
		mv "$res.keep" "$res"
	fi
	started=$(date -u '+%Y-%m-%d %H:%M UTC')
	commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
	if ! git diff --quiet HEAD -- bpf maps 2>/dev/null; then
		commit="$commit, with uncommitted changes in bpf/ or maps/"
	fi
fi
# xdp-filter's default policy (allow) loads xdpfilt_alw_<features>.o.
xf=$(dpkg -L libxdp1 2>/dev/null | grep '/xdpfilt_alw_all\.o$' | head -n 1 || true)
last_cpu=$(($(nproc) - 1))

for part in $parts; do
	case $part in
	pkt) $B -o "$res" -r "$rounds" pkt -c "$last_cpu" ${xf:+-x "$xf"} ;;
	sweep) $B -o "$res" -r "$rounds" sweep ;;
	mem) $B -o "$res" mem ;;
	tput) bash bench/throughput.sh "$res" "$rounds" ;;
	decide) $B -o "$res" -r "$rounds" decide -c 0 ;;
	connect) bash bench/connect.sh "$res" "$rounds" ;;
	units) $B -o "$res" -r "$rounds" units ;;
	*) echo "bench: unknown part $part" >&2; exit 2 ;;
	esac
	printf 'meta\t%s\t%s\t%s\t%s\t%s\n' "$part" "$started" "$commit" \
		"$rounds" "$(uname -r)" >>"$res"
done

# When, on what and with how many rounds: one line if every part was
# measured by the same run, else one per run; then the tools.
cpu="$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //') ($(nproc) CPUs)"
tools="Tools: $(clang --version | head -n 1), libbpf $(dpkg-query -W -f='${Version}' libbpf-dev 2>/dev/null), $(iperf3 --version | head -n 1 | cut -d' ' -f1-2), trafgen $(dpkg-query -W -f='${Version}' netsniff-ng 2>/dev/null), xdp-tools $(dpkg-query -W -f='${Version}' xdp-tools 2>/dev/null)."
runs=$(awk -F'\t' -v cpu="$cpu" -v tools="$tools" '
	$1 != "meta" { next }
	{ k = $3 SUBSEP $4 SUBSEP $5 SUBSEP $6 }
	!(k in parts) { order[++n] = k; date[k] = $3; commit[k] = $4; rounds[k] = $5; kernel[k] = $6 }
	{ if (k in parts) parts[k] = parts[k] ", " $2; else parts[k] = $2 }
	END {
		if (n == 0) {
			print tools
			exit
		}
		if (n == 1) {
			k = order[1]
			printf "Run of %s: kernel %s, %s, commit %s, %s rounds.\n%s\n",
				date[k], kernel[k], cpu, commit[k], rounds[k], tools
			exit
		}
		printf "Runs on %s, one per group of parts:\n\n", cpu
		for (i = 1; i <= n; i++) {
			k = order[i]
			printf "- %s: run of %s, kernel %s, commit %s, %s rounds.\n",
				parts[k], date[k], kernel[k], commit[k], rounds[k]
		}
		printf "\n%s\n", tools
	}' "$res")
table=$($B report "$res")
{
	sed -e '/^@RESULTS@$/,$d' bench/benchmarks.md.in
	printf '%s\n\n' "$runs"
	printf '%s\n' "$table"
	sed -e '1,/^@RESULTS@$/d' bench/benchmarks.md.in
} >docs/benchmarks.md
printf '%s\n' "$table"
echo "bench: wrote docs/benchmarks.md (raw results: $res)" >&2
