// shared.c's maps pinned by name, and programs that fail at each stage of a load after the maps
// they share were reused: a call to a kfunc no kernel has (relocation), an unchecked packet read (the
// verifier), a map pinned by name whose name is longer than a file name may be (the pin). A failed
// load must leave what it found exactly as it was and take back what it made (made_here's pin).
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
    __uint(pinning, LIBBPF_PIN_BY_NAME);
} made_here SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, __u64);
    __uint(pinning, LIBBPF_PIN_BY_NAME);
} a_map_whose_name_is_longer_than_any_file_name_a_map_whose_name_is_longer_than_any_file_name_a_map_whose_name_is_longer_than_any_file_name_a_map_whose_name_is_longer_than_any_file_name_a_map_whose_name_is_longer_than_any_file_name_a_map_whose_name_is_longer_than_any_file_name_so_no_pin_can_be_made SEC(".maps");

extern void bpf_agent_no_such_kfunc(void) __ksym;

static void count(void *made)
{
    __u32 k = 0;
    __u64 *v = bpf_map_lookup_elem(&counts, &k);
    if (v)
        __sync_fetch_and_add(v, 1);
    v = bpf_map_lookup_elem(made, &k);
    if (v)
        __sync_fetch_and_add(v, 1);
}

SEC("xdp")
int bad_reloc(struct xdp_md *ctx)
{
    count(&made_here);
    bpf_agent_no_such_kfunc();
    return XDP_PASS;
}

SEC("xdp")
int bad_verify(struct xdp_md *ctx)
{
    unsigned char *data = (void *)(long)ctx->data;
    count(&made_here);
    bpf_tail_call(ctx, &jmp_table, 1);
    return data[0] ? XDP_PASS : XDP_DROP; // no check against data_end: the verifier refuses it
}

SEC("xdp")
int bad_pin(struct xdp_md *ctx)
{
    count(&made_here);
    count(&a_map_whose_name_is_longer_than_any_file_name_a_map_whose_name_is_longer_than_any_file_name_a_map_whose_name_is_longer_than_any_file_name_a_map_whose_name_is_longer_than_any_file_name_a_map_whose_name_is_longer_than_any_file_name_a_map_whose_name_is_longer_than_any_file_name_so_no_pin_can_be_made);
    return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
