#!/usr/bin/env bash
# Part 2: throughput through a veth pair, root namespace <- test namespace.
# Usage: bench/throughput.sh RESULTS ROUNDS
#
# Senders run in a namespace of their own, receivers in the root namespace
# behind the host end of the veth, where every variant is installed on
# ingress: nothing; a no-op XDP program; flowbpf monitor and enforce
# (every flow pass) with XDP; a no-op tc program; flowbpf monitor and
# enforce with --ingress tc; and an nftables queue rule whose every packet
# goes up to a userspace process for its verdict (bench/nfq_accept.c).
# One more variant puts flowbpf (monitor, --ingress tc) on the sender's
# end instead, where its tc egress program sees the sender's GSO
# super-packets; it is measured with TCP only, as trafgen's frames bypass
# the qdisc and so the tc egress hook.
# Each round runs every variant once, in an order rotated by one each
# round, with an iperf3 TCP transfer and a trafgen flood of 64-byte UDP
# frames (packets per second counted by the receiving socket and by the
# interface's rx counter).  Ratios are computed within a round.
#
# Then the targets, measured paired (bench/alternate.c): with one transfer
# running all along, flowbpf and the no-op program swap places on the hook
# every 250 ms, in blocks no-op, flowbpf, flowbpf, no-op, and each block
# gives a ratio.  The UDP flood comes from "bench udpflood" (trafgen gives
# up when a swap fills the veth's ring for a moment), the sender on CPU 0
# and the socket on CPU 1; for TCP, iperf3's both ends share CPU 0, where
# one stream runs steadiest.  A control run swaps the no-op program with
# itself: its ratios are the method's own spread.
#
# Addresses: 198.19.255.248/30 (RFC 2544), above what the selftests use.
# Everything made here is removed on exit, whatever the exit.
set -euo pipefail
cd "$(dirname "$0")/.."

out=$1
rounds=${2:-5}
secs=${BENCH_SECS:-5}
blocks=${BENCH_BLOCKS:-60}
slice_ms=250
B=./.output/bench/bench
FB=./.output/flowbpf
NFQ=./.output/bench/nfq_accept
ns=fbbench-$$
hif=fbb$$h
pif=fbb$$p
hip=198.19.255.249
pip=198.19.255.250
port=15201
qnum=4711
table=fbbench$$
tmp=$(mktemp -d /tmp/fbbench.XXXXXX)
pids=()
ipt_rule=0
# flowbpf on the sender's end: its net namespace only, so that the pins
# land on the root bpffs, which "ip netns exec" would hide by remounting /sys.
in_ns() { nsenter --net="/run/netns/$ns" "$@"; }

