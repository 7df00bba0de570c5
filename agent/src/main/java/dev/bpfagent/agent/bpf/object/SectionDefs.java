package dev.bpfagent.agent.bpf.object;

import dev.bpfagent.agent.bpf.AttachType;
import dev.bpfagent.agent.bpf.Hook;
import dev.bpfagent.agent.bpf.ProgramType;
import java.util.List;
import java.util.Optional;

/**
 * libbpf's SEC() naming conventions: a program's section name gives its type, its expected attach
 * type, whether it is sleepable or takes XDP frags, and where it attaches ("kprobe/do_unlinkat"). A
 * definition ending in '+' matches its name alone or followed by '/' and a target; others match
 * exactly. Looked up in order (the more specific first, as libbpf does).
 */
public final class SectionDefs {
    private SectionDefs() {
    }

    /** BPF_F_SLEEPABLE and BPF_F_XDP_HAS_FRAGS (bpf_attr.prog_flags). */
    public static final int BPF_F_SLEEPABLE = 1 << 4, BPF_F_XDP_HAS_FRAGS = 1 << 5;

    /** How a program of this section attaches, for auto-attach. */
    public enum AttachKind {
        NONE, KPROBE, KRETPROBE, KPROBE_MULTI, KRETPROBE_MULTI, KSYSCALL, KRETSYSCALL, UPROBE, URETPROBE,
        UPROBE_MULTI, URETPROBE_MULTI, USDT, TRACEPOINT, RAW_TRACEPOINT, TRACING, LSM, ITER, XDP, TCX_INGRESS,
        TCX_EGRESS, CGROUP, NETNS, NETFILTER, STRUCT_OPS, PERF_EVENT
    }

    /**
     * @param prefix the section name (without '+')
     * @param target whether "/TARGET" may follow
     * @param btfTarget the target is a kernel function or type looked up in BTF at load (fentry, lsm, ...)
     */
    public record Def(String prefix, boolean target, ProgramType type, AttachType attachType, int progFlags,
                      boolean btfTarget, AttachKind attach) {
    }

    private static Def d(String name, ProgramType t, AttachType a, AttachKind k) {
        boolean plus = name.endsWith("+");
        return new Def(plus ? name.substring(0, name.length() - 1) : name, plus, t, a, 0, false, k);
    }

    private static Def s(Def d) {
        return new Def(d.prefix(), d.target(), d.type(), d.attachType(), d.progFlags() | BPF_F_SLEEPABLE, d.btfTarget(),
                d.attach());
    }

    private static Def btf(Def d) {
        return new Def(d.prefix(), d.target(), d.type(), d.attachType(), d.progFlags(), true, d.attach());
    }

    private static Def frags(Def d) {
        return new Def(d.prefix(), d.target(), d.type(), d.attachType(), d.progFlags() | BPF_F_XDP_HAS_FRAGS,
                d.btfTarget(), d.attach());
    }

