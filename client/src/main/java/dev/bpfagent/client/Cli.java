package dev.bpfagent.client;

import dev.bpfagent.proto.v1.CloseProgramResponse;
import dev.bpfagent.proto.v1.GetAgentInfoResponse;
import dev.bpfagent.proto.v1.Program;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;

/**
 * A small command line over {@link BpfClient}, for looking at an agent by hand:
 * <pre>
 *   java -cp CLIENT_CLASSPATH dev.bpfagent.client.Cli [--target unix:/run/bpf-agent/agent.sock] COMMAND
 *     health | info | list [--all] | show ID | close ID | pin ID PATH | unpin PATH
 *     features | attach ID HOOK... | detach LINK_ID | links [ID] | events MAP_ID [--count N]
 *     hooks [IFACE_GLOB...] [netns=NAME]   (what runs on interfaces' xdp/tcx/tc hooks, in run order)
 *     apply -f FILE [--dry-run] | get applications | describe application NAME | delete application NAME
 *     watch applications   (see {@link ApplicationCommands})
 *   HOOK: one of {@link #HOOK_FORMS} (printed by --help), e.g. tracepoint syscalls/sys_enter_openat
 * </pre>
 * Exit status: 0 done, 1 the agent refused (its status is printed), 2 bad usage.
 */