cleanup() {
	set +e
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	nft delete table inet "$table" 2>/dev/null
	((ipt_rule)) && iptables-legacy -D INPUT -i "$hif" -s "$pip" -j NFQUEUE \
		--queue-num "$qnum"
	[[ -e /sys/fs/bpf/flowbpf/$hif ]] && $FB detach "$hif" >/dev/null
	[[ -e /sys/fs/bpf/flowbpf/$pif ]] && in_ns $FB detach "$pif" >/dev/null
	if [[ -e /sys/class/net/$hif ]]; then
		$B detach-noop "$hif" xdp 2>/dev/null
		$B detach-noop "$hif" tc 2>/dev/null
		ip link del "$hif"
	fi
	ip netns del "$ns" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

forget() { # PID: no longer ours to kill on exit
	local keep=() p
	for p in "${pids[@]}"; do [[ $p != "$1" ]] && keep+=("$p"); done
	pids=("${keep[@]}")
}
row() { printf 'row\ttput\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$out"; }
note() { printf 'note\ttput\t%s\n' "$1" >>"$out"; }
target() { printf 'target\ttput\t%s\tge\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$out"; }

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
ping -c 1 -W 2 "$pip" >/dev/null

hmac=$(cat "/sys/class/net/$hif/address")
pmac=$(ip netns exec "$ns" cat "/sys/class/net/$pif/address")
cat >"$tmp/udp.cfg" <<EOF
{
  eth(da=$hmac, sa=$pmac),
  ipv4(saddr=$pip, daddr=$hip, ttl=64),
  udp(sp=40000, dp=9),
  fill(0x00, 18)
}
EOF

wait_ready() { # FILE: until it says "ready"
	for _ in $(seq 200); do
		grep -q ready "$1" 2>/dev/null && return 0
		sleep 0.02
	done
	echo "throughput: $1 never got ready" >&2
	return 1
}

variant_on() {
	case $1 in
	none) ;;
	xdp-noop) $B attach-noop "$hif" xdp ;;
	# XDP variants hold the hook alone, as the no-op does (and as
	# alternate's link swap needs): no dispatcher in the comparison.
	xdp-monitor) $FB attach "$hif" --mode monitor --xdp-attach direct >/dev/null ;;
	xdp-enforce)
		# Every flow gets "pass" 1 ms after its first packet.
		$FB attach "$hif" --xdp-attach direct --mode enforce --pending pass --default pass \
			--timeout 1ms >/dev/null ;;
	tc-noop) $B attach-noop "$hif" tc ;;
	tc-monitor) $FB attach "$hif" --ingress tc --mode monitor >/dev/null ;;
	tc-enforce)
		$FB attach "$hif" --ingress tc --mode enforce --pending pass \
			--default pass --timeout 1ms >/dev/null ;;
	tx-monitor) in_ns $FB attach "$pif" --ingress tc --mode monitor >/dev/null ;;
	nfqueue)
		$NFQ "$qnum" >"$tmp/nfq.out" 2>&1 &
		nfq_pid=$!
		pids+=("$nfq_pid")
		wait_ready "$tmp/nfq.out"
		# nftables' queue statement where the kernel has it; else the
		# xtables NFQUEUE target (same nfnetlink_queue path behind).
		if ! nft -f - 2>/dev/null <<EOF; then
table inet $table {
	chain input {
		type filter hook input priority 0; policy accept;
		iifname "$hif" ip saddr $pip queue num $qnum
	}
}
EOF
			nft delete table inet "$table" 2>/dev/null || true
			iptables-legacy -I INPUT -i "$hif" -s "$pip" -j NFQUEUE \
				--queue-num "$qnum"
			ipt_rule=1
		fi
		;;
	esac
}

variant_off() {
	case $1 in
	xdp-noop) $B detach-noop "$hif" xdp ;;
	tc-noop) $B detach-noop "$hif" tc ;;
	xdp-* | tc-*) $FB detach "$hif" >/dev/null ;;
	tx-monitor) in_ns $FB detach "$pif" >/dev/null ;;
	nfqueue)
		if ((ipt_rule)); then
			iptables-legacy -D INPUT -i "$hif" -s "$pip" -j NFQUEUE \
				--queue-num "$qnum"
			ipt_rule=0
		else
			nft delete table inet "$table"
		fi
		kill "$nfq_pid"
		wait "$nfq_pid" 2>/dev/null || true
		forget "$nfq_pid" ;;
	esac
}

# TCP Gbit/s, one iperf3 stream from the namespace to the root namespace.
tcp_gbps() {
	iperf3 -s -B "$hip" -p "$port" -1 >/dev/null 2>&1 &
	local srv=$!
	for _ in $(seq 100); do
		ss -Hltn "sport = :$port" | grep -q . && break
		sleep 0.02
	done
	ip netns exec "$ns" iperf3 -c "$hip" -p "$port" -t "$secs" -f m \
		>"$tmp/iperf.out" 2>&1 || true
	wait "$srv" 2>/dev/null || true
	awk '/receiver/ { for (i = 1; i <= NF; i++) if ($i == "Mbits/sec") v = $(i - 1) }
	     END { if (v == "") exit 1; printf "%.4f\n", v / 1000 }' "$tmp/iperf.out"
}

# "delivered_mpps rx_mpps": 64-byte UDP frames from trafgen, one CPU.
udp_mpps() {
	local rx0 rx1
	$B udpsink "$hip" 9 1000 >"$tmp/sink.out" &
	local sink=$!
	wait_ready "$tmp/sink.out"
	rx0=$(cat "/sys/class/net/$hif/statistics/rx_packets")
	ip netns exec "$ns" timeout -s INT "$secs" trafgen --dev "$pif" \
		--conf "$tmp/udp.cfg" --cpus 1 --no-sock-mem >/dev/null 2>&1 || true
	rx1=$(cat "/sys/class/net/$hif/statistics/rx_packets")
	wait "$sink"
	awk -v rx=$((rx1 - rx0)) -v s="$secs" \
		'NR == 2 { printf "%.4f %.4f\n", $3 / 1e6, rx / s / 1e6 }' "$tmp/sink.out"
}

