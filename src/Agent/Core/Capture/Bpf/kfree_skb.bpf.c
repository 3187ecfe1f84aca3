// SPDX-License-Identifier: GPL-2.0
// Counts packet drops in the kernel: one per-CPU hash entry per (drop location, reason, protocol, network
// namespace). The agent reads the map every bucket period, so no per-drop record crosses to user space and
// none can be lost; a key that finds the map full is counted in `overflow`, never silently left out. With
// --consume, normal frees (consume_skb) are counted the same way per location, in a map of their own.
// Flows: when the agent sets a rate cap, up to that many drops a second also send their packet's headers
// (5-tuple, ifindex, namespace, reason, site) through a ring buffer; each entry counts its sampled drops beside
// its drops, so the drops not sampled (over the cap, or the ring full) are known exactly, per key.
// Built by build.sh. CO-RE: the few kernel fields read are declared below with preserve_access_index and
// relocated by libbpf against the running kernel's BTF at load time. Declaring them here instead of including a
// vmlinux.h dumped from the build machine keeps the object independent of the kernel it was built on, so CI can
// rebuild it anywhere and compare bytes.
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>

struct ns_common { unsigned int inum; } __attribute__((preserve_access_index));
struct net { struct ns_common ns; } __attribute__((preserve_access_index));
typedef struct { struct net *net; } __attribute__((preserve_access_index)) possible_net_t;
struct net_device { possible_net_t nd_net; int ifindex; } __attribute__((preserve_access_index));
struct sock_common { possible_net_t skc_net; } __attribute__((preserve_access_index));
struct sock { struct sock_common __sk_common; } __attribute__((preserve_access_index));
struct sk_buff {
	struct net_device *dev;
	struct sock *sk;
	int skb_iif;
	__be16 protocol;
	__u16 transport_header;
	__u16 network_header;
	unsigned char *head;
} __attribute__((preserve_access_index));

// Layout shared with BpfDropMap.cs: 24 bytes, padding zeroed so equal drops hash equally.
struct drop_key {
	__u64 location;
	__u32 reason;
	__u32 netns;
	__u16 protocol;
	__u16 pad[3];
};

// Layout shared with DropMapDeltas.cs: per CPU, the drops of a key and how many of them were sampled.
struct drop_count {
	__u64 drops;
	__u64 sampled;
};

// Layout shared with FlowRecord.cs: 64 bytes, version first so a reader can refuse a layout it does not know.
#define FLOW_RECORD_VERSION 1
struct flow_record {
	__u8 version;
	__u8 ip_protocol;
	__u16 protocol;
	__u32 netns;
	__u32 ifindex;
	__u32 reason;
	__u64 location;
	__u8 saddr[16];
	__u8 daddr[16];
	__u16 sport;
	__u16 dport;
	__u32 pad;
};

struct flow_rate {
	__u64 second;
	__u64 taken;
};

#define MAX_KEYS 16384

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, MAX_KEYS);
	__type(key, struct drop_key);
	__type(value, struct drop_count);
} drops SEC(".maps");

// Normal frees (consume_skb) per location, with --consume: counted apart from drops, never mixed with them.
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, MAX_KEYS);
	__type(key, __u64);
	__type(value, __u64);
} frees SEC(".maps");

// Samples per second, written by the agent before it attaches the program; 0 (the default) samples none.
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} flow_cap SEC(".maps");

// The second being sampled and the samples taken in it, shared by every CPU.
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct flow_rate);
} flow_rate SEC(".maps");

// 256 KiB: over 3,000 records, a third of a second at the highest cap the agent allows, read every 10 ms.
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} overflow SEC(".maps");

// The device's namespace (where the packet was received or sent); the socket's when there is no device.
// tp_btf arguments are typed kernel pointers: plain loads (checked by the verifier, a NULL one reads 0) cost
// far less per drop than bpf_probe_read_kernel calls.
static __always_inline __u32 netns_of(struct sk_buff *skb)
{
	struct net_device *dev = skb->dev;
	if (dev)
		return dev->nd_net.net->ns.inum;
	struct sock *sk = skb->sk;
	return sk ? sk->__sk_common.skc_net.net->ns.inum : 0;
}

