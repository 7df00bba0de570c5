package dev.bpfagent.agent.bpf;

import dev.bpfagent.agent.errno.KernelException;
import dev.bpfagent.agent.kernel.Bpf;
import dev.bpfagent.agent.kernel.NetNs;
import dev.bpfagent.agent.kernel.Netlink;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * What runs on interfaces' hooks, read from the kernel, in the order the kernel runs it: XDP (one
 * program, or a libxdp dispatcher and its slots), tcx ingress and egress (BPF_PROG_QUERY's order), and
 * the legacy clsact hooks' cls_bpf filters (by filter priority). Whoever put them there.
 */
public final class InterfaceHooks {
    private InterfaceHooks() {
    }

    /** One program on a hook, in run order: priority is the dispatcher slot's or the tc filter's (0 on tcx). */
    public record Entry(int programId, String name, int priority, int chainCallActions) {
    }

    /**
     * One interface hook with programs on it. hook: "xdp", "tcx/ingress", "tcx/egress", "tc/ingress",
     * "tc/egress". dispatcherId: the XDP dispatcher running the entries (0: the one entry runs directly);
     * xdpMode: "native", "skb", "hw" or "multi" ("" off xdp).
     */
    public record OnHook(String ifname, int ifindex, String hook, int dispatcherId, String xdpMode, List<Entry> programs) {
    }

    /** The hooks with programs of these interfaces (name to ifindex) of the namespace ("": the agent's). */
    public static List<OnHook> of(String netns, Map<String, Integer> interfaces) {
        if (netns == null || netns.isEmpty()) {
            return read(interfaces);
        }
        return NetNs.run(netns, () -> read(interfaces));
    }

    private static List<OnHook> read(Map<String, Integer> interfaces) {
        List<OnHook> out = new ArrayList<>();
        Map<Integer, Netlink.XdpProgram> xdp = new java.util.HashMap<>();
        Netlink.xdpPrograms().stream().filter(x -> x.progId() != 0).forEach(x -> xdp.put(x.ifindex(), x));
        for (var iface : interfaces.entrySet()) {
            String name = iface.getKey();
            int ifindex = iface.getValue();
            Netlink.XdpProgram x = xdp.get(ifindex);
            if (x != null) {
                var running = XdpDispatcher.running(ifindex, x.progId(), x.mode());
                if (running.isPresent()) {
                    out.add(new OnHook(name, ifindex, "xdp", x.progId(), mode(x.mode()), running.get().slots().stream()
                            .map(s -> new Entry(s.programId(), s.name(), s.priority(), s.chainCallActions())).toList()));
                } else {
                    out.add(new OnHook(name, ifindex, "xdp", 0, mode(x.mode()), List.of(entry(x.progId(), 0))));
                }
            }
            for (AttachType t : List.of(AttachType.TCX_INGRESS, AttachType.TCX_EGRESS)) {
                List<Entry> es = new ArrayList<>();
                try {
                    for (int id : Bpf.progQueryIfindex(ifindex, t.value, 64)) {
                        es.add(entry(id, 0));
                    }
                } catch (KernelException noTcx) {
                    // before 6.6 (EINVAL), or the interface went
                }
                if (!es.isEmpty()) {
                    out.add(new OnHook(name, ifindex, t == AttachType.TCX_INGRESS ? "tcx/ingress" : "tcx/egress", 0, "",
                            es));
                }
            }
            List<Entry> in = new ArrayList<>(), eg = new ArrayList<>();
            try {
                for (var f : Netlink.tcPrograms(ifindex)) {
                    (f.ingress() ? in : eg).add(entry(f.progId(), f.priority()));
                }
            } catch (KernelException gone) {
                // the interface went
            }
            if (!in.isEmpty()) {
                out.add(new OnHook(name, ifindex, "tc/ingress", 0, "", in));
            }
            if (!eg.isEmpty()) {
                out.add(new OnHook(name, ifindex, "tc/egress", 0, "", eg));
            }
        }
        return out;
    }

    private static String mode(int attached) {
        return switch (attached) {
            case Netlink.XDP_ATTACHED_SKB -> "skb";
            case Netlink.XDP_ATTACHED_HW -> "hw";
            case Netlink.XDP_ATTACHED_MULTI -> "multi";
            default -> "native";
        };
    }

    private static Entry entry(int programId, int priority) {
        String name = Program.infoById(programId).map(ProgramInfo::name).orElse("");
        return new Entry(programId, name, priority, 0);
    }
}