public final class Cli {
    private Cli() {
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

    static final String USAGE = "usage: Cli [--target unix:PATH|HOST:PORT] "
            + "health | info | list [--all] | show ID | close ID | pin ID PATH | unpin PATH"
            + " | features | attach ID HOOK... [--mechanism perf_event_ioctl|netlink|prog_attach|bpf_link]"
            + " | detach LINK_ID | links [ID] | hooks [IFACE_GLOB...] [netns=NAME] | read-iter LINK_ID | events MAP_ID [--count N]"
            + " | object inspect FILE | object load FILE [--only PROGRAM] [--keep]\n  | "
            + ApplicationCommands.USAGE + "\n"
            + "  HOOK: " + String.join("\n      | ", HOOK_FORMS.stream().map(HookForm::usage).toList());

    /** hooks: per interface hook, its programs in run order (as xdp-loader status shows a dispatcher's). */
    static void hooks(BpfClient c, List<String> args, PrintStream out) {
        var req = dev.bpfagent.proto.v1.ListInterfaceHooksRequest.newBuilder();
        for (String a : args.subList(1, args.size())) {
            if (a.startsWith("netns=")) {
                req.setNetns(a.substring("netns=".length()));
            } else {
                req.addInterfaces(a);
            }
        }
        for (var h : c.applications().hooks(req.build()).getHooksList()) {
            out.println(h.getInterface() + " " + h.getHook() + (h.getDispatcherProgramId() != 0 ? " dispatcher "
                    + h.getDispatcherProgramId() : "") + (h.getXdpMode().isEmpty() ? "" : " (" + h.getXdpMode() + ")"));
            int pos = 0;
            for (var p : h.getProgramsList()) {
                out.println(String.format("  %2d  prio %-4d id %-6d %-16s %s%s", ++pos, p.getPriority(), p.getProgramId(),
                        p.getName(), p.getApplication().isEmpty() ? (p.getLinkId() != 0 ? "link " + p.getLinkId()
                        : "(another tool's)") : "application " + p.getApplication() + " " + p.getObject() + "/"
                        + p.getProgram() + " rule " + p.getRule(), p.getProceedOnCount() == 0 ? "" : "  proceed on "
                        + String.join(",", p.getProceedOnList().stream().map(x -> x.name()
                        .substring("XDP_ACTION_".length())).toList())));
            }
        }
    }

    public static void main(String[] args) {
        System.exit(run(args, System.out, System.err));
    }

    /** Runs one command (as main does, without exiting): 0 done, 1 the agent refused, 2 bad usage. */
    public static int run(String[] argv, PrintStream out, PrintStream err) {
        List<String> args = new ArrayList<>(List.of(argv));
        String target = AgentChannels.DEFAULT_TARGET;
        if (args.size() >= 2 && args.get(0).equals("--target")) {
            target = args.get(1);
            args = args.subList(2, args.size());
        }
        if (args.isEmpty()) {
            err.println(USAGE);
            return 2;
        }
        if (args.get(0).equals("--help") || args.get(0).equals("help")) {
            out.println(USAGE);
            return 0;
        }
        try (BpfClient c = BpfClient.connect(target)) {
            String cmd = args.get(0);
            switch (cmd) {
                case "health" -> out.println(c.health());
                case "info" -> {
                    GetAgentInfoResponse i = c.agentInfo();
                    out.println("agent " + i.getAgentVersion() + ", kernel " + i.getKernelRelease() + ", bpffs "
                            + i.getBpffsDir() + ", programs held " + i.getProgramsHeld() + "; client transport "
                            + (AgentChannels.nativeTransport() ? "epoll" : "nio"));
                }
                case "list" -> {
                    boolean all = args.size() > 1 && args.get(1).equals("--all");
                    for (Program p : c.listPrograms(all)) {
                        out.println(line(p));
                    }
                }
                case "show" -> out.print(c.program(id(args), true));
                case "close" -> {
                    CloseProgramResponse r = c.closeProgram(id(args), false);
                    out.println("closed" + (r.getUnloaded() ? ", unloaded" : ", still loaded (held elsewhere)")
                            + (r.getUnpinnedPathsCount() > 0 ? ", unpinned " + r.getUnpinnedPathsList() : ""));
                }
                case "pin" -> {
                    if (args.size() < 3) {
                        throw new IllegalArgumentException("pin needs ID and PATH");
                    }
                    out.println(c.pin(id(args), args.get(2)));
                }
                case "unpin" -> {
                    if (args.size() < 2) {
                        throw new IllegalArgumentException("unpin needs PATH");
                    }
                    out.println(c.unpin(args.get(1)));
                }
                case "features" -> {
                    var f = c.kernelFeatures(false);
                    out.println("kernel " + f.getKernelRelease());
                    for (var group : List.of(java.util.Map.entry("program types", f.getProgramTypesList()),
                            java.util.Map.entry("map types", f.getMapTypesList()),
                            java.util.Map.entry("attach", f.getAttachList()),
                            java.util.Map.entry("other", f.getOtherList()))) {
                        out.println(group.getKey() + ":");
                        for (var k : group.getValue()) {
                            out.printf("  %-24s %-9s %s%n", k.getName(), k.getState().name()
                                    .replace("FEATURE_STATE_", "").toLowerCase(java.util.Locale.ROOT), k.getDetail());
                        }
                    }
                }
                case "attach" -> {
                    List<String> words = new java.util.ArrayList<>(args.subList(Math.min(2, args.size()), args.size()));
                    var mechanism = dev.bpfagent.proto.v1.AttachMechanism.ATTACH_MECHANISM_UNSPECIFIED;
                    int m = words.indexOf("--mechanism");
                    if (m >= 0) {
                        if (m + 1 >= words.size()) {
                            throw new IllegalArgumentException("--mechanism needs a value");
                        }
                        String name = words.get(m + 1).toUpperCase(java.util.Locale.ROOT);
                        try {
                            mechanism = dev.bpfagent.proto.v1.AttachMechanism.valueOf("ATTACH_MECHANISM_" + name);
                        } catch (IllegalArgumentException e) {
                            throw new IllegalArgumentException("no attach mechanism " + words.get(m + 1));
                        }
                        words.subList(m, m + 2).clear();
                    }
                    LinkHandle l = c.attach(id(args), hook(words), mechanism);
                    out.println(line(l.link()));
                }
                case "object" -> {
                    return ObjectCommands.run(c, args, out);
                }
                case "apply", "get", "describe", "delete", "watch" -> {
                    return ApplicationCommands.run(c, args, out);
                }
                case "events" -> events(c, args, out);
                case "read-iter" -> {
                    out.writeBytes(c.readIterator(id(args)));
                    out.flush();
                }
                case "detach" -> {
                    var r = c.detach(id(args));
                    out.println("detached" + (r.getUnpinnedPathsCount() > 0 ? ", unpinned " + r.getUnpinnedPathsList()
                            : ""));
                }
                case "hooks" -> hooks(c, args, out);
                case "links" -> {
                    var req = dev.bpfagent.proto.v1.ListLinksRequest.newBuilder().setPageSize(1000);
                    if (args.size() > 1) {
                        req.setProgramId(id(args));
                    }
                    for (var l : c.listLinks(req.build()).getLinksList()) {
                        out.println(line(l));
                    }
                }
                default -> throw new IllegalArgumentException("unknown command " + cmd);
            }
            return 0;
        } catch (IllegalArgumentException e) {
            err.println(e.getMessage() + "\n" + USAGE);
            return 2;
        } catch (BpfAgentException e) {
            err.println(e.getMessage());
            return 1;
        }
    }

    /**
     * Follows a ring buffer or perf event array: one JSON line per record ({"seq":N,"cpu":C,"data":"HEX"},
     * cpu for perf event arrays only) or loss notice ({"lost":{...}}), until --count records, the stream's
     * end, or Ctrl-C.
     */
    private static void events(BpfClient c, List<String> args, PrintStream out) {
        long count = Long.MAX_VALUE;
        if (args.size() == 4 && args.get(2).equals("--count")) {
            try {
                count = Long.parseLong(args.get(3));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("--count takes a number: " + args.get(3));
            }
        } else if (args.size() != 2) {
            throw new IllegalArgumentException("events MAP_ID [--count N]");
        }
        try (EventStream s = c.subscribe(SubscribeOptions.map(id(args)).batchDelayMillis(0))) {
            long records = 0;
            while (records < count && s.hasNext()) {
                Event e = s.next();
                if (e instanceof Event.Data d) {
                    records++;
                    out.println("{\"seq\":" + d.sequence() + (d.cpu().isPresent() ? ",\"cpu\":" + d.cpu().getAsInt() : "")
                            + ",\"data\":\"" + java.util.HexFormat.of().formatHex(d.data()) + "\"}");
                } else if (e instanceof Event.Loss l) {
                    out.println("{\"lost\":{\"first_sequence\":" + l.firstSequence() + ",\"count\":" + l.count()
                            + ",\"dropped_by_agent\":" + l.droppedByAgent() + ",\"lost_in_kernel\":" + l.lostInKernel()
                            + "}}");
                }
                out.flush();
            }
        }
    }

    private static int id(List<String> args) {
        if (args.size() < 2) {
            throw new IllegalArgumentException(args.get(0) + " needs an ID");
        }
        try {
            return Integer.parseUnsignedInt(args.get(1));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("not an id: " + args.get(1));
        }
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

    static String line(dev.bpfagent.proto.v1.Link l) {
        return String.format("link %6s  program %6d  %-14s %s", Integer.toUnsignedString(l.getId()), l.getProgramId(),
                l.getType(), l.getTarget());
    }

    static String line(Program p) {
        var k = p.getKernel();
        var a = p.getAgent();
        return String.format("%6d  %-22s %-16s tag %s%s%s%s", p.getId(),
                k.getType().name().replace("PROGRAM_TYPE_", "").toLowerCase(java.util.Locale.ROOT), k.getName(),
                k.getTag(), a.getHeld() ? "  held" : "",
                a.getPinnedPathsCount() > 0 ? "  pinned " + String.join(",", a.getPinnedPathsList()) : "",
                a.getLabelsCount() > 0 ? "  labels " + new java.util.TreeMap<>(a.getLabelsMap()) : "");
    }
}
