package dev.bpfagent.agent.bpf;

import java.util.regex.Pattern;

/**
 * Where a program is attached: one record per kind of hook, each checking its own fields (named as
 * the attach request names them, under "hook."). What the hook names (a tracepoint, an interface, a
 * symbol) is looked up when attaching, by {@link Link#attach}.
 */
public sealed interface Hook {
    /** A tracefs/debugfs name part: no path separators, nothing to climb out of the events directory. */
    Pattern TRACE_NAME = Pattern.compile("[A-Za-z0-9_.:+-]{1,255}");

    /** A short description for logs and listings: "tracepoint syscalls/sys_enter_openat". */
    String describe();

    private static String traceName(String v, String field) {
        if (v == null || v.isEmpty()) {
            throw new InvalidSpecException(field, "is required");
        }
        if (!TRACE_NAME.matcher(v).matches() || v.contains("..")) {
            throw new InvalidSpecException(field, "'" + v + "' is not a trace event name ([A-Za-z0-9_.:+-])");
        }
        return v;
    }

    /** A tracepoint (perf event of type PERF_TYPE_TRACEPOINT, id from tracefs events/category/name/id). */
    record Tracepoint(String category, String name, long cookie) implements Hook {
        public Tracepoint {
            traceName(category, "hook.tracepoint.category");
            traceName(name, "hook.tracepoint.name");
        }

        public String describe() {
            return "tracepoint " + category + "/" + name;
        }
    }

    /** A raw tracepoint (BPF_RAW_TRACEPOINT_OPEN), by the tracepoint's name without its category. */
    record RawTracepoint(String name, long cookie) implements Hook {
        public RawTracepoint {
            traceName(name, "hook.raw_tracepoint.name");
        }

        public String describe() {
            return "raw_tracepoint " + name;
        }
    }

    /** A kprobe or kretprobe on a kernel function, plus an offset into it (kprobes only). */
    record Kprobe(String function, long offset, boolean retprobe, long cookie) implements Hook {
        public Kprobe {
            traceName(function, "hook.kprobe.function");
            if (offset < 0) {
                throw new InvalidSpecException("hook.kprobe.offset", "is not an offset");
            }
            if (retprobe && offset != 0) {
                throw new InvalidSpecException("hook.kprobe.offset", "a kretprobe fires on return: no offset");
            }
        }

        public String describe() {
            return (retprobe ? "kretprobe " : "kprobe ") + function + (offset != 0 ? "+" + offset : "");
        }
    }

    /**
     * A uprobe or uretprobe: a binary (or shared library) by absolute path, and a symbol in it (a
     * function of .symtab or .dynsym, "name" or "name@VERSION" / "name@@VERSION"), or an offset in the
     * file, or both (symbol then offset into it). pid -1: every process; else only that one.
     */
    record Uprobe(String binary, String symbol, long offset, boolean retprobe, int pid, long cookie) implements Hook {
        public Uprobe {
            if (binary == null || binary.isEmpty()) {
                throw new InvalidSpecException("hook.uprobe.binary", "is required: an absolute path on the agent's host");
            }
            if (!binary.startsWith("/") || binary.indexOf('\0') >= 0) {
                throw new InvalidSpecException("hook.uprobe.binary", "'" + binary + "' is not an absolute path");
            }
            symbol = symbol == null ? "" : symbol;
            if (symbol.isEmpty() && offset == 0) {
                throw new InvalidSpecException("hook.uprobe.symbol", "a symbol or an offset is required");
            }
            if (offset < 0) {
                throw new InvalidSpecException("hook.uprobe.offset", "is not an offset");
            }
            if (pid < -1 || pid == 0) {
                throw new InvalidSpecException("hook.uprobe.pid", pid + " is not a process (unset for every process)");
            }
        }

        public String describe() {
            return (retprobe ? "uretprobe " : "uprobe ") + binary + ":" + (symbol.isEmpty() ? "" : symbol)
                    + (offset != 0 ? "+0x" + Long.toHexString(offset) : "") + (pid > 0 ? " pid " + pid : "");
        }
    }

    /**
     * kprobe_multi (5.18+ with fprobe): kprobes or kretprobes on many kernel functions as one link, for
     * programs loaded with expected_attach_type TRACE_KPROBE_MULTI.
     */
    record KprobeMulti(java.util.List<String> functions, boolean retprobe) implements Hook {
        public KprobeMulti {
            if (functions == null || functions.isEmpty()) {
                throw new InvalidSpecException("hook.kprobe_multi.functions", "at least one function is required");
            }
            if (functions.size() > 4096) {
                throw new InvalidSpecException("hook.kprobe_multi.functions", functions.size() + " functions; at most"
                        + " 4096 a link");
            }
            for (int i = 0; i < functions.size(); i++) {
                traceName(functions.get(i), "hook.kprobe_multi.functions[" + i + "]");
            }
            functions = java.util.List.copyOf(functions);
        }

