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

# The agent watching (extra arguments: its options) while namespace $1 takes a flood of $2 datagrams, stopped with
# Ctrl-C once the flood is over (not after a fixed time a slow emulated guest could overrun).
# Leaves agent.json, agent.err, agent.exit and rcvbuf-errors (the kernel's count over the flood) here.
watch_udp_flood() {
    ns=$1 datagrams=$2
    shift 2
    watch_udp_floods "$ns" "$datagrams" --netns "$ns" "$@" || return
    cp "$ns.rcvbuf-errors" rcvbuf-errors
}

# The same with floods of $2 datagrams into each of the namespaces listed in $1 ("a b") at once; the kernel's count
# over the flood for each is left in NS.rcvbuf-errors.
watch_udp_floods() {
    namespaces=$1 datagrams=$2
    shift 2
    env --default-signal=INT $AGENT watch --json "$@" >agent.json 2>agent.err &
    agent=$!
    wait_for agent.err "watching" 90 || return 11
    floods=
    for ns in $namespaces; do
        udp_rcvbuf_errors "$ns" >"$ns.before"
        udp_flood "$ns" "$datagrams" &
        floods="$floods $!"
    done
    wait $floods
    for ns in $namespaces; do echo $(($(udp_rcvbuf_errors "$ns") - $(cat "$ns.before"))) >"$ns.rcvbuf-errors"; done
    kill -INT $agent
    wait $agent
    echo $? >agent.exit
}

# Waits up to $4 seconds (default 60) until the drops dropwatch printed to file $1 at sites matching $2 add up to $3.
wait_for_dropwatch_sum() {
    i=0
    while [ "$(awk -v site="$2" '$2 == "drops" && $4 ~ site { n += $1 } END { print n + 0 }' "$1")" -lt "$3" ]; do
        i=$((i + 1))
        [ $i -gt $((${4:-60} * 5)) ] && { echo "timed out waiting for $3 drops at '$2' in $1"; cat "$1"; return 1; }
        sleep 0.2
    done
}

# The kernel's own word on whether its drop monitor is tracing: drop_monitor takes a reference on itself when
# software monitoring starts (net_dm_trace_on_set) and another for hardware monitoring (net_dm_hw_monitor_start),
# and puts them back when they stop. 0: off; 2 while an agent watches software and hardware drops.
netdm_refs() {
    cat /sys/module/drop_monitor/refcnt
}

# Runs section $1 of a shared boot (TestVm.RunSectionsAsync): $1/run.sh with $1 as its directory, for at most $2
# seconds, in a session of its own; its output goes to $1/output, its exit code to $1/exit-code, the seconds it took
# to $1/seconds. Then clears what it left, so that the next section starts as on a fresh boot: its processes, the
# network namespaces, a drop monitor still on (a section that failed midway may leave an agent or dropwatch running).
run_section() {
    started=$(cut -d' ' -f1 /proc/uptime)
    (cd "$1" && exec setsid timeout -k 5 "$2" sh ./run.sh >output 2>&1) &
    section=$!
    wait $section
    echo $? >"$1/exit-code"
    awk -v started="$started" '{ printf "%.1f\n", $1 - started }' /proc/uptime >"$1/seconds"
    kill -KILL -$section 2>/dev/null
    ip -all netns delete 2>/dev/null
    if [ -d /sys/module/drop_monitor ] && [ "$(netdm_refs)" != 0 ]; then $AGENT netdm-stop >/dev/null 2>&1; fi
    return 0
}
