package dev.bpfagent.client;

import dev.bpfagent.proto.v1.AttachType;
import dev.bpfagent.proto.v1.CgroupHook;
import dev.bpfagent.proto.v1.Hook;
import dev.bpfagent.proto.v1.Interface;
import dev.bpfagent.proto.v1.KprobeHook;
import dev.bpfagent.proto.v1.NetfilterHook;
import dev.bpfagent.proto.v1.NetnsHook;
import dev.bpfagent.proto.v1.PerfEventHook;
import dev.bpfagent.proto.v1.RawTracepointHook;
import dev.bpfagent.proto.v1.TcDirection;
import dev.bpfagent.proto.v1.TcxHook;
import dev.bpfagent.proto.v1.TracepointHook;
import dev.bpfagent.proto.v1.TracingHook;
import dev.bpfagent.proto.v1.UprobeHook;
import dev.bpfagent.proto.v1.XdpHook;
import dev.bpfagent.proto.v1.XdpMode;

/**
 * Typed hooks for {@link BpfClient#attach(int, Hook)}, one factory per kind (the seed's attach-*
 * functions). Each builds the proto {@link Hook}; set more fields (cookies, pids) on its builder.
 */
public final class Hooks {
    private Hooks() {
    }

    /** A tracepoint: category and name as in tracefs events/, e.g. ("syscalls", "sys_enter_openat"). */
    public static Hook tracepoint(String category, String name) {
        return Hook.newBuilder().setTracepoint(TracepointHook.newBuilder().setCategory(category).setName(name)).build();
    }

    /** A raw tracepoint by name without category, e.g. "sched_switch". */
    public static Hook rawTracepoint(String name) {
        return Hook.newBuilder().setRawTracepoint(RawTracepointHook.newBuilder().setName(name)).build();
    }

    public static Hook kprobe(String function) {
        return Hook.newBuilder().setKprobe(KprobeHook.newBuilder().setFunction(function)).build();
    }

    public static Hook kretprobe(String function) {
        return Hook.newBuilder().setKprobe(KprobeHook.newBuilder().setFunction(function).setRetprobe(true)).build();
    }

    /** A uprobe on a function by symbol ("malloc", "malloc@@GLIBC_2.2.5") in a binary on the agent's host. */
    public static Hook uprobe(String binary, String symbol) {
        return Hook.newBuilder().setUprobe(UprobeHook.newBuilder().setBinary(binary).setSymbol(symbol)).build();
    }

    public static Hook uretprobe(String binary, String symbol) {
        return Hook.newBuilder().setUprobe(UprobeHook.newBuilder().setBinary(binary).setSymbol(symbol)
                .setRetprobe(true)).build();
    }

    /**
     * kprobe_multi (5.18+ with fprobe): one link of kprobes on many kernel functions; the program is loaded
     * with expected_attach_type ATTACH_TYPE_TRACE_KPROBE_MULTI.
     */
    public static Hook kprobeMulti(boolean retprobe, String... functions) {
        return Hook.newBuilder().setKprobeMulti(dev.bpfagent.proto.v1.KprobeMultiHook.newBuilder()
                .addAllFunctions(java.util.List.of(functions)).setRetprobe(retprobe)).build();
    }

    /**
     * uprobe_multi (6.6+): one link of uprobes on many functions of a binary; the program is loaded with
     * expected_attach_type ATTACH_TYPE_TRACE_UPROBE_MULTI.
     */
    public static Hook uprobeMulti(String binary, boolean retprobe, String... symbols) {
        return Hook.newBuilder().setUprobeMulti(dev.bpfagent.proto.v1.UprobeMultiHook.newBuilder().setBinary(binary)
                .addAllSymbols(java.util.List.of(symbols)).setRetprobe(retprobe)).build();
    }

    /** A uprobe at a file offset in a binary, only in process pid (or every process when pid <= 0). */
    public static Hook uprobeAt(String binary, long fileOffset, int pid) {
        UprobeHook.Builder u = UprobeHook.newBuilder().setBinary(binary).setOffset(fileOffset);
        if (pid > 0) {
            u.setPid(pid);
        }
        return Hook.newBuilder().setUprobe(u).build();
    }

    /** XDP on an interface by name, the kernel's choice of mode. */
    public static Hook xdp(String iface) {
        return xdp(iface, XdpMode.XDP_MODE_UNSPECIFIED);
    }

    public static Hook xdp(String iface, XdpMode mode) {
        return Hook.newBuilder().setXdp(XdpHook.newBuilder().setInterface(Interface.newBuilder().setName(iface))
                .setMode(mode)).build();
    }