// Whether this drop may be sampled: at most the cap per second over all CPUs. The first drop of a new second
// starts its count; a drop racing it may land in either second, so a second can see a few over the cap, never
// the cap twice.
static __always_inline int take_sample(void)
{
	__u32 zero = 0;
	__u64 *cap = bpf_map_lookup_elem(&flow_cap, &zero);
	if (!cap || *cap == 0)
		return 0;
	struct flow_rate *rate = bpf_map_lookup_elem(&flow_rate, &zero);
	if (!rate)
		return 0;
	__u64 second = bpf_ktime_get_ns() / 1000000000;
	__u64 seen = rate->second;
	// Past the cap in this second: a plain read, so a flood does not make every CPU write the shared line.
	if (seen == second && rate->taken >= *cap)
		return 0;
	if (seen != second && __sync_val_compare_and_swap(&rate->second, seen, second) == seen) {
		__sync_lock_test_and_set(&rate->taken, 1);
		return 1;
	}
	return __sync_fetch_and_add(&rate->taken, 1) < *cap;
}

// The packet's addresses and ports, from its headers as the kernel last set them (IPv4 and IPv6; TCP, UDP and
// SCTP ports; the first header after IPv6's fixed one is taken as the transport). What cannot be read stays zero.
static __always_inline void read_headers(struct sk_buff *skb, struct flow_record *r)
{
	unsigned char *head = skb->head;
	__u16 network = skb->network_header, transport = skb->transport_header;
	if (network == (__u16)~0U)
		return;
	if (r->protocol == 0x0800) {
		struct { __u8 ver_ihl, tos; __u16 len, id, frag; __u8 ttl, protocol; __u16 check; __u8 saddr[4], daddr[4]; } ip;
		if (bpf_probe_read_kernel(&ip, sizeof(ip), head + network))
			return;
		r->ip_protocol = ip.protocol;
		__builtin_memcpy(r->saddr, ip.saddr, 4);
		__builtin_memcpy(r->daddr, ip.daddr, 4);
		if (transport == (__u16)~0U || transport <= network)
			transport = network + (ip.ver_ihl & 0x0f) * 4;
	} else if (r->protocol == 0x86DD) {
		struct { __u32 flow; __u16 len; __u8 next, hops; __u8 saddr[16], daddr[16]; } ip6;
		if (bpf_probe_read_kernel(&ip6, sizeof(ip6), head + network))
			return;
		r->ip_protocol = ip6.next;
		__builtin_memcpy(r->saddr, ip6.saddr, 16);
		__builtin_memcpy(r->daddr, ip6.daddr, 16);
		if (transport == (__u16)~0U || transport <= network)
			transport = network + 40;
	} else {
		return;
	}
	if (r->ip_protocol == 6 || r->ip_protocol == 17 || r->ip_protocol == 132) {
		__u16 ports[2];
		if (bpf_probe_read_kernel(ports, sizeof(ports), head + transport) == 0) {
			r->sport = bpf_ntohs(ports[0]);
			r->dport = bpf_ntohs(ports[1]);
		}
	}
}

// Sends the drop's headers when the cap allows and the ring has room; says whether it did.
static __always_inline int sample_flow(struct sk_buff *skb, struct drop_key *key)
{
	if (!take_sample())
		return 0;
	struct flow_record *r = bpf_ringbuf_reserve(&flows, sizeof(*r), 0);
	if (!r)
		return 0;
	__builtin_memset(r, 0, sizeof(*r));
	r->version = FLOW_RECORD_VERSION;
	r->protocol = key->protocol;
	r->netns = key->netns;
	r->reason = key->reason;
	r->location = key->location;
	struct net_device *dev = skb->dev;
	r->ifindex = dev ? dev->ifindex : skb->skb_iif;
	read_headers(skb, r);
	bpf_ringbuf_submit(r, 0);
	return 1;
}

