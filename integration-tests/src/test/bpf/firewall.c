// An XDP firewall for ApplicationsTest: drops UDP to ports in `blocked`, counts per CPU what it passed
// and dropped, and says which version it is in the top bits of its counters' slot 2.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __type(key, __u16);
    __type(value, __u8);
    __uint(max_entries, 64);
} blocked SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __type(key, __u32);
    __type(value, __u64);
    __uint(max_entries, 3);
} counters SEC(".maps");

volatile const __u64 version = 1;
// Set to 1, the program reads memory it may not: the verifier refuses it (a bad version to apply).
volatile const __u32 reject = 0;

static __always_inline void count(__u32 slot) {
    __u64 *c = bpf_map_lookup_elem(&counters, &slot);
    if (c) {
        *c += 1;
    }
}

SEC("xdp")
int firewall(struct xdp_md *ctx) {
    void *data = (void *)(long)ctx->data;
    void *end = (void *)(long)ctx->data_end;
    __u32 v = 2;
    __u64 *ver = bpf_map_lookup_elem(&counters, &v);
    if (ver) {
        *ver = version;
    }
    if (reject) {
        return *(volatile int *)(long)version;
    }
    struct ethhdr *eth = data;
    if ((void *)(eth + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP)) {
        return XDP_PASS;
    }
    struct iphdr *ip = (void *)(eth + 1);
    if ((void *)(ip + 1) > end || ip->protocol != IPPROTO_UDP || ip->ihl != 5) {
        return XDP_PASS;
    }
    struct udphdr *udp = (void *)(ip + 1);
    if ((void *)(udp + 1) > end) {
        return XDP_PASS;
    }
    __u16 port = bpf_ntohs(udp->dest);
    if (bpf_map_lookup_elem(&blocked, &port)) {
        count(1);
        return XDP_DROP;
    }
    count(0);
    return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
