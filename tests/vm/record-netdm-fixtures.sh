#!/usr/bin/env bash
# Records the NET_DM fixtures of tests/DropBoard.Agent.Tests/Fixtures/netdm in the test VM (Debian's 6.1 kernel,
# drop_monitor not loaded), with witnesses that owe nothing to DropBoard's decoder beside them:
#   MODE-udp-rcvbuf.rec              the agent's --record-netlink of 300 datagrams at a socket that never reads
#   MODE-udp-rcvbuf.snmp-before.txt  the namespace's /proc/net/snmp before the flood ...
#   MODE-udp-rcvbuf.snmp-after.txt   ... and after it: Udp RcvbufErrors is the kernel's own count of the drops
#   kallsyms-all.txt                 the VM's text symbols (the boot's KASLR addresses), for the excerpt
#
#   record-netdm-fixtures.sh AGENT_DLL OUTDIR
set -euo pipefail
agent_dll=$(realpath "${1:?usage: $0 AGENT_DLL OUTDIR}")
out=$(realpath "${2:?usage: $0 AGENT_DLL OUTDIR}")
vm_dir=$(dirname "$(realpath "$0")")
share=$(mktemp -d /tmp/dropboard-record-XXXXXX)
trap 'rm -rf "$share"' EXIT
cat >"$share/run.sh" <<EOF
AGENT='/usr/bin/dotnet $agent_dll'
VM_DIR='$vm_dir'
. "\$VM_DIR/guest-lib.sh"
set -e
make_netns t
# Summary first: its recording starts with the lookup that fails until the agent runs 'modprobe drop_monitor'.
for mode in summary packet; do
    ip netns exec t cat /proc/net/snmp >\$mode-udp-rcvbuf.snmp-before.txt
    env --default-signal=INT \$AGENT watch --source netdm --mode \$mode --netns t --record-netlink \$mode-udp-rcvbuf.rec >\$mode.out 2>\$mode.err &
    agent=\$!
    wait_for \$mode.err watching 90
    udp_flood t 300
    ip netns exec t cat /proc/net/snmp >\$mode-udp-rcvbuf.snmp-after.txt
    kill -INT \$agent
    wait \$agent
done
grep ' [tT] ' /proc/kallsyms >kallsyms-all.txt
EOF
bash "$vm_dir/dropboard-vm.sh" run "$share" 600 || { cat "$share"/*.err >&2; exit 1; }
mkdir -p "$out"
cp "$share"/*.rec "$share"/*.snmp-*.txt "$share"/kallsyms-all.txt "$share"/*.err "$out"/
echo "recorded into $out"