// --stacks: the kernel stack of each drop, so a site's drops are split by the path that led to it. Off by default:
// the agent sets capture_stacks before the load, and the verifier drops the dead branch, so a run without --stacks
// pays nothing per drop (the agent also shrinks both maps to one entry). Stack ids are kept (no
// BPF_F_REUSE_STACKID), so an id the agent has read and named always means the same stack; a stack that finds its
// bucket taken by another (-EEXIST) or the map out of room (-ENOMEM) is counted under that negative id, never lost.
#define STACK_DEPTH 24
#define MAX_STACKS 4096
#define MAX_PATHS 16384

// In a section of its own, so the agent sets it without knowing where other read-only data lies.
const volatile __u8 capture_stacks SEC(".rodata.stacks") = 0;

struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, MAX_STACKS);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, STACK_DEPTH * sizeof(__u64));
} stacks SEC(".maps");

// Layout shared with PathMapDeltas.cs: 24 bytes, padding zeroed.
struct path_key {
	__u64 location;
	__u32 reason;
	__u32 netns;
	__s32 stack_id;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, MAX_PATHS);
	__type(key, struct path_key);
	__type(value, __u64);
} paths SEC(".maps");

// Path keys that found the path map full.
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} path_overflow SEC(".maps");

// Counts the drop under its stack; a key that finds the path map full is counted in path_overflow.
static __always_inline void count_path(void *ctx, struct drop_key *drop)
{
	struct path_key key;
	__u64 none = 0, *count;

	__builtin_memset(&key, 0, sizeof(key));
	key.location = drop->location;
	key.reason = drop->reason;
	key.netns = drop->netns;
	key.stack_id = bpf_get_stackid(ctx, &stacks, 0);
	count = bpf_map_lookup_elem(&paths, &key);
	if (!count) {
		bpf_map_update_elem(&paths, &key, &none, BPF_NOEXIST);
		count = bpf_map_lookup_elem(&paths, &key);
	}
	if (count) {
		*count += 1;
		return;
	}
	__u32 zero = 0;
	__u64 *lost = bpf_map_lookup_elem(&path_overflow, &zero);
	if (lost)
		*lost += 1;
}

SEC("tp_btf/kfree_skb")
int BPF_PROG(count_drop, struct sk_buff *skb, void *location, unsigned int reason)
{
	struct drop_key key;
	struct drop_count *count;

	__builtin_memset(&key, 0, sizeof(key));
	key.location = (__u64)location;
	key.reason = (__u32)reason;
	key.netns = netns_of(skb);
	key.protocol = bpf_ntohs(skb->protocol);

	count = bpf_map_lookup_elem(&drops, &key);
	if (!count) {
		// Another CPU may have added the key meanwhile (-EEXIST): its entry has a slot for this CPU too.
		struct drop_count none = {};
		bpf_map_update_elem(&drops, &key, &none, BPF_NOEXIST);
		count = bpf_map_lookup_elem(&drops, &key);
	}
	if (!count) {
		__u32 zero = 0;
		__u64 *lost = bpf_map_lookup_elem(&overflow, &zero);
		if (lost)
			*lost += 1;
		return 0;
	}
	count->drops += 1;
	if (capture_stacks)
		count_path(ctx, &key);
	if (sample_flow(skb, &key))
		count->sampled += 1;
	return 0;
}

// Loaded only with --consume (the agent turns its autoload off otherwise): kernels before 6.3 have no location
// argument on consume_skb, and should not lose the drop program for a feature not asked for.
SEC("tp_btf/consume_skb")
int BPF_PROG(count_free, struct sk_buff *skb, void *location)
{
	__u64 key = (__u64)location, none = 0, *count;

	count = bpf_map_lookup_elem(&frees, &key);
	if (!count) {
		bpf_map_update_elem(&frees, &key, &none, BPF_NOEXIST);
		count = bpf_map_lookup_elem(&frees, &key);
	}
	if (count) {
		*count += 1;
		return 0;
	}
	__u32 zero = 0;
	__u64 *lost = bpf_map_lookup_elem(&overflow, &zero);
	if (lost)
		*lost += 1;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
