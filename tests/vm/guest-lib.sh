# Shell helpers for scripts that tests run inside the VM (POSIX sh: the guest runs them with /bin/sh).
# The test sets AGENT (how to start dropboard-agent) and VM_DIR (this directory) before sourcing this file.

# Waits up to $3 seconds (default 60) until file $1 contains text $2.
wait_for() {
    i=0
    while ! grep -q "$2" "$1" 2>/dev/null; do
        i=$((i + 1))
        [ $i -gt $((${3:-60} * 5)) ] && { echo "timed out waiting for '$2' in $1"; cat "$1"; return 1; }
        sleep 0.2
    done
}

# Udp RcvbufErrors of network namespace $1, from its /proc/net/snmp.
udp_rcvbuf_errors() {
    ip netns exec "$1" cat /proc/net/snmp | awk '/^Udp:/ { if (!h) { for (i = 1; i <= NF; i++) n[i] = $i; h = 1 } else { for (i = 1; i <= NF; i++) if (n[i] == "RcvbufErrors") print $i } }'
}

# A fresh network namespace $1 with loopback up.
make_netns() {
    ip netns add "$1" && ip -n "$1" link set lo up
}

# N datagrams ($2) at a socket in namespace $1 that cannot take them.
udp_flood() {
    ip netns exec "$1" python3 "$VM_DIR/udp-flood.py" "$2"
}

# The agent watching (extra arguments: its options) while namespace $1 takes a flood of $2 datagrams.
# Leaves agent.json, agent.err, agent.exit and rcvbuf-errors (the kernel's count over the flood) here.
watch_udp_flood() {
    ns=$1 datagrams=$2
    shift 2
    $AGENT watch --json --netns "$ns" "$@" >agent.json 2>agent.err &
    agent=$!
    wait_for agent.err "watching" 90 || return 11
    before=$(udp_rcvbuf_errors "$ns")
    udp_flood "$ns" "$datagrams"
    after=$(udp_rcvbuf_errors "$ns")
    echo $((after - before)) >rcvbuf-errors
    wait $agent
    echo $? >agent.exit
}
