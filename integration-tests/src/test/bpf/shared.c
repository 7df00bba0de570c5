// Maps pinned by name that a caller may have made and pinned first (a counter, a prog array): the
// object borrows them. own_hits is the object's own. bad_tp names a tracepoint no kernel has, so
// auto-attach fails after everything loaded.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 16);
    __type(key, __u32);
    __type(value, __u64);
    __uint(pinning, LIBBPF_PIN_BY_NAME);
} counts SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PROG_ARRAY);
    __uint(max_entries, 4);
    __type(key, __u32);
    __type(value, __u32);
    __uint(pinning, LIBBPF_PIN_BY_NAME);
} jmp_table SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, __u64);
} own_hits SEC(".maps");

static void count(void)
{
    __u32 k = 0;
    __u64 *v = bpf_map_lookup_elem(&counts, &k);
    if (v)
        __sync_fetch_and_add(v, 1);
    v = bpf_map_lookup_elem(&own_hits, &k);
    if (v)
        __sync_fetch_and_add(v, 1);
}

SEC("xdp")
int shared_xdp(struct xdp_md *ctx)
{
    count();
    bpf_tail_call(ctx, &jmp_table, 1);
    return XDP_PASS;
}

SEC("tracepoint/no_such_category/no_such_event")
int bad_tp(void *ctx)
{
    count();
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
