#!/usr/bin/env bash
# Accounting by unit, for real: the daemon and the collector share a
# policy that accounts the peer of a veth pair, with a price for its web
# class and an 8 MiB quota; two transfers show its totals, the report
# with charges, and the quota cutting the second transfer off and
# refusing a new connection.  Addresses are RFC 2544 (198.18.0.0/15).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
make -s -j"$(nproc)"

fb=./.output/flowbpf
ns=flowbpf-udemo
host=fbudemo0
peer=fbudemo1
dir=$(mktemp -d /tmp/flowbpf-udemo.XXXXXX)
policy=$dir/units.conf
db=$dir/acct.db
sock=$dir/ctl.sock

cleanup() {
	for p in ${cpid:-} ${dpid:-} ${spid:-}; do
		kill "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	$fb detach $host >/dev/null 2>&1 || true
	ip link del $host 2>/dev/null || true
	ip netns del $ns 2>/dev/null || true
	rm -rf "$dir"
	true
}
trap cleanup EXIT
$fb detach $host >/dev/null 2>&1 || true
ip link del $host 2>/dev/null || true
ip netns del $ns 2>/dev/null || true

ip netns add $ns
ip link add $host type veth peer name $peer netns $ns
ip addr add 198.18.101.1/30 dev $host
ip link set $host up
ip -n $ns addr add 198.18.101.2/30 dev $peer
ip -n $ns link set $peer up
ip -n $ns link set lo up

cat > "$policy" <<EOP
unit peer { 198.18.101.2 }
account peer;
class web proto tcp port 5201 price 0.10;
quota peer limit 8M per day deny soft 50%;
default allow;
EOP

ip netns exec $ns iperf3 -s -B 198.18.101.2 >/dev/null &
spid=$!
set -x
cat "$policy"
$fb attach $host --mode enforce
$fb daemon -c "$policy" --socket $sock --db $db $host &
dpid=$!
$fb collect $host --units "$policy" --db $db --interval 200ms --active 200ms &
cpid=$!
sleep 1
iperf3 -c 198.18.101.2 -n 5M | tail -3
sleep 1
sleep 1
$fb report --db $db
$fb quota --db $db
timeout 8 iperf3 -c 198.18.101.2 -b 16M -n 20M -i 1 || echo "transfer cut off"
$fb quota --db $db
timeout 3 bash -c 'exec 3<>/dev/tcp/198.18.101.2/5201' || echo "new connection refused"
$fb report --db $db --csv
