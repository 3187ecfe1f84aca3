# An independent decode of the NET_DM recordings with Python's struct, sharing no code with DropBoard:
#   python3 decode-netdm.py kallsyms-excerpt.txt summary-udp-rcvbuf.rec packet-udp-rcvbuf.rec
# Prints "file site reason count" per site ("-" for summary alerts, which carry no reason). Checks the excerpt
# against the kernel's own symbols: every packet alert names its program counter as the kernel's %pS
# ("udp_queue_rcv_one_skb+0x40b/0x580"), and both recordings were made in one boot (one KASLR offset), so each
# PC must resolve in the excerpt to that function, offset and size; exits 1 when one does not.
import bisect, collections, struct, sys

ALERT, PACKET_ALERT = 1, 5                 # NET_DM_CMD_* (include/uapi/linux/net_dropmon.h)
ATTR_PC, ATTR_SYMBOL, ATTR_REASON = 2, 3, 23  # NET_DM_ATTR_*

syms = sorted((int(a, 16), n) for a, _, n in (l.split()[:3] for l in open(sys.argv[1])))
addrs = [a for a, _ in syms]

def resolve(pc):
    i = bisect.bisect_right(addrs, pc) - 1
    if i < 0 or i + 1 >= len(syms) or pc >= syms[i + 1][0]:
        return None, None
    return f"{syms[i][1]}+{pc - syms[i][0]:#x}", syms[i + 1][0] - syms[i][0]

def messages(datagram):
    offset = 0
    while offset + 20 <= len(datagram):
        length, = struct.unpack_from("<I", datagram, offset)
        yield datagram[offset:offset + length]
        offset += (length + 3) & ~3

def attributes(payload):
    offset = 0
    while offset + 4 <= len(payload):
        length, kind = struct.unpack_from("<HH", payload, offset)
        if length < 4:
            break
        yield kind & 0x3FFF, payload[offset + 4:offset + length]
        offset += (length + 3) & ~3

counts, kernel_symbols = collections.Counter(), {}
for path in sys.argv[2:]:
    for line in open(path):
        kind, _, hexes = line.partition(" ")
        if kind != "event":
            continue
        for m in messages(bytes.fromhex(hexes.strip())):
            command = m[16]  # nlmsghdr (16 bytes), then genlmsghdr: cmd, version, reserved
            if command == ALERT:
                # One attribute holding struct net_dm_alert_msg: u32 entries, then {u8 pc[8]; u32 count} each.
                entries, = struct.unpack_from("<I", m, 24)
                for i in range(entries):
                    pc, count = struct.unpack_from("<QI", m, 28 + 12 * i)
                    counts[(path, pc, "-")] += count
            elif command == PACKET_ALERT:
                a = dict(attributes(m[20:]))
                pc, = struct.unpack("<Q", a[ATTR_PC])
                kernel_symbols[pc] = a[ATTR_SYMBOL].rstrip(b"\0").decode()
                counts[(path, pc, a.get(ATTR_REASON, b"-").rstrip(b"\0").decode())] += 1

failed = False
for (path, pc, reason), count in sorted(counts.items()):
    site, size = resolve(pc)
    excerpt = f"{site}/{size:#x}" if site else "nothing"
    if pc in kernel_symbols and kernel_symbols[pc] != excerpt:
        print(f"{pc:#x}: the kernel says {kernel_symbols[pc]}, the excerpt {excerpt}", file=sys.stderr)
        failed = True
    print(path.rsplit("/", 1)[-1], site or f"{pc:#x}", reason, count)
if not kernel_symbols:
    print("no packet alert names a program counter: nothing checks the excerpt", file=sys.stderr)
    failed = True
sys.exit(1 if failed else 0)
