#!/usr/bin/env bash
# Builds flowbpf and runs it for real: attaches it to one end of a veth
# pair whose other end lives in a scratch network namespace, sends ping,
# TCP and UDP traffic across, shows the flow table and the stats, and
# takes everything down again.  Addresses are RFC 2544 (198.18.0.0/15).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
make -s -j"$(nproc)"

fb=./.output/flowbpf
ns=flowbpf-demo
host=fbdemo0
peer=fbdemo1

policy=$(mktemp /tmp/flowbpf-demo.XXXXXX.conf)
sock=/run/flowbpf/demo.sock

cleanup() {
	[ -n "${dpid:-}" ] && kill "$dpid" 2>/dev/null && wait "$dpid" 2>/dev/null
	rm -f "$policy"
	$fb detach $host >/dev/null 2>&1 || true
	ip link del $host 2>/dev/null || true
	ip netns del $ns 2>/dev/null || true
}
trap cleanup EXIT
cleanup

ip netns add $ns
ip link add $host type veth peer name $peer netns $ns
ip addr add 198.18.100.1/30 dev $host
ip link set $host up
ip -n $ns addr add 198.18.100.2/30 dev $peer
ip -n $ns link set $peer up
ip -n $ns link set lo up

cat > "$policy" <<EOP
# The demo's policy: this host may not send UDP to port 5353 of its peer.
unit peer { 198.18.100.2 }
default allow;
rule "no-mdns-to-peer" deny dir out proto udp to peer dport 5353;
EOP

set -x
cat "$policy"
$fb attach $host --mode enforce
$fb daemon -c "$policy" --socket $sock $host &
dpid=$!
sleep 0.5
ping -c 5 -i 0.2 -q 198.18.100.2
ip netns exec $ns iperf3 -s -1 -D -B 198.18.100.2
sleep 0.5
iperf3 -c 198.18.100.2 -n 4M | tail -4
for i in 1 2 3; do echo "datagram $i" > /dev/udp/198.18.100.2/5353; done
sleep 0.2
$fb flows $host
$fb --socket $sock stats -p $host
$fb --socket $sock status
kill "$dpid"; wait "$dpid" || true; dpid=
$fb detach $host
set +x

# Accounting by unit: a unit's totals, its charges and a quota taking
# effect (the daemon and the collector on one policy).
bash scripts/demo-units.sh
