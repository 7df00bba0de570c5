package dev.bpfagent.cli;

import dev.bpfagent.client.Hooks;

import java.util.List;

/**
 * The words of a hook on the command line ("tracepoint syscalls/sys_enter_openat", "xdp eth0 netns=blue"):
 * every kind of hook the proto has, built with {@link Hooks}. A bad word is an IllegalArgumentException
 * (exit status 2) that says what the form is.
 */
final class HookWords {
    private HookWords() {
    }

    /** One HOOK form of attach: its usage and an example (a guard test parses every example). */
    record HookForm(String usage, String example) {
    }

    /** Every HOOK form, one or more per kind of hook the proto has. */
    static final List<HookForm> HOOK_FORMS = List.of(
            new HookForm("tracepoint CATEGORY/NAME", "tracepoint syscalls/sys_enter_openat"),
            new HookForm("raw_tracepoint NAME", "raw_tracepoint sched_switch"),
            new HookForm("kprobe FUNC | kretprobe FUNC", "kprobe do_unlinkat"),
            new HookForm("kprobe_multi FUNC,FUNC | kretprobe_multi FUNC,FUNC", "kprobe_multi do_unlinkat,do_rmdir"),
            new HookForm("uprobe BINARY:SYMBOL | uretprobe BINARY:SYMBOL", "uprobe /lib/x86_64-linux-gnu/libc.so.6:malloc"),
            new HookForm("uprobe_multi BINARY:SYM,SYM | uretprobe_multi BINARY:SYM,SYM",
                    "uprobe_multi /lib/x86_64-linux-gnu/libc.so.6:malloc,free"),
            new HookForm("xdp IFACE [netns=NAME]", "xdp eth0"),
            new HookForm("tcx-ingress IFACE | tcx-egress IFACE [netns=NAME]", "tcx-ingress eth0 netns=blue"),
            new HookForm("tc-ingress IFACE | tc-egress IFACE [netns=NAME]", "tc-egress eth0"),
            new HookForm("cgroup PATH ATTACH_TYPE", "cgroup /sys/fs/cgroup/unified cgroup_inet4_connect"),
            new HookForm("perf_event TYPE CONFIG PERIOD cpu=N|pid=N (TYPE: hardware, software, or a number)",
                    "perf_event software 0 1000000 cpu=0"),
            new HookForm("netfilter ipv4|ipv6 pre_routing|local_in|forward|local_out|post_routing [PRIORITY]",
                    "netfilter ipv4 local_in 100"),
            new HookForm("netns PATH", "netns /proc/self/ns/net"),
            new HookForm("tracing", "tracing"),
            new HookForm("iter [MAP_ID]", "iter"));

    /** attach --help's footer: every form with an example. */
    static String[] footer() {
        java.util.List<String> lines = new java.util.ArrayList<>(List.of("", "HOOK is one of:"));
        for (HookForm f : HOOK_FORMS) {
            lines.add(String.format("  %-58s e.g. %s", f.usage(), f.example()));
        }
        lines.addAll(List.of("", "Examples:", "  bpf-agent-cli attach 42 tracepoint syscalls/sys_enter_openat",
                "  bpf-agent-cli attach 42 xdp eth0 netns=blue --mechanism netlink"));
        return lines.toArray(String[]::new);
    }

    /** An interface hook, in the namespace a trailing netns=NAME names (ip netns names). */
    static dev.bpfagent.proto.v1.Hook inNetns(dev.bpfagent.proto.v1.Hook h, List<String> w) {
        if (w.size() < 3) {
            return h;
        }
        if (w.size() > 3 || !w.get(2).startsWith("netns=") || w.get(2).length() == "netns=".length()) {
            throw new IllegalArgumentException(w.get(0) + " takes IFACE [netns=NAME], not " + w.subList(1, w.size()));
        }
        return Hooks.inNetns(w.get(2).substring("netns=".length()), h);
    }