variants=(none xdp-noop xdp-monitor xdp-enforce tc-noop tc-monitor tc-enforce tx-monitor nfqueue)
[[ -n ${BENCH_VARIANTS:-} ]] && read -ra variants <<<"$BENCH_VARIANTS"
declare -A label=(
	[none]="no program"
	[xdp-noop]="no-op XDP"
	[xdp-monitor]="flowbpf monitor, XDP"
	[xdp-enforce]="flowbpf enforce (all pass), XDP"
	[tc-noop]="no-op tc ingress"
	[tc-monitor]="flowbpf monitor, --ingress tc"
	[tc-enforce]="flowbpf enforce (all pass), --ingress tc"
	[tx-monitor]="flowbpf monitor on the sender (tc egress, GSO)"
	[nfqueue]="NFQUEUE userspace verdict"
)

why_udp="at these rates the stack spends several microseconds on each delivered frame (the veth's NAPI poll, the UDP socket), and flowbpf's cost per frame (part 1, about a hundred ns above the no-op program) is a few percent of it, within the spread of one round to the next on this shared machine (see the min and max of the no-op rows)"
why_tcp="one iperf3 stream over veth varies by tens of percent from one run to the next on this shared two-CPU machine (the min and max of the no-op rows), more than flowbpf's cost: with tc ingress GRO stays on, so flowbpf runs once per super-packet of up to 64 KiB, a few hundred ns against tens of microseconds of stack work"
note "one iperf3 TCP stream for ${secs} s; trafgen (netsniff-ng) sending 64-byte UDP frames from one CPU for ${secs} s, counted by the receiving socket (delivered) and the host veth's rx_packets (arrived); enforce uses --timeout 1ms --default pass so that every flow is 'pass' 1 ms after its first packet; the NFQUEUE program copies 128 bytes of each packet and answers one verdict per packet; 'on the sender' attaches flowbpf (monitor, --ingress tc) to the sending end instead, TCP only (trafgen bypasses the qdisc)"

