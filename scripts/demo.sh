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

cleanup() {
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

set -x
$fb attach $host --mode monitor
ping -c 5 -i 0.2 -q 198.18.100.2
ip netns exec $ns iperf3 -s -1 -D -B 198.18.100.2
sleep 0.5
iperf3 -c 198.18.100.2 -n 4M | tail -4
for i in 1 2 3; do echo "datagram $i" > /dev/udp/198.18.100.2/5353; done
# No daemon decides here: after the 2 s timeout the kernel applies the
# default verdict (pass) on the next packet of each queued flow.
sleep 2.2
ping -c 1 -q 198.18.100.2 >/dev/null
$fb flows $host
$fb stats -p $host
$fb status
$fb detach $host
