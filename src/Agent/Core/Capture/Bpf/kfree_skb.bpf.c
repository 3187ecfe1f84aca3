// SPDX-License-Identifier: GPL-2.0
// Counts packet drops in the kernel: one per-CPU hash entry per (drop location, reason, protocol, network
// namespace). The agent reads the map every bucket period, so no per-drop record crosses to user space and
// none can be lost; a key that finds the map full is counted in `overflow`, never silently left out.
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
struct net_device { possible_net_t nd_net; } __attribute__((preserve_access_index));
struct sock_common { possible_net_t skc_net; } __attribute__((preserve_access_index));
struct sock { struct sock_common __sk_common; } __attribute__((preserve_access_index));
struct sk_buff {
	struct net_device *dev;
	struct sock *sk;
	__be16 protocol;
} __attribute__((preserve_access_index));

// Layout shared with BpfDropMap.cs: 24 bytes, padding zeroed so equal drops hash equally.
struct drop_key {
	__u64 location;
	__u32 reason;
	__u32 netns;
	__u16 protocol;
	__u16 pad[3];
};

#define MAX_KEYS 16384

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, MAX_KEYS);
	__type(key, struct drop_key);
	__type(value, __u64);
} drops SEC(".maps");

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

SEC("tp_btf/kfree_skb")
int BPF_PROG(count_drop, struct sk_buff *skb, void *location, unsigned int reason)
{
	struct drop_key key;
	__u64 one = 1, *count;

	__builtin_memset(&key, 0, sizeof(key));
	key.location = (__u64)location;
	key.reason = (__u32)reason;
	key.netns = netns_of(skb);
	key.protocol = bpf_ntohs(skb->protocol);

	count = bpf_map_lookup_elem(&drops, &key);
	if (count) {
		*count += 1;
		return 0;
	}
	// Another CPU may have added the key meanwhile (-EEXIST): its entry has a slot for this CPU too.
	if (bpf_map_update_elem(&drops, &key, &one, BPF_NOEXIST) == 0)
		return 0;
	count = bpf_map_lookup_elem(&drops, &key);
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
