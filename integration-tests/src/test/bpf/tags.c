// BTF kinds newer than some kernels: a decl tag (5.16), a type tag (5.17) and a float (5.13). The
// loader rewrites them where the kernel does not know them, so the object's BTF still loads.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define __tagged __attribute__((btf_decl_tag("bpf-agent")))
#define __user_ptr __attribute__((btf_type_tag("user")))

struct tagged {
    int value __tagged;
    int __user_ptr *where;
    float ratio;
};

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct tagged);
} tagged_values SEC(".maps");

__noinline int __tagged global_helper(int x)
{
    return x + 1;
}

SEC("socket")
int uses_tags(struct __sk_buff *skb)
{
    __u32 zero = 0;
    struct tagged *t = bpf_map_lookup_elem(&tagged_values, &zero);
    return global_helper(t ? t->value : 0);
}

char LICENSE[] SEC("license") = "GPL";
