#!/usr/bin/env bash
# Part 7: time to connect for an allowed TCP flow, enforce mode, under the
# three --pending modes.
# Usage: bench/connect.sh RESULTS ROUNDS
#
# flowbpf is attached in enforce mode to the root-namespace end of a veth
# pair, with a daemon whose policy allows everything ("default allow;"),
# and the root namespace connects to a listener in the namespace of the
# other end: the SYN leaves through flowbpf's tc egress program, the
# SYN-ACK comes back through its XDP program, each the first packet of a
# new flow.  Per round, each mode (pass, drop, hold; order rotated by one
# each round): attach, start the daemon, make BENCH_CONNECTS (default 50)
# sequential connections, each from a source port not used before in that
# attachment, stop the daemon, detach.  bench connect records the median,
# p90 and max time connect() took and how many connections needed a
# retransmitted SYN; the listener reports which needed a retransmitted
# SYN-ACK (the reply direction is a flow of its own, new as well).
# Neighbour entries are permanent, so no connection waits for ARP.
#
# Addresses: 198.19.255.240/30 (RFC 2544), above what the selftests use
# and below the throughput part's /30.
# Everything made here is removed on exit, whatever the exit.
set -euo pipefail
cd "$(dirname "$0")/.."

out=$1
rounds=${2:-5}
count=${BENCH_CONNECTS:-50}
B=./.output/bench/bench
FB=./.output/flowbpf
ns=fbconn-$$
hif=fbc$$h
pif=fbc$$p
hip=198.19.255.241
pip=198.19.255.242
port=15301
tmp=$(mktemp -d /tmp/fbconn.XXXXXX)
lsn_pid=
dmn_pid=

stop_daemon() {
	if [[ -n $dmn_pid ]]; then
		kill -TERM "$dmn_pid" 2>/dev/null || true
		wait "$dmn_pid" 2>/dev/null || true
		dmn_pid=
	fi
}

cleanup() {
	set +e
	stop_daemon
	if [[ -n $lsn_pid ]]; then
		kill "$lsn_pid" 2>/dev/null
		wait "$lsn_pid" 2>/dev/null
	fi
	[[ -e /sys/fs/bpf/flowbpf/$hif ]] && $FB detach "$hif" >/dev/null
	[[ -e /sys/class/net/$hif ]] && ip link del "$hif"
	ip netns del "$ns" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Copies: a rebuild by somebody else during the part must not mix builds.
cp "$B" "$tmp/bench"
cp "$FB" "$tmp/flowbpf"
B=$tmp/bench
FB=$tmp/flowbpf

row() { printf 'row\tconnect\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$out"; }
note() { printf 'note\tconnect\t%s\n' "$1" >>"$out"; }
target() { printf 'target\tconnect\t%s\tle\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$out"; }

ip netns add "$ns"
ip link add "$hif" type veth peer name "$pif" netns "$ns"
sysctl -qw "net.ipv6.conf.$hif.disable_ipv6=1"
ip netns exec "$ns" sysctl -qw "net.ipv6.conf.$pif.disable_ipv6=1"
ip addr add "$hip/30" dev "$hif"
ip link set "$hif" up
ip -n "$ns" addr add "$pip/30" dev "$pif"
ip -n "$ns" link set "$pif" up
ip -n "$ns" link set lo up
for _ in $(seq 100); do
	ip -n "$ns" link show "$pif" | grep -q LOWER_UP && break
	sleep 0.05
done
hmac=$(cat "/sys/class/net/$hif/address")
pmac=$(ip netns exec "$ns" cat "/sys/class/net/$pif/address")
ip neigh replace "$pip" lladdr "$pmac" dev "$hif" nud permanent
ip -n "$ns" neigh replace "$hip" lladdr "$hmac" dev "$pif" nud permanent
ping -c 1 -W 2 "$pip" >/dev/null

wait_for() { # FILE WHAT: until FILE exists (and, with WHAT, contains it)
	for _ in $(seq 500); do
		if [[ -s $1 ]] && { [[ -z ${2:-} ]] || grep -q "$2" "$1"; }; then
			return 0
		fi
		sleep 0.01
	done
	echo "connect: $1 never got ready" >&2
	return 1
}

ip netns exec "$ns" $B listen "$pip" "$port" >"$tmp/listen.out" 2>&1 &
lsn_pid=$!
wait_for "$tmp/listen.out" ready
echo 'default allow;' >"$tmp/allow.conf"

note "enforce mode, XDP ingress and tc egress on the root-namespace end of a veth pair; a daemon with the policy 'default allow;' decides every flow; per mode and round, $count sequential connections from the root namespace to a listener in the other namespace, each a new flow (a source port of its own); time = blocking connect() to completion, CLOCK_MONOTONIC; 'retransmitted SYN' = connections whose socket reports tcpi_total_retrans > 0, 'retransmitted SYN-ACK' the same for the listener's accepted socket; median and p90: the median over rounds of each round's value; max: the largest of all rounds"

target "hold: retransmitted SYN" 0 \
	"--pending hold: no connection of an allowed flow needs a retransmitted SYN" \
	"a held SYN came back later than the 1 s retransmission timeout, or not at all: see flowbpf stats (hold_limit_drops, hold_failed_drops) and the daemon's held counters"

modes=(pass drop hold)
n=${#modes[@]}
for ((r = 1; r <= rounds; r++)); do
	echo "bench connect: round $r/$rounds" >&2
	for ((i = 0; i < n; i++)); do
		m=${modes[(i + r - 1) % n]}
		$FB attach "$hif" --mode enforce --pending "$m" >/dev/null
		rm -f "$tmp/daemon.pid"
		$FB daemon -c "$tmp/allow.conf" --socket "$tmp/daemon.sock" \
			--pidfile "$tmp/daemon.pid" "$hif" >>"$tmp/daemon.log" 2>&1 &
		dmn_pid=$!
		# The daemon writes its pidfile once it beats its heartbeat.
		if ! wait_for "$tmp/daemon.pid"; then
			cat "$tmp/daemon.log" >&2
			exit 1
		fi
		# Source ports of their own per attachment; 20000-31999 lies
		# below the ephemeral range.
		seen=$(grep -c . "$tmp/listen.out")
		$B -o "$out" connect -R "$r" -n "$count" \
			-p $((20000 + ((r - 1) * n + i) * count % 12000)) \
			"$m" "$hip" "$pip" "$port"
		# The listener's line per connection: the SYN-ACK's retransmits.
		for _ in $(seq 200); do
			(($(grep -c . "$tmp/listen.out") >= seen + count)) && break
			sleep 0.01
		done
		row "$m: retransmitted SYN-ACK" "$r" "$(tail -n +$((seen + 1)) \
			"$tmp/listen.out" | awk '$2 > 0 { n++ } END { print n + 0 }')" connections
		# A verdict by timeout would mean the daemon was not the one deciding.
		dflt=$($FB stats "$hif" | awk '$1 == "default_verdicts_applied" { print $2 }')
		[[ ${dflt:-0} == 0 ]] ||
			note "round $r, --pending $m: $dflt flows got the default verdict on timeout instead of the daemon's"
		stop_daemon
		$FB detach "$hif" >/dev/null
	done
done