for ((r = 1; r <= rounds; r++)); do
	echo "bench throughput: round $r/$rounds" >&2
	declare -A tcp=() udp=() rxp=()
	n=${#variants[@]}
	for ((i = 0; i < n; i++)); do
		v=${variants[(i + r - 1) % n]}
		variant_on "$v"
		tcp[$v]=$(tcp_gbps) || tcp[$v]=0
		row "TCP Gbit/s, ${label[$v]}" "$r" "${tcp[$v]}" "Gbit/s"
		if [[ $v != tx-* ]]; then
			read -r udp[$v] rxp[$v] < <(udp_mpps) || { udp[$v]=0; rxp[$v]=0; }
			row "UDP Mpps delivered, ${label[$v]}" "$r" "${udp[$v]}" "Mpps"
			row "UDP Mpps arrived (rx counter), ${label[$v]}" "$r" "${rxp[$v]}" "Mpps"
		fi
		variant_off "$v"
	done
	ratio() { # NAME A B (of tcp/udp arrays): A / B
		local m=$1 a=$2 b=$3 x y
		if [[ $m == tcp ]]; then x=${tcp[$a]:-} y=${tcp[$b]:-}; else x=${udp[$a]:-} y=${udp[$b]:-}; fi
		[[ -n $x && -n $y ]] || return 0
		row "$m: ${label[$a]} / ${label[$b]}" "$r" \
			"$(awk -v x="$x" -v y="$y" 'BEGIN { printf "%.4f\n", (y > 0 ? x / y : 0) }')" "x"
	}
	for m in tcp udp; do
		ratio $m xdp-monitor xdp-noop
		ratio $m xdp-enforce xdp-noop
		ratio $m tc-monitor tc-noop
		ratio $m tc-enforce tc-noop
		ratio $m xdp-noop none
		ratio $m xdp-monitor none
		ratio $m tc-monitor none
		ratio $m tc-enforce none
		ratio $m tx-monitor none
		ratio $m nfqueue none
	done
done

# One paired measurement: VARIANT PROTO NAME [control].  Every block's
# ratio is a row, so the table's median is over blocks.
paired() {
	local v=$1 proto=$2 name=$3 ctl=${4:-} dur load sink=
	# With room for the swaps and the counter reads between slices.
	dur=$((blocks * 4 * (slice_ms + 20) * 12 / 10000 + 5))
	variant_on "$v"
	if [[ $proto == udp ]]; then
		taskset -c 1 $B udpsink "$hip" 9 2000 >"$tmp/sink.out" &
		sink=$!
		wait_ready "$tmp/sink.out"
		in_ns taskset -c 0 $B udpflood "$pif" "$hmac" "$pip" "$hip" 9 "$dur" \
			>"$tmp/flood.out" &
		load=$!
	else
		taskset -c 0 iperf3 -s -B "$hip" -p "$port" -1 -i 0 >/dev/null 2>&1 &
		sink=$!
		for _ in $(seq 100); do
			ss -Hltn "sport = :$port" | grep -q . && break
			sleep 0.02
		done
		ip netns exec "$ns" taskset -c 0 iperf3 -c "$hip" -p "$port" -i 0 \
			-t "$dur" >/dev/null 2>&1 &
		load=$!
	fi
	pids+=("$load" "$sink")
	sleep 1
	taskset -c 1 $B alternate "$hif" "${v%%-*}" \
		"$([[ $proto == udp ]] && echo udp || echo bytes)" "$slice_ms" \
		"$blocks" $ctl >"$tmp/alt.out"
	kill "$load" 2>/dev/null || true; wait "$load" 2>/dev/null || true
	kill "$sink" 2>/dev/null || true; wait "$sink" 2>/dev/null || true
	forget "$load"
	forget "$sink"
	variant_off "$v"
	# A block without traffic on either side (the load ended) is no ratio.
	awk -v name="$name" '$2 > 0 && $3 > 0 { printf "row\ttput\t%s\t%d\t%.4f\tx\n", name, $1, $4 }' \
		"$tmp/alt.out" >>"$out"
}

why_udp="each 64-byte frame costs the receiving CPU several microseconds of stack work (the veth's NAPI poll, the route lookup, the UDP socket) and flowbpf adds what its program costs on live traffic, which exceeds its part 1 cost by the cache misses of a frame that the stack has pushed out of the caches; the control row shows the spread of the method itself"
why_tcp="with tc ingress, GRO and TSO stay on and flowbpf runs once per super-packet of up to 64 KiB and once per ACK; one TCP stream varies more from one quarter-second to the next than that costs (the control row)"
echo "bench throughput: paired, ${blocks} blocks each" >&2
note "paired rows: one transfer running all along while flowbpf and the no-op program swap places every ${slice_ms} ms in blocks no-op, flowbpf, flowbpf, no-op (bench/alternate.c); each block gives a ratio of flowbpf's rate to the no-op's, and the rounds column counts blocks; UDP: bench udpflood sending 64-byte frames from CPU 0, delivered datagrams counted on the receiving side (socket on CPU 1); TCP: one iperf3 stream, both ends on CPU 0, bytes received; control: the no-op program swapped with itself"
# One target row: variant, protocol, the no-op it is paired with, the goal.
paired_target() {
	local n="paired $2: ${label[$1]} / $3"

	target "$n" 0.95 "$4: flowbpf ${1#*-} >= 0.95 of $5" "$6"
	paired "$1" "$2" "$n"
}
for v in xdp-monitor xdp-enforce; do
	paired_target "$v" udp "no-op XDP" "64-byte UDP delivered" \
		"the no-op XDP program" "$why_udp"
done
paired xdp-monitor udp "paired udp: control, no-op XDP / no-op XDP" control
paired xdp-monitor udp "paired udp: calibrator (one lookup) / no-op XDP" calib
for v in tc-monitor tc-enforce; do
	paired_target "$v" tcp "no-op tc ingress" "TCP, --ingress tc" \
		"a no-op tc program" "$why_tcp"
done
paired tc-monitor tcp "paired tcp: control, no-op tc ingress / no-op tc ingress" control
