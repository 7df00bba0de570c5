// .kconfig externs filled from the running kernel's config, and a kfunc called by its BTF id.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

extern unsigned int LINUX_KERNEL_VERSION __kconfig;
extern _Bool CONFIG_BPF_SYSCALL __kconfig;
extern int CONFIG_NR_CPUS __kconfig __weak;
extern _Bool CONFIG_BPF_AGENT_NO_SUCH_OPTION __kconfig __weak;

__u64 seen[4] = {};

SEC("xdp")
int read_config(struct xdp_md *ctx)
{
    seen[0] = LINUX_KERNEL_VERSION;
    seen[1] = CONFIG_BPF_SYSCALL;
    seen[2] = CONFIG_NR_CPUS;
    seen[3] = CONFIG_BPF_AGENT_NO_SUCH_OPTION;
    return XDP_PASS;
}

extern void bpf_rcu_read_lock(void) __ksym;
extern void bpf_rcu_read_unlock(void) __ksym;

SEC("xdp")
int with_kfunc(struct xdp_md *ctx)
{
    bpf_rcu_read_lock();
    bpf_rcu_read_unlock();
    return XDP_TX;
}

char LICENSE[] SEC("license") = "GPL";