    /** A hook from the words after the program id. */
    static dev.bpfagent.proto.v1.Hook hook(List<String> w) {
        if (w.isEmpty()) {
            throw new IllegalArgumentException("attach needs a hook");
        }
        String kind = w.get(0);
        if (kind.equals("tracing")) {
            return Hooks.tracing();
        }
        if (kind.equals("iter")) {
            if (w.size() < 2) {
                return Hooks.iter();
            }
            try {
                return Hooks.iterOverMap(Integer.parseUnsignedInt(w.get(1)));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("iter takes a map id: " + w.get(1));
            }
        }
        if (w.size() < 2) {
            throw new IllegalArgumentException(kind + " needs a target");
        }
        String t = w.get(1);
        return switch (kind) {
            case "tracepoint" -> {
                int slash = t.indexOf('/');
                if (slash <= 0) {
                    throw new IllegalArgumentException("tracepoint takes CATEGORY/NAME, e.g. syscalls/sys_enter_openat");
                }
                yield Hooks.tracepoint(t.substring(0, slash), t.substring(slash + 1));
            }
            case "raw_tracepoint" -> Hooks.rawTracepoint(t);
            case "kprobe" -> Hooks.kprobe(t);
            case "kretprobe" -> Hooks.kretprobe(t);
            case "uprobe", "uretprobe" -> {
                int colon = t.lastIndexOf(':');
                if (colon <= 0) {
                    throw new IllegalArgumentException(kind + " takes BINARY:SYMBOL, e.g. /usr/lib/x86_64-linux-gnu/libc.so.6:malloc");
                }
                yield kind.equals("uprobe") ? Hooks.uprobe(t.substring(0, colon), t.substring(colon + 1))
                        : Hooks.uretprobe(t.substring(0, colon), t.substring(colon + 1));
            }
            case "uprobe_multi", "uretprobe_multi" -> {
                int colon = t.lastIndexOf(':');
                if (colon <= 0) {
                    throw new IllegalArgumentException(kind + " takes BINARY:SYMBOL,SYMBOL,...");
                }
                yield Hooks.uprobeMulti(t.substring(0, colon), kind.startsWith("uret"),
                        t.substring(colon + 1).split(","));
            }
            case "kprobe_multi", "kretprobe_multi" -> Hooks.kprobeMulti(kind.startsWith("kret"), t.split(","));
            case "perf_event" -> perfEvent(w);
            case "netfilter" -> netfilter(w);
            case "xdp" -> inNetns(Hooks.xdp(t), w);
            case "tcx-ingress" -> inNetns(Hooks.tcxIngress(t), w);
            case "tcx-egress" -> inNetns(Hooks.tcxEgress(t), w);
            case "tc-ingress" -> inNetns(Hooks.tc(t, dev.bpfagent.proto.v1.TcDirection.TC_DIRECTION_INGRESS, 1), w);
            case "tc-egress" -> inNetns(Hooks.tc(t, dev.bpfagent.proto.v1.TcDirection.TC_DIRECTION_EGRESS, 1), w);
            case "netns" -> Hooks.netns(t);
            case "cgroup" -> {
                if (w.size() < 3) {
                    throw new IllegalArgumentException("cgroup takes PATH ATTACH_TYPE, e.g. cgroup_inet4_connect");
                }
                String name = w.get(2).toUpperCase(java.util.Locale.ROOT);
                dev.bpfagent.proto.v1.AttachType type;
                try {
                    type = dev.bpfagent.proto.v1.AttachType.valueOf(name.startsWith("ATTACH_TYPE_") ? name
                            : "ATTACH_TYPE_" + name);
                } catch (IllegalArgumentException e) {
                    throw new IllegalArgumentException("no attach type " + w.get(2));
                }
                yield Hooks.cgroup(t, type);
            }
            default -> throw new IllegalArgumentException("unknown hook " + kind);
        };
    }

    /** perf_event TYPE CONFIG PERIOD cpu=N|pid=N. */
    private static dev.bpfagent.proto.v1.Hook perfEvent(List<String> w) {
        if (w.size() < 5) {
            throw new IllegalArgumentException("perf_event takes TYPE CONFIG PERIOD cpu=N|pid=N, e.g."
                    + " perf_event software 0 1000000 cpu=0 (a software clock every ms on CPU 0)");
        }
        int type = switch (w.get(1)) {
            case "hardware" -> 0;
            case "software" -> 1;
            default -> (int) number(w.get(1), "perf_event TYPE");
        };
        long config = number(w.get(2), "perf_event CONFIG");
        long period = number(w.get(3), "perf_event PERIOD");
        String who = w.get(4);
        if (who.startsWith("cpu=")) {
            return Hooks.perfEvent(type, config, period, (int) number(who.substring(4), "perf_event cpu"));
        }
        if (who.startsWith("pid=")) {
            return Hooks.perfEventOfProcess(type, config, period, (int) number(who.substring(4), "perf_event pid"));
        }
        throw new IllegalArgumentException("perf_event needs cpu=N or pid=N, not " + who);
    }

    private static final List<String> NF_HOOKS = List.of("pre_routing", "local_in", "forward", "local_out",
            "post_routing");

    /** netfilter ipv4|ipv6 HOOK [PRIORITY]. */
    private static dev.bpfagent.proto.v1.Hook netfilter(List<String> w) {
        if (w.size() < 3) {
            throw new IllegalArgumentException("netfilter takes ipv4|ipv6 HOOK [PRIORITY], e.g. netfilter ipv4"
                    + " local_in 100");
        }
        int pf = switch (w.get(1)) {
            case "ipv4" -> 2;
            case "ipv6" -> 10;
            default -> throw new IllegalArgumentException("netfilter family is ipv4 or ipv6, not " + w.get(1));
        };
        int hook = NF_HOOKS.indexOf(w.get(2));
        if (hook < 0) {
            throw new IllegalArgumentException("netfilter hook is one of " + NF_HOOKS + ", not " + w.get(2));
        }
        int priority = w.size() > 3 ? (int) number(w.get(3), "netfilter PRIORITY") : 0;
        return Hooks.netfilter(pf, hook, priority);
    }

    private static long number(String s, String what) {
        try {
            return Long.decode(s);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(what + " is a number, not " + s);
        }
    }
}
