# An independent decode of ring-kfree_skb-6.18.bin with Python's struct, sharing no code with DropBoard:
#   python3 decode-ring.py [ring.bin] [format.txt] [kallsyms]
# Prints "count function+0xoffset reason" per site: what the README says the fixture holds.
import bisect, collections, re, struct, sys

ring = open(sys.argv[1] if len(sys.argv) > 1 else "ring-kfree_skb-6.18.bin", "rb").read()
fmt = open(sys.argv[2] if len(sys.argv) > 2 else "kfree_skb-format-6.18.txt").read()
syms = sorted((int(a, 16), n) for a, t, n in (l.split()[:3] for l in open(sys.argv[3] if len(sys.argv) > 3 else "ring-kfree_skb-6.18.kallsyms")))

# Field offsets and sizes from the format file; reason names from __print_symbolic in its print fmt.
fields = {m[1]: (int(m[2]), int(m[3])) for m in re.finditer(r"field:[^;]*?(\w+);\s*offset:(\d+);\s*size:(\d+);", fmt)}
reasons = {int(n): s for n, s in re.findall(r'\{\s*(\d+),\s*"(\w+)"\s*\}', fmt)}

counts, offset = collections.Counter(), 0
while offset + 8 <= len(ring):
    rtype, misc, size = struct.unpack_from("<IHH", ring, offset)
    if size < 8:
        sys.exit(f"record of size {size} at {offset}")
    if rtype == 9:  # PERF_RECORD_SAMPLE with TIME | CPU | RAW: u64 time, u32 cpu, u32 res, u32 raw size, raw
        time, cpu, res, raw_size = struct.unpack_from("<QIII", ring, offset + 8)
        raw = ring[offset + 28: offset + 28 + raw_size]
        loc_off, loc_size = fields["location"]
        location = int.from_bytes(raw[loc_off:loc_off + loc_size], "little")
        reason_off, reason_size = fields["reason"]
        reason = reasons.get(int.from_bytes(raw[reason_off:reason_off + reason_size], "little"), "?")
        i = bisect.bisect_right([a for a, _ in syms], location) - 1
        # Inside the symbol only if the next one (the excerpt keeps it) starts later.
        site = f"{syms[i][1]}+{location - syms[i][0]:#x}" if i >= 0 and i + 1 < len(syms) and location < syms[i + 1][0] else f"{location:#x} (outside the excerpt)"
        counts[(site, reason)] += 1
    offset += size
for (site, reason), n in sorted(counts.items()):
    print(n, site, reason)
