#!/usr/bin/env bash
# "make bench": installs what the benchmarks need, builds, runs every part
# with its variants interleaved round by round, prints the table and
# writes docs/benchmarks.md.  Benchmarks are not tests: a missed target is
# reported, never a failure.
#   BENCH_ROUNDS  rounds per part (default 5, at least 5 for the record)
#   BENCH_SECS    seconds per throughput measurement (default 5)
#   BENCH_PARTS   parts to run (default "pkt sweep mem tput decide"; empty:
#                 only rewrite docs/benchmarks.md from the last results)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${BENCH_ROUNDS:-5}
parts=${BENCH_PARTS-pkt sweep mem tput decide}

bash scripts/deps.sh
pkgs=(xdp-tools netsniff-ng nftables iptables libnetfilter-queue-dev)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing+=("$p")
done
if ((${#missing[@]})); then
	echo "installing: ${missing[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
make -s -j"$(nproc)" bench-bins

B=./.output/bench/bench
res=.output/bench/results.tsv
# BENCH_PARTS="" only rewrites the document from the last results.
# The commit measured is the one at the start of the run.
if [[ -n $parts ]]; then
	rm -f "$res"
	commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
	if ! git diff --quiet HEAD -- bpf maps 2>/dev/null; then
		commit="$commit, with uncommitted changes in bpf/ or maps/"
	fi
	echo "$commit" >.output/bench/commit
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
	*) echo "bench: unknown part $part" >&2; exit 2 ;;
	esac
done

commit=$(cat .output/bench/commit 2>/dev/null || echo unknown)
table=$($B report "$res")
{
	sed -e '/^@RESULTS@$/,$d' bench/benchmarks.md.in
	cat <<INFO
Run of $(date -u '+%Y-%m-%d %H:%M UTC'): kernel $(uname -r), $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //') ($(nproc) CPUs), commit $commit, $rounds rounds.
Tools: $(clang --version | head -n 1), libbpf $(dpkg-query -W -f='${Version}' libbpf-dev 2>/dev/null), $(iperf3 --version | head -n 1 | cut -d' ' -f1-2), trafgen $(dpkg-query -W -f='${Version}' netsniff-ng 2>/dev/null), xdp-tools $(dpkg-query -W -f='${Version}' xdp-tools 2>/dev/null).

INFO
	printf '%s\n' "$table"
	sed -e '1,/^@RESULTS@$/d' bench/benchmarks.md.in
} >docs/benchmarks.md
printf '%s\n' "$table"
echo "bench: wrote docs/benchmarks.md (raw results: $res)" >&2
