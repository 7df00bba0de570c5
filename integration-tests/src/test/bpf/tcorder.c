// For ApplicationsTest: several applications each load this with their own digit and share `order`.
// Each copy that sees a UDP packet to `port` records its digit, order[0] = order[0] * 10 + digit, and
// lets the next program on the hook run: the digits read back are the order the programs ran in.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

volatile const __u32 digit = 0;
volatile const __u32 port = 0;

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __type(key, __u32);
    __type(value, __u64);
    __uint(max_entries, 1);
} order SEC(".maps");

SEC("tc")
int record(struct __sk_buff *skb) {
    void *data = (void *)(long)skb->data;
    void *end = (void *)(long)skb->data_end;
    struct ethhdr *eth = data;
    if ((void *)(eth + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP)) {
        return -1;
    }
    struct iphdr *ip = (void *)(eth + 1);
    if ((void *)(ip + 1) > end || ip->protocol != IPPROTO_UDP || ip->ihl != 5) {
        return -1;
    }
    struct udphdr *udp = (void *)(ip + 1);
    if ((void *)(udp + 1) > end || bpf_ntohs(udp->dest) != port) {
        return -1;
    }
    __u32 k = 0;
    __u64 *v = bpf_map_lookup_elem(&order, &k);
    if (v) {
        *v = *v * 10 + digit;
    }
    return -1; // TCX_NEXT (tcx), TC_ACT_UNSPEC (a tc filter): the next program runs
}

char LICENSE[] SEC("license") = "GPL";