    static final List<Def> DEFS = List.of(
            d("socket", ProgramType.SOCKET_FILTER, null, AttachKind.NONE),
            d("sk_reuseport/migrate", ProgramType.SK_REUSEPORT, AttachType.SK_REUSEPORT_SELECT_OR_MIGRATE, AttachKind.NONE),
            d("sk_reuseport", ProgramType.SK_REUSEPORT, AttachType.SK_REUSEPORT_SELECT, AttachKind.NONE),
            d("kprobe+", ProgramType.KPROBE, null, AttachKind.KPROBE),
            d("uprobe+", ProgramType.KPROBE, null, AttachKind.UPROBE),
            s(d("uprobe.s+", ProgramType.KPROBE, null, AttachKind.UPROBE)),
            d("kretprobe+", ProgramType.KPROBE, null, AttachKind.KRETPROBE),
            d("uretprobe+", ProgramType.KPROBE, null, AttachKind.URETPROBE),
            s(d("uretprobe.s+", ProgramType.KPROBE, null, AttachKind.URETPROBE)),
            d("kprobe.multi+", ProgramType.KPROBE, AttachType.TRACE_KPROBE_MULTI, AttachKind.KPROBE_MULTI),
            d("kretprobe.multi+", ProgramType.KPROBE, AttachType.TRACE_KPROBE_MULTI, AttachKind.KRETPROBE_MULTI),
            d("kprobe.session+", ProgramType.KPROBE, AttachType.TRACE_KPROBE_SESSION, AttachKind.NONE),
            d("uprobe.multi+", ProgramType.KPROBE, AttachType.TRACE_UPROBE_MULTI, AttachKind.UPROBE_MULTI),
            d("uretprobe.multi+", ProgramType.KPROBE, AttachType.TRACE_UPROBE_MULTI, AttachKind.URETPROBE_MULTI),
            s(d("uprobe.multi.s+", ProgramType.KPROBE, AttachType.TRACE_UPROBE_MULTI, AttachKind.UPROBE_MULTI)),
            s(d("uretprobe.multi.s+", ProgramType.KPROBE, AttachType.TRACE_UPROBE_MULTI, AttachKind.URETPROBE_MULTI)),
            d("uprobe.session+", ProgramType.KPROBE, AttachType.TRACE_UPROBE_SESSION, AttachKind.NONE),
            s(d("uprobe.session.s+", ProgramType.KPROBE, AttachType.TRACE_UPROBE_SESSION, AttachKind.NONE)),
            d("ksyscall+", ProgramType.KPROBE, null, AttachKind.KSYSCALL),
            d("kretsyscall+", ProgramType.KPROBE, null, AttachKind.KRETSYSCALL),
            d("usdt+", ProgramType.KPROBE, null, AttachKind.USDT),
            s(d("usdt.s+", ProgramType.KPROBE, null, AttachKind.USDT)),
            d("tc/ingress", ProgramType.SCHED_CLS, AttachType.TCX_INGRESS, AttachKind.TCX_INGRESS),
            d("tc/egress", ProgramType.SCHED_CLS, AttachType.TCX_EGRESS, AttachKind.TCX_EGRESS),
            d("tcx/ingress", ProgramType.SCHED_CLS, AttachType.TCX_INGRESS, AttachKind.TCX_INGRESS),
            d("tcx/egress", ProgramType.SCHED_CLS, AttachType.TCX_EGRESS, AttachKind.TCX_EGRESS),
            d("tc", ProgramType.SCHED_CLS, null, AttachKind.NONE),
            d("classifier", ProgramType.SCHED_CLS, null, AttachKind.NONE),
            d("action", ProgramType.SCHED_ACT, null, AttachKind.NONE),
            d("netkit/primary", ProgramType.SCHED_CLS, AttachType.NETKIT_PRIMARY, AttachKind.NONE),
            d("netkit/peer", ProgramType.SCHED_CLS, AttachType.NETKIT_PEER, AttachKind.NONE),
            d("tracepoint+", ProgramType.TRACEPOINT, null, AttachKind.TRACEPOINT),
            d("tp+", ProgramType.TRACEPOINT, null, AttachKind.TRACEPOINT),
            d("raw_tracepoint+", ProgramType.RAW_TRACEPOINT, null, AttachKind.RAW_TRACEPOINT),
            d("raw_tp+", ProgramType.RAW_TRACEPOINT, null, AttachKind.RAW_TRACEPOINT),
            d("raw_tracepoint.w+", ProgramType.RAW_TRACEPOINT_WRITABLE, null, AttachKind.RAW_TRACEPOINT),
            d("raw_tp.w+", ProgramType.RAW_TRACEPOINT_WRITABLE, null, AttachKind.RAW_TRACEPOINT),
            btf(d("tp_btf+", ProgramType.TRACING, AttachType.TRACE_RAW_TP, AttachKind.TRACING)),
            btf(d("fentry+", ProgramType.TRACING, AttachType.TRACE_FENTRY, AttachKind.TRACING)),
            btf(d("fmod_ret+", ProgramType.TRACING, AttachType.MODIFY_RETURN, AttachKind.TRACING)),
            btf(d("fexit+", ProgramType.TRACING, AttachType.TRACE_FEXIT, AttachKind.TRACING)),
            s(btf(d("fentry.s+", ProgramType.TRACING, AttachType.TRACE_FENTRY, AttachKind.TRACING))),
            s(btf(d("fmod_ret.s+", ProgramType.TRACING, AttachType.MODIFY_RETURN, AttachKind.TRACING))),
            s(btf(d("fexit.s+", ProgramType.TRACING, AttachType.TRACE_FEXIT, AttachKind.TRACING))),
            btf(d("freplace+", ProgramType.EXT, null, AttachKind.NONE)),
            btf(d("lsm+", ProgramType.LSM, AttachType.LSM_MAC, AttachKind.LSM)),
            s(btf(d("lsm.s+", ProgramType.LSM, AttachType.LSM_MAC, AttachKind.LSM))),
            btf(d("lsm_cgroup+", ProgramType.LSM, AttachType.LSM_CGROUP, AttachKind.NONE)),
            btf(d("iter+", ProgramType.TRACING, AttachType.TRACE_ITER, AttachKind.ITER)),
            s(btf(d("iter.s+", ProgramType.TRACING, AttachType.TRACE_ITER, AttachKind.ITER))),
            s(d("syscall", ProgramType.SYSCALL, null, AttachKind.NONE)),
            frags(d("xdp.frags/devmap", ProgramType.XDP, AttachType.XDP_DEVMAP, AttachKind.NONE)),
            d("xdp/devmap", ProgramType.XDP, AttachType.XDP_DEVMAP, AttachKind.NONE),
            frags(d("xdp.frags/cpumap", ProgramType.XDP, AttachType.XDP_CPUMAP, AttachKind.NONE)),
            d("xdp/cpumap", ProgramType.XDP, AttachType.XDP_CPUMAP, AttachKind.NONE),
            frags(d("xdp.frags", ProgramType.XDP, AttachType.XDP, AttachKind.XDP)),
            d("xdp", ProgramType.XDP, AttachType.XDP, AttachKind.XDP),
            d("perf_event", ProgramType.PERF_EVENT, null, AttachKind.NONE),
            d("lwt_in", ProgramType.LWT_IN, null, AttachKind.NONE),
            d("lwt_out", ProgramType.LWT_OUT, null, AttachKind.NONE),
            d("lwt_xmit", ProgramType.LWT_XMIT, null, AttachKind.NONE),
            d("lwt_seg6local", ProgramType.LWT_SEG6LOCAL, null, AttachKind.NONE),
            d("sockops", ProgramType.SOCK_OPS, AttachType.CGROUP_SOCK_OPS, AttachKind.CGROUP),
            d("sk_skb/stream_parser", ProgramType.SK_SKB, AttachType.SK_SKB_STREAM_PARSER, AttachKind.NONE),
            d("sk_skb/stream_verdict", ProgramType.SK_SKB, AttachType.SK_SKB_STREAM_VERDICT, AttachKind.NONE),
            d("sk_skb/verdict", ProgramType.SK_SKB, AttachType.SK_SKB_VERDICT, AttachKind.NONE),
            d("sk_skb", ProgramType.SK_SKB, null, AttachKind.NONE),
            d("sk_msg", ProgramType.SK_MSG, AttachType.SK_MSG_VERDICT, AttachKind.NONE),
            d("lirc_mode2", ProgramType.LIRC_MODE2, AttachType.LIRC_MODE2, AttachKind.NONE),
            d("flow_dissector", ProgramType.FLOW_DISSECTOR, AttachType.FLOW_DISSECTOR, AttachKind.NETNS),
            d("cgroup_skb/ingress", ProgramType.CGROUP_SKB, AttachType.CGROUP_INET_INGRESS, AttachKind.CGROUP),
            d("cgroup_skb/egress", ProgramType.CGROUP_SKB, AttachType.CGROUP_INET_EGRESS, AttachKind.CGROUP),
            d("cgroup/skb", ProgramType.CGROUP_SKB, null, AttachKind.NONE),
            d("cgroup/sock_create", ProgramType.CGROUP_SOCK, AttachType.CGROUP_INET_SOCK_CREATE, AttachKind.CGROUP),
            d("cgroup/sock_release", ProgramType.CGROUP_SOCK, AttachType.CGROUP_INET_SOCK_RELEASE, AttachKind.CGROUP),
            d("cgroup/sock", ProgramType.CGROUP_SOCK, AttachType.CGROUP_INET_SOCK_CREATE, AttachKind.CGROUP),
            d("cgroup/post_bind4", ProgramType.CGROUP_SOCK, AttachType.CGROUP_INET4_POST_BIND, AttachKind.CGROUP),
            d("cgroup/post_bind6", ProgramType.CGROUP_SOCK, AttachType.CGROUP_INET6_POST_BIND, AttachKind.CGROUP),
            d("cgroup/bind4", ProgramType.CGROUP_SOCK_ADDR, AttachType.CGROUP_INET4_BIND, AttachKind.CGROUP),
            d("cgroup/bind6", ProgramType.CGROUP_SOCK_ADDR, AttachType.CGROUP_INET6_BIND, AttachKind.CGROUP),
            d("cgroup/connect4", ProgramType.CGROUP_SOCK_ADDR, AttachType.CGROUP_INET4_CONNECT, AttachKind.CGROUP),
            d("cgroup/connect6", ProgramType.CGROUP_SOCK_ADDR, AttachType.CGROUP_INET6_CONNECT, AttachKind.CGROUP),
            d("cgroup/connect_unix", ProgramType.CGROUP_SOCK_ADDR, AttachType.CGROUP_UNIX_CONNECT, AttachKind.CGROUP),
            d("cgroup/sendmsg4", ProgramType.CGROUP_SOCK_ADDR, AttachType.CGROUP_UDP4_SENDMSG, AttachKind.CGROUP),
            d("cgroup/sendmsg6", ProgramType.CGROUP_SOCK_ADDR, AttachType.CGROUP_UDP6_SENDMSG, AttachKind.CGROUP),
            d("cgroup/sendmsg_unix", ProgramType.CGROUP_SOCK_ADDR, AttachType.CGROUP_UNIX_SENDMSG, AttachKind.CGROUP),
            d("cgroup/recvmsg4", ProgramType.CGROUP_SOCK_ADDR, AttachType.CGROUP_UDP4_RECVMSG, AttachKind.CGROUP),
            d("cgroup/recvmsg6", ProgramType.CGROUP_SOCK_ADDR, AttachType.CGROUP_UDP6_RECVMSG, AttachKind.CGROUP),
            d("cgroup/recvmsg_unix", ProgramType.CGROUP_SOCK_ADDR, AttachType.CGROUP_UNIX_RECVMSG, AttachKind.CGROUP),
            d("cgroup/getpeername4", ProgramType.CGROUP_SOCK_ADDR, AttachType.CGROUP_INET4_GETPEERNAME, AttachKind.CGROUP),
            d("cgroup/getpeername6", ProgramType.CGROUP_SOCK_ADDR, AttachType.CGROUP_INET6_GETPEERNAME, AttachKind.CGROUP),
            d("cgroup/getpeername_unix", ProgramType.CGROUP_SOCK_ADDR, AttachType.CGROUP_UNIX_GETPEERNAME, AttachKind.CGROUP),
            d("cgroup/getsockname4", ProgramType.CGROUP_SOCK_ADDR, AttachType.CGROUP_INET4_GETSOCKNAME, AttachKind.CGROUP),
            d("cgroup/getsockname6", ProgramType.CGROUP_SOCK_ADDR, AttachType.CGROUP_INET6_GETSOCKNAME, AttachKind.CGROUP),
            d("cgroup/getsockname_unix", ProgramType.CGROUP_SOCK_ADDR, AttachType.CGROUP_UNIX_GETSOCKNAME, AttachKind.CGROUP),
            d("cgroup/sysctl", ProgramType.CGROUP_SYSCTL, AttachType.CGROUP_SYSCTL, AttachKind.CGROUP),
            d("cgroup/getsockopt", ProgramType.CGROUP_SOCKOPT, AttachType.CGROUP_GETSOCKOPT, AttachKind.CGROUP),
            d("cgroup/setsockopt", ProgramType.CGROUP_SOCKOPT, AttachType.CGROUP_SETSOCKOPT, AttachKind.CGROUP),
            d("cgroup/dev", ProgramType.CGROUP_DEVICE, AttachType.CGROUP_DEVICE, AttachKind.CGROUP),
            d("struct_ops+", ProgramType.STRUCT_OPS, null, AttachKind.STRUCT_OPS),
            s(d("struct_ops.s+", ProgramType.STRUCT_OPS, null, AttachKind.STRUCT_OPS)),
            d("sk_lookup", ProgramType.SK_LOOKUP, AttachType.SK_LOOKUP, AttachKind.NETNS),
            d("netfilter", ProgramType.NETFILTER, AttachType.NETFILTER, AttachKind.NETFILTER));