    /**
     * The same xdp, tcx or tc hook on its interface in a named network namespace (as `ip netns` names it,
     * /run/netns/NAME), e.g. {@code Hooks.inNetns("blue", Hooks.xdp("eth0"))}.
     */
    public static Hook inNetns(String netns, Hook hook) {
        Hook.Builder b = hook.toBuilder();
        if (hook.hasXdp()) {
            b.getXdpBuilder().getInterfaceBuilder().setNetns(netns);
        } else if (hook.hasTcx()) {
            b.getTcxBuilder().getInterfaceBuilder().setNetns(netns);
        } else if (hook.hasTc()) {
            b.getTcBuilder().getInterfaceBuilder().setNetns(netns);
        } else {
            throw new IllegalArgumentException("only xdp, tcx and tc hooks name an interface; this is "
                    + hook.getHookCase());
        }
        return b.build();
    }

    /** tcx on an interface's ingress (Linux 6.6+), after the programs already there. */
    public static Hook tcxIngress(String iface) {
        return tcx(iface, TcDirection.TC_DIRECTION_INGRESS, 0, 0);
    }

    public static Hook tcxEgress(String iface) {
        return tcx(iface, TcDirection.TC_DIRECTION_EGRESS, 0, 0);
    }

    /** tcx placed right before (or after) a program attached there; 0 for neither. */
    public static Hook tcx(String iface, TcDirection direction, int beforeProgramId, int afterProgramId) {
        TcxHook.Builder t = TcxHook.newBuilder().setInterface(Interface.newBuilder().setName(iface))
                .setDirection(direction);
        if (beforeProgramId != 0) {
            t.setBeforeProgramId(beforeProgramId);
        } else if (afterProgramId != 0) {
            t.setAfterProgramId(afterProgramId);
        }
        return Hook.newBuilder().setTcx(t).build();
    }

    /**
     * The legacy tc hook: a direct-action cls_bpf filter on the interface's clsact qdisc at a priority
     * (1 first), for kernels before tcx (6.6) or to sit among filters others added with `tc`.
     */
    public static Hook tc(String iface, TcDirection direction, int priority) {
        return Hook.newBuilder().setTc(dev.bpfagent.proto.v1.TcHook.newBuilder().setInterface(Interface.newBuilder()
                .setName(iface)).setDirection(direction).setPriority(priority)).build();
    }

    /** A cgroup v2 directory and which of its hooks, e.g. ATTACH_TYPE_CGROUP_INET4_CONNECT. */
    public static Hook cgroup(String path, AttachType attachType) {
        return Hook.newBuilder().setCgroup(CgroupHook.newBuilder().setPath(path).setAttachType(attachType)).build();
    }

    /** A perf event on one CPU, every process: e.g. (1, 0, 1_000_000, 0) a software clock every ms on CPU 0. */
    public static Hook perfEvent(int type, long config, long samplePeriod, int cpu) {
        return Hook.newBuilder().setPerfEvent(PerfEventHook.newBuilder().setType(type).setConfig(config)
                .setSamplePeriod(samplePeriod).setCpu(cpu)).build();
    }

    /** A perf event of one process, on every CPU it runs on. */
    public static Hook perfEventOfProcess(int type, long config, long samplePeriod, int pid) {
        return Hook.newBuilder().setPerfEvent(PerfEventHook.newBuilder().setType(type).setConfig(config)
                .setSamplePeriod(samplePeriod).setPid(pid)).build();
    }

    /** The target a fentry/fexit/fmod_ret/lsm/tp_btf/freplace program was loaded for. */
    public static Hook tracing() {
        return Hook.newBuilder().setTracing(TracingHook.getDefaultInstance()).build();
    }

    /** A network namespace (sk_lookup, flow dissector programs), e.g. /run/netns/NAME. */
    public static Hook netns(String path) {
        return Hook.newBuilder().setNetns(NetnsHook.newBuilder().setPath(path)).build();
    }

    /** A netfilter hook: family (2 IPv4, 10 IPv6), hook number (0 PRE_ROUTING ... 4 POST_ROUTING), priority. */
    public static Hook netfilter(int pf, int hooknum, int priority) {
        return Hook.newBuilder().setNetfilter(NetfilterHook.newBuilder().setPf(pf).setHooknum(hooknum)
                .setPriority(priority)).build();
    }

    /**
     * An iterator (a TRACING program loaded with ATTACH_TYPE_TRACE_ITER for "task", "bpf_map", ...): it
     * runs when read, {@link BpfClient#readIterator}.
     */
    public static Hook iter() {
        return Hook.newBuilder().setIter(dev.bpfagent.proto.v1.IterHook.getDefaultInstance()).build();
    }

    /** An iterator over a held map's elements (loaded for "bpf_map_elem"). */
    public static Hook iterOverMap(int mapId) {
        return Hook.newBuilder().setIter(dev.bpfagent.proto.v1.IterHook.newBuilder().setMapId(mapId)).build();
    }
}
