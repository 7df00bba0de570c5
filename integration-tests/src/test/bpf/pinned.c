// A map pinned by name (LIBBPF_PIN_BY_NAME): every load of this object shares it.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, __u64);
    __uint(pinning, LIBBPF_PIN_BY_NAME);
} shared_runs SEC(".maps");

SEC("socket")
int count_runs(struct __sk_buff *skb)
{
    __u32 zero = 0;
    __u64 *v = bpf_map_lookup_elem(&shared_runs, &zero);
    if (v)
        __sync_fetch_and_add(v, 1);
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
