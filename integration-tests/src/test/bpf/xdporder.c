// For ApplicationsTest's XDP dispatcher test: several applications (and xdp-loader) load this, each
// with its own digit. Each copy that sees a UDP packet to `port` (0: any) appends its digit to
// order[0] (order[0] * 10 + digit) and returns `verdict` (XDP_PASS unless set): the digits read back
// are the order the dispatcher ran the programs in, and stop at the first that did not let the next run.
// A copy with digit 0 (xdp-loader's, which sets no .rodata) counts the packets it saw instead.
// Its XDP_RUN_CONFIG says priority 45.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

volatile const __u32 digit = 0;
volatile const __u32 port = 0;
volatile const __u32 verdict = XDP_PASS;

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __type(key, __u32);
    __type(value, __u64);
    __uint(max_entries, 1);
} order SEC(".maps");

// libxdp's XDP_RUN_CONFIG (xdp/xdp_helpers.h): the run priority xdp-loader, and the agent for a rule
// that gives none, place this program at; the next program runs after XDP_PASS (libxdp's default).
#define XDP_RUN_CONFIG(f) _##f SEC(".xdp_run_config")
struct {
    __uint(priority, 45);
    __uint(XDP_PASS, 1);
} XDP_RUN_CONFIG(record);

SEC("xdp")
int record(struct xdp_md *ctx) {
    void *data = (void *)(long)ctx->data;
    void *end = (void *)(long)ctx->data_end;
    struct ethhdr *eth = data;
    if ((void *)(eth + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP)) {
        return XDP_PASS;
    }
    struct iphdr *ip = (void *)(eth + 1);
    if ((void *)(ip + 1) > end || ip->protocol != IPPROTO_UDP || ip->ihl != 5) {
        return XDP_PASS;
    }
    struct udphdr *udp = (void *)(ip + 1);
    if ((void *)(udp + 1) > end || (port != 0 && bpf_ntohs(udp->dest) != port)) {
        return XDP_PASS;
    }
    __u32 k = 0;
    __u64 *v = bpf_map_lookup_elem(&order, &k);
    if (v) {
        *v = digit ? *v * 10 + digit : *v + 1;
    }
    return verdict;
}

char LICENSE[] SEC("license") = "GPL";
