#!/usr/bin/env python3
"""Records the netlink dumps DropBoard's counter readers parse, from the running kernel, with the kernel tools'
own view of the same moment beside them (tc -s -j qdisc, nft -j list ruleset, the namespace's
/sys/class/net/*/statistics). Run as root from this directory: python3 record-netlink.py

In a throw-away namespace: a veth pair va (10.9.0.1/24) and vb (no address; 10.9.0.2 is vb's MAC in va's
neighbour table, so datagrams to it leave through va and vb drops them), a tbf with a tiny limit on va, an nft
drop rule and a ct state invalid drop rule (inet table) and an iptables-nft drop rule (ip filter INPUT); then UDP to
vb through the tbf, UDP to the two dropped ports on lo, TCP SYN+FIN segments on lo (conntrack: invalid), and raw
frames on va that vb must drop (an unknown EtherType, a foreign destination MAC).
The dumps are made with Python's own socket and struct: no DropBoard code is involved.
"""
import ctypes
import json
import os
import socket
import struct
import subprocess
import time

NS = f"dbrec-{os.getpid()}"
OUT = os.path.dirname(os.path.abspath(__file__))


def run(*args, ns=True):
    cmd = (["ip", "netns", "exec", NS] if ns else []) + list(args)
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def in_namespace():
    fd = os.open(f"/run/netns/{NS}", os.O_RDONLY)
    if ctypes.CDLL(None, use_errno=True).setns(fd, 0x40000000) != 0:  # CLONE_NEWNET; os.setns is 3.12+
        raise OSError(ctypes.get_errno(), "setns")
    os.close(fd)


def dump(protocol, msg_type, header, path, comment):
    """Sends one NLM_F_REQUEST|NLM_F_DUMP and writes request and every reply datagram up to NLMSG_DONE."""
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, protocol)
    s.bind((0, 0))
    seq = 1
    request = struct.pack("=IHHII", 16 + len(header), msg_type, 0x1 | 0x300, seq, 0) + header
    s.send(request)
    lines = [f"# {line}" for line in comment.split("\n")] + [f"request {request.hex()}"]
    done = False
    while not done:
        data = s.recv(1 << 16)
        lines.append(f"reply {data.hex()}")
        at = 0
        while at + 16 <= len(data):
            length, kind, _, mseq, _ = struct.unpack_from("=IHHII", data, at)
            if mseq == seq and kind in (2, 3):
                done = True
            at += (length + 3) & ~3
    s.close()
    with open(os.path.join(OUT, path), "w") as f:
        f.write("\n".join(lines) + "\n")


def main():
    recorded = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    kernel = os.uname().release
    run("ip", "netns", "add", NS, ns=False)
    try:
        run("ip", "link", "set", "lo", "up")
        run("ip", "link", "add", "va", "type", "veth", "peer", "name", "vb")
        run("ip", "addr", "add", "10.9.0.1/24", "dev", "va")
        run("ip", "link", "set", "va", "up")
        run("ip", "link", "set", "vb", "up")
        run("tc", "qdisc", "add", "dev", "va", "root", "tbf", "rate", "8kbit", "burst", "1600", "limit", "3000")
        run("tc", "qdisc", "add", "dev", "vb", "root", "handle", "1:", "pfifo", "limit", "10")
        run("nft", "add table inet dbt; add chain inet dbt input { type filter hook input priority 0; };"
                   " add rule inet dbt input udp dport 7201 counter drop comment \"dropboard test\";"
                   " add rule inet dbt input ct state invalid counter drop")
        run("iptables-nft", "-A", "INPUT", "-p", "udp", "--dport", "7202", "-j", "DROP")
        run("ip", "neigh", "add", "10.9.0.2", "lladdr", run("cat", "/sys/class/net/vb/address").strip(), "dev", "va")
        in_namespace()
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for _ in range(200):
            udp.sendto(b"x" * 100, ("10.9.0.2", 7300))
        for _ in range(50):
            udp.sendto(b"x" * 100, ("127.0.0.1", 7201))
        for _ in range(30):
            udp.sendto(b"x" * 100, ("127.0.0.1", 7202))
        tcp = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)
        for i in range(9):  # SYN+FIN: invalid in every conntrack state (checksum left 0: the kernel does not check it on lo)
            tcp.sendto(struct.pack("!HHIIBBHHH", 40000 + i, 7203, 1, 0, 5 << 4, 0x03, 65535, 0, 0), ("127.0.0.1", 0))
        raw = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
        raw.bind(("va", 0))
        raw.setsockopt(263, 20, 1)  # SOL_PACKET, PACKET_QDISC_BYPASS: past va's full tbf
        vb_mac = bytes.fromhex(run("cat", "/sys/class/net/vb/address").strip().replace(":", ""))
        va_mac = bytes.fromhex(run("cat", "/sys/class/net/va/address").strip().replace(":", ""))
        ipv4 = bytes.fromhex("450000140000000040ff0000" "0a090001" "0a090002")
        for _ in range(12):
            raw.send(vb_mac + va_mac + b"\x88\xb5" + b"\0" * 46)  # local experimental EtherType: no handler
        for _ in range(7):
            raw.send(b"\x02\0\0\0\0\x99" + va_mac + b"\x08\x00" + ipv4 + b"\0" * 26)  # not vb's MAC: PACKET_OTHERHOST
        time.sleep(1)

        header = f"recorded {recorded} on kernel {kernel} by record-netlink.py in a fresh namespace"
        dump(0, 18, bytes(16), "rtnetlink-link.rec", f"{header}\nRTM_GETLINK dump: lo, va, vb")
        dump(0, 38, bytes(20), "rtnetlink-qdisc.rec", f"{header}\nRTM_GETQDISC dump: noqueue on lo, tbf 8001: on va, pfifo 1: on vb")
        dump(12, (10 << 8) | 7, bytes(4), "nftables-rules.rec", f"{header}\nNFT_MSG_GETRULE dump, all families: inet dbt input (nft), ip filter INPUT (iptables-nft)")
        with open(os.path.join(OUT, "rtnetlink-qdisc.tc.json"), "w") as f:
            f.write(run("tc", "-s", "-j", "qdisc", "show"))
        with open(os.path.join(OUT, "nftables-rules.nft.json"), "w") as f:
            f.write(run("nft", "-j", "list", "ruleset"))
        statistics = {}
        for dev in ("lo", "va", "vb"):
            base = f"/sys/class/net/{dev}/statistics"
            names = run("ls", base).split()
            values = run("sh", "-c", f"cd {base} && cat {' '.join(names)}").split()
            statistics[dev] = dict(zip(names, map(int, values)))
        with open(os.path.join(OUT, "rtnetlink-link.sysfs.json"), "w") as f:
            json.dump(statistics, f, indent=1, sort_keys=True)
            f.write("\n")
        with open(os.path.join(OUT, "rtnetlink-link.ip.json"), "w") as f:
            f.write(run("ip", "-s", "-s", "-j", "link", "show"))
        with open(os.path.join(OUT, "nf_conntrack-6.18.txt"), "w") as f:
            f.write(run("cat", "/proc/net/stat/nf_conntrack"))
        with open(os.path.join(OUT, "nf_conntrack-6.18.conntrack-S.txt"), "w") as f:
            f.write(run("conntrack", "-S"))
    finally:
        subprocess.run(["ip", "netns", "del", NS])


if __name__ == "__main__":
    main()
