// An XDP firewall for ApplicationsTest. The entry program (firewall) parses Ethernet/IPv4/UDP and
// tail-calls udp_verdict through the program array `verdicts` (filled at load from its initialiser);
// udp_verdict drops UDP to ports in `blocked` and reports each drop as a record in the ring buffer
// `drops`. Per-CPU counters: slot 0 passed UDP, 1 dropped, 2 the version that ran last, 3 UDP the tail
// call missed (an empty slot: passed unjudged).
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
    __uint(max_entries, 4);
} counters SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 16384);
} drops SEC(".maps");

// One record per dropped packet: the port and the version that dropped it.
struct drop {
    __u64 version;
    __u16 port;
    __u16 pad[3];
};

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
int udp_verdict(struct xdp_md *ctx) {
    void *data = (void *)(long)ctx->data;
    void *end = (void *)(long)ctx->data_end;
    struct udphdr *udp = data + sizeof(struct ethhdr) + sizeof(struct iphdr);
    if ((void *)(udp + 1) > end) {
        return XDP_PASS;
    }
    __u16 port = bpf_ntohs(udp->dest);
    if (bpf_map_lookup_elem(&blocked, &port)) {
        count(1);
        struct drop d = {.version = version, .port = port};
        bpf_ringbuf_output(&drops, &d, sizeof(d), 0);
        return XDP_DROP;
    }
    count(0);
    return XDP_PASS;
}

struct {
    __uint(type, BPF_MAP_TYPE_PROG_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __array(values, int (void *));
} verdicts SEC(".maps") = {
    .values = { [0] = (void *)&udp_verdict },
};

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
    bpf_tail_call(ctx, &verdicts, 0);
    count(3);
    return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
