// CO-RE without vmlinux.h: local definitions of kernel types with only the fields used, at offsets
// that are wrong on purpose; the loader moves them to the running kernel's.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

struct __sk_buff___local {
    __u32 protocol; // the kernel's is at 16
    __u32 len;      // the kernel's is at 0
    __u32 no_such_field;
} __attribute__((preserve_access_index));

enum bpf_func_id___local {
    BPF_FUNC_map_lookup_elem___local = 1000,
};

struct not_a_kernel_type___x {
    int a;
} __attribute__((preserve_access_index));

__u64 results[4] = {};

SEC("socket")
int core_skb(struct __sk_buff *skb)
{
    struct __sk_buff___local *s = (void *)skb;
    results[0] = bpf_core_field_exists(s->no_such_field);
    results[1] = bpf_core_field_exists(s->len);
    results[2] = bpf_core_enum_value(enum bpf_func_id___local, BPF_FUNC_map_lookup_elem___local);
    results[3] = bpf_core_type_exists(struct not_a_kernel_type___x);
    return s->protocol + (s->len << 16);
}

char LICENSE[] SEC("license") = "GPL";