    /** The definition a section name matches, or empty (libbpf then refuses to load the program). */
    public static Optional<Def> find(String section) {
        for (Def d : DEFS) {
            if (section.equals(d.prefix()) || (d.target() && section.startsWith(d.prefix() + "/"))) {
                return Optional.of(d);
            }
        }
        return Optional.empty();
    }

    /** What follows "PREFIX/" in the section name ("" when nothing does). */
    public static String target(Def d, String section) {
        return section.length() > d.prefix().length() ? section.substring(d.prefix().length() + 1) : "";
    }

    /** The hook a section names, as libbpf's auto-attach reads it; empty when it names none. */
    public static Optional<Hook> hook(String section) {
        Optional<Def> d = find(section);
        if (d.isEmpty()) {
            return Optional.empty();
        }
        String t = target(d.get(), section);
        AttachKind k = d.get().attach();
        if (t.isEmpty() && k != AttachKind.TRACING && k != AttachKind.LSM
                && k != AttachKind.ITER) {
            return Optional.empty();
        }
        return Optional.ofNullable(switch (k) {
            case TRACEPOINT -> {
                int slash = t.indexOf('/');
                yield slash > 0 ? new Hook.Tracepoint(t.substring(0, slash),
                        t.substring(slash + 1), 0) : null;
            }
            case RAW_TRACEPOINT -> new Hook.RawTracepoint(t, 0);
            case KPROBE, KRETPROBE -> {
                int plus = t.indexOf('+');
                long off = plus > 0 ? Long.decode(t.substring(plus + 1)) : 0;
                yield new Hook.Kprobe(plus > 0 ? t.substring(0, plus) : t, off,
                        k == AttachKind.KRETPROBE, 0);
            }
            case KSYSCALL, KRETSYSCALL -> new Hook.Kprobe(syscallPrefix() + t, 0,
                    k == AttachKind.KRETSYSCALL, 0);
            case UPROBE, URETPROBE -> {
                int colon = t.lastIndexOf(':');
                if (colon <= 0) {
                    yield null;
                }
                String fn = t.substring(colon + 1);
                int plus = fn.indexOf('+');
                long off = plus > 0 ? Long.decode(fn.substring(plus + 1)) : 0;
                yield new Hook.Uprobe(t.substring(0, colon), plus > 0 ? fn.substring(0, plus)
                        : fn, off, k == AttachKind.URETPROBE, -1, 0);
            }
            case KPROBE_MULTI, KRETPROBE_MULTI -> t.contains("*") || t.contains("?") ? null
                    : new Hook.KprobeMulti(List.of(t),
                    k == AttachKind.KRETPROBE_MULTI);
            case TRACING, LSM -> new Hook.Tracing(0);
            case ITER -> new Hook.Iter(null);
            default -> null;
        });
    }

    /** The syscall wrappers' prefix on this architecture (ksyscall/NAME probes PREFIX + NAME). */
    static String syscallPrefix() {
        return switch (System.getProperty("os.arch")) {
            case "aarch64" -> "__arm64_sys_";
            case "s390x" -> "__s390x_sys_";
            case "riscv64" -> "__riscv_sys_";
            default -> "__x64_sys_";
        };
    }
}
