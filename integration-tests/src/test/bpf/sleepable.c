// A sleepable program (uprobe.s: BPF_F_SLEEPABLE in prog_flags) beside a plain one, for the policy's
// allow_sleepable through LoadObject: the flag comes from the section, never from the request.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("uprobe.s")
int sleepy(void *ctx)
{
    return 0;
}

SEC("xdp")
int awake(struct xdp_md *ctx)
{
    return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
