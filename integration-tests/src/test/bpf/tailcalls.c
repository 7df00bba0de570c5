// A prog array filled at load from its BTF initialiser, and a map of maps with its inner map.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct inner {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, __u32);
} inner_a SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
    __uint(max_entries, 2);
    __type(key, __u32);
    __array(values, struct inner);
} outer SEC(".maps") = {
    .values = { [0] = &inner_a },
};

SEC("xdp")
int tail_tx(struct xdp_md *ctx)
{
    return XDP_TX;
}

struct {
    __uint(type, BPF_MAP_TYPE_PROG_ARRAY);
    __uint(max_entries, 4);
    __type(key, __u32);
    __array(values, int (void *));
} jumps SEC(".maps") = {
    .values = { [1] = (void *)&tail_tx },
};

SEC("xdp")
int entry(struct xdp_md *ctx)
{
    bpf_tail_call(ctx, &jumps, 1);
    return XDP_ABORTED; // only when the slot is empty
}

// returns inner_a[0], reached through outer[0]
SEC("xdp")
int through_outer(struct xdp_md *ctx)
{
    __u32 zero = 0;
    void *in = bpf_map_lookup_elem(&outer, &zero);
    if (!in)
        return XDP_ABORTED;
    __u32 *v = bpf_map_lookup_elem(in, &zero);
    return v ? *v : XDP_ABORTED;
}

char LICENSE[] SEC("license") = "GPL";
