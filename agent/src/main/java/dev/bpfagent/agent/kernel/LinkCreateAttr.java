package dev.bpfagent.agent.kernel;

/**
 * The inputs of BPF_LINK_CREATE, named as in union bpf_attr's link_create. The target is an fd
 * (cgroup, netns, perf event, target program) or an ifindex (XDP, tcx), never both; fds that are null
 * are passed as 0. {@link #union} is the member this attach type reads.
 */
public record LinkCreateAttr(Fd prog_fd, Fd target_fd, int target_ifindex, int attach_type, int flags, Union union) {

    public LinkCreateAttr {
        if (target_fd != null && target_ifindex != 0) {
            throw new IllegalArgumentException("link_create takes target_fd or target_ifindex, not both");
        }
        union = union == null ? new None() : union;
    }

    /** The union member after the shared fields. */
    public sealed interface Union {
    }

    public record None() implements Union {
    }

    /** Tracing programs (fentry/fexit/freplace...): a BTF id in the target. */
    public record Tracing(int target_btf_id) implements Union {
    }

    /** BPF_PERF_EVENT links (kprobe, uprobe, tracepoint, perf event): the value bpf_get_attach_cookie reads. */
    public record PerfEvent(long bpf_cookie) implements Union {
    }

    /**
     * tcx (6.6+): where among the interface's programs this one goes, relative to relative_fd or
     * relative_id (with BPF_F_BEFORE / BPF_F_AFTER / BPF_F_ID in flags); expected_revision 0 for any.
     */
    public record Tcx(Fd relative_fd, int relative_id, long expected_revision) implements Union {
    }

    /**
     * uprobe_multi (6.6+): one link of uprobes at many offsets of one binary (flags BPF_F_UPROBE_MULTI_RETURN
     * for uretprobes), for one process (pid) or all (0); cookies empty or one per offset.
     */
    public record UprobeMulti(String path, long[] offsets, long[] cookies, int flags, int pid) implements Union {
    }

    /**
     * kprobe_multi (5.18+, with fprobe): kprobes (or kretprobes: flags BPF_F_KPROBE_MULTI_RETURN) on many
     * kernel functions by name as one link; cookies empty or one per symbol.
     */
    public record KprobeMulti(String[] syms, long[] cookies, int flags) implements Union {
    }

    /** netfilter (6.4+): protocol family, hook, priority, flags. */
    public record Netfilter(int pf, int hooknum, int priority, int flags) implements Union {
    }

    /** Iterators over a map's elements: the map (struct bpf_iter_link_info's map.map_fd). */
    public record Iter(Fd map_fd) implements Union {
    }
}