        public String describe() {
            return (retprobe ? "kretprobe_multi " : "kprobe_multi ") + String.join(",", functions);
        }
    }

    /**
     * uprobe_multi (6.6+): uprobes (or uretprobes) on many functions of one binary as one link, for
     * programs loaded with expected_attach_type TRACE_UPROBE_MULTI. pid -1: every process.
     */
    record UprobeMulti(String binary, java.util.List<String> symbols, boolean retprobe, int pid) implements Hook {
        public UprobeMulti {
            if (binary == null || !binary.startsWith("/") || binary.indexOf('\0') >= 0) {
                throw new InvalidSpecException("hook.uprobe_multi.binary", "is required: an absolute path on the"
                        + " agent's host");
            }
            if (symbols == null || symbols.isEmpty()) {
                throw new InvalidSpecException("hook.uprobe_multi.symbols", "at least one function is required");
            }
            if (symbols.size() > 4096) {
                throw new InvalidSpecException("hook.uprobe_multi.symbols", symbols.size() + " functions; at most"
                        + " 4096 a link");
            }
            symbols = java.util.List.copyOf(symbols);
            if (pid < -1 || pid == 0) {
                throw new InvalidSpecException("hook.uprobe_multi.pid", pid + " is not a process");
            }
        }

        public String describe() {
            return (retprobe ? "uretprobe_multi " : "uprobe_multi ") + binary + ":" + String.join(",", symbols);
        }
    }

    /** XDP attach modes (the XDP_FLAGS_* a link takes): the kernel's choice, generic (skb), driver, offload. */
    enum XdpMode {
        DEFAULT(0), SKB(1 << 1), DRV(1 << 2), HW(1 << 3);

        public final int flags;

        XdpMode(int flags) {
            this.flags = flags;
        }
    }

    /** A network interface, by name or index: one of the two. */
    /** An interface by name or index, in the agent's network namespace or (netns) one `ip netns` names. */
    record Interface(String name, int index, String netns) {
        public Interface {
            name = name == null ? "" : name;
            netns = netns == null ? "" : netns;
            if (name.isEmpty() == (index <= 0)) {
                throw new InvalidSpecException("interface", "give a name or an index, one of the two");
            }
            if (!name.isEmpty() && (name.length() > 15 || name.contains("/") || name.equals(".") || name.equals(".."))) {
                throw new InvalidSpecException("interface.name", "'" + name + "' is not an interface name");
            }
            if (!netns.isEmpty() && !dev.bpfagent.agent.kernel.NetNs.validName(netns)) {
                throw new InvalidSpecException("interface.netns", "'" + netns + "' is not a network namespace name"
                        + " (as `ip netns` names them under /run/netns: letters, digits, _ . -)");
            }
        }

        public Interface(String name, int index) {
            this(name, index, "");
        }

        @Override
        public String toString() {
            return (name.isEmpty() ? "ifindex " + index : name) + (netns.isEmpty() ? "" : " in netns " + netns);
        }
    }

    /** XDP on an interface, as a BPF link. */
    record Xdp(Interface iface, XdpMode mode) implements Hook {
        public Xdp {
            if (iface == null) {
                throw new InvalidSpecException("hook.xdp.interface", "is required");
            }
            mode = mode == null ? XdpMode.DEFAULT : mode;
        }

        public String describe() {
            return "xdp " + iface + (mode != XdpMode.DEFAULT ? " " + mode.name().toLowerCase() : "");
        }
    }

    /**
     * tcx (6.6+) on an interface's ingress or egress, as a BPF link; optionally placed right before or
     * after a program already attached there (by program id).
     */
    record Tcx(Interface iface, boolean ingress, int beforeProgramId, int afterProgramId) implements Hook {
        public Tcx {
            if (iface == null) {
                throw new InvalidSpecException("hook.tcx.interface", "is required");
            }
            if (beforeProgramId != 0 && afterProgramId != 0) {
                throw new InvalidSpecException("hook.tcx.before_program_id", "give before or after, not both");
            }
        }

        public String describe() {
            return "tcx " + (ingress ? "ingress " : "egress ") + iface;
        }
    }

