// Global data, BTF-defined maps, subprograms: an XDP program whose verdict is a .rodata constant the
// loader may set, counting packets in .bss and by protocol in a hash map.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 16);
    __type(key, __u32);
    __type(value, __u64);
} by_len SEC(".maps");

volatile const __u32 verdict = XDP_PASS;
__u64 packets = 0;
__u32 last_len = 0;
char greeting[8] = "hello";

static __noinline __u32 packet_len(struct xdp_md *ctx)
{
    return ctx->data_end - ctx->data;
}

__noinline int count(__u32 len)
{
    __u64 one = 1, *v = bpf_map_lookup_elem(&by_len, &len);
    if (v)
        __sync_fetch_and_add(v, 1);
    else
        bpf_map_update_elem(&by_len, &len, &one, BPF_ANY);
    return 0;
}

SEC("xdp")
int xdp_verdict(struct xdp_md *ctx)
{
    __u32 len = packet_len(ctx);
    packets++;
    last_len = len + greeting[0] - 'h';
    count(len);
    return verdict;
}

SEC("socket")
int sock_all(struct __sk_buff *skb)
{
    return skb->len;
}

char LICENSE[] SEC("license") = "GPL";
