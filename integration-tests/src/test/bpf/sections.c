// Programs of many sections in one object, and strings (.rodata.str1.1): a tracepoint that counts
// nanosleeps, with the rest only parsed (inspect) or loaded by name.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, __u64);
} sleeps SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_clock_nanosleep")
int count_sleeps(void *ctx)
{
    __u32 zero = 0;
    __u64 *v = bpf_map_lookup_elem(&sleeps, &zero);
    if (v)
        __sync_fetch_and_add(v, 1);
    return 0;
}

SEC("tc")
int tc_pass(struct __sk_buff *skb)
{
    return 0;
}

SEC("cgroup_skb/ingress")
int cg_allow(struct __sk_buff *skb)
{
    return 1;
}

SEC("cgroup/connect4")
int cg_connect(struct bpf_sock_addr *ctx)
{
    return 1;
}

SEC("raw_tp/sys_enter")
int raw_hello(void *ctx)
{
    bpf_printk("hello %d", 42);
    return 0;
}

SEC("kprobe/do_unlinkat")
int kp(void *ctx)
{
    return 0;
}

SEC("fentry/do_unlinkat")
int fe(void *ctx)
{
    return 0;
}

SEC("no_such_section")
int unknown(void *ctx)
{
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