    /**
     * The legacy tc hook: a direct-action cls_bpf filter on the interface's clsact qdisc, at a priority
     * (1 runs first; 0: 1) and handle (0: 1). What tcx falls back to before Linux 6.6.
     */
    record Tc(Interface iface, boolean ingress, int priority, int handle) implements Hook {
        public Tc {
            if (iface == null) {
                throw new InvalidSpecException("hook.tc.interface", "is required");
            }
            if (priority < 0 || priority > 0xffff) {
                throw new InvalidSpecException("hook.tc.priority", priority + " is not a priority (1 to 65535)");
            }
        }

        public String describe() {
            return "tc " + (ingress ? "ingress " : "egress ") + iface;
        }
    }

    /** A cgroup v2 directory and the attach type (which cgroup hook). */
    record Cgroup(String path, AttachType attachType) implements Hook {
        public Cgroup {
            if (path == null || !path.startsWith("/") || path.indexOf('\0') >= 0) {
                throw new InvalidSpecException("hook.cgroup.path", "is required: the absolute path of a cgroup v2"
                        + " directory (e.g. /sys/fs/cgroup/my.slice)");
            }
            if (attachType == null) {
                throw new InvalidSpecException("hook.cgroup.attach_type", "is required (e.g."
                        + " ATTACH_TYPE_CGROUP_INET4_CONNECT)");
            }
        }

        public String describe() {
            return "cgroup " + attachType + " " + path;
        }
    }

    /**
     * A perf event (perf_event_open type and config: a software clock, a hardware counter), sampled
     * every samplePeriod events; pid -1 with a cpu for one CPU's events, a pid for one process's.
     */
    record PerfEvent(int type, long config, long samplePeriod, int pid, int cpu, long cookie) implements Hook {
        public PerfEvent {
            if (samplePeriod <= 0) {
                throw new InvalidSpecException("hook.perf_event.sample_period", "is required: events between runs");
            }
            if (pid == -1 && cpu < 0) {
                throw new InvalidSpecException("hook.perf_event.cpu", "is required when no pid is given: the kernel"
                        + " watches every process on one CPU, or one process on every CPU");
            }
            if (pid < -1 || pid == 0) {
                throw new InvalidSpecException("hook.perf_event.pid", pid + " is not a process");
            }
            if (cpu < -1) {
                throw new InvalidSpecException("hook.perf_event.cpu", cpu + " is not a CPU");
            }
        }

        public String describe() {
            return "perf_event type " + type + " config " + config + (pid > 0 ? " pid " + pid : "")
                    + (cpu >= 0 ? " cpu " + cpu : "");
        }
    }

    /**
     * The target a tracing, LSM, tp_btf or freplace program was loaded for (its attach_btf_id): fentry,
     * fexit, fmod_ret, lsm and tp_btf attach there; nothing more to name.
     */
    record Tracing(long cookie) implements Hook {
        public String describe() {
            return "tracing target";
        }
    }

    /** A network namespace (sk_lookup and flow dissector programs), by a path such as /run/netns/NAME. */
    record Netns(String path) implements Hook {
        public Netns {
            if (path == null || !path.startsWith("/") || path.indexOf('\0') >= 0) {
                throw new InvalidSpecException("hook.netns.path", "is required: the absolute path of a network"
                        + " namespace (/proc/PID/ns/net, /run/netns/NAME)");
            }
        }

        public String describe() {
            return "netns " + path;
        }
    }

    /** A netfilter hook (6.4+): protocol family (NFPROTO_IPV4 = 2, IPV6 = 10), hook number, priority. */
    record Netfilter(int pf, int hooknum, int priority, int flags) implements Hook {
        public Netfilter {
            if (pf != 2 && pf != 10) {
                throw new InvalidSpecException("hook.netfilter.pf", pf + ": NFPROTO_IPV4 (2) or NFPROTO_IPV6 (10)");
            }
            if (hooknum < 0 || hooknum > 4) {
                throw new InvalidSpecException("hook.netfilter.hooknum", hooknum + ": NF_INET_PRE_ROUTING (0) to"
                        + " NF_INET_POST_ROUTING (4)");
            }
        }

        public String describe() {
            return "netfilter pf " + pf + " hook " + hooknum + " priority " + priority;
        }
    }

    /**
     * An iterator (TRACING programs loaded for iter/NAME, e.g. iter/task): runs when its output is read.
     * map: for iterators over a map's elements (iter/bpf_map_elem, iter/sockmap), the map; else null.
     */
    record Iter(BpfMap map) implements Hook {
        public String describe() {
            return "iterator" + (map != null ? " over map " + map.id() : "");
        }
    }
}
