// A legacy "maps" section (struct bpf_map_def, as objects built for old libbpf have) and a static
// subprogram in the program's own section.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct bpf_map_def_legacy {
    unsigned int type;
    unsigned int key_size;
    unsigned int value_size;
    unsigned int max_entries;
    unsigned int map_flags;
};

struct bpf_map_def_legacy SEC("maps") legacy_counts = {
    .type = BPF_MAP_TYPE_ARRAY,
    .key_size = sizeof(__u32),
    .value_size = sizeof(__u64),
    .max_entries = 2,
};

static __attribute__((noinline)) int bump(__u32 key)
{
    __u64 *v = bpf_map_lookup_elem(&legacy_counts, &key);
    if (v)
        __sync_fetch_and_add(v, 1);
    return 0;
}

SEC("socket")
int legacy_sock(struct __sk_buff *skb)
{
    bump(1);
    return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
