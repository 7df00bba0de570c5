package dev.bpfagent.agent.bpf;

import dev.bpfagent.agent.errno.Errno;
import dev.bpfagent.agent.errno.KernelException;
import dev.bpfagent.agent.kernel.Bpf;
import dev.bpfagent.agent.kernel.Fd;
import dev.bpfagent.agent.kernel.LinkCreateAttr;
import dev.bpfagent.agent.kernel.NetNs;
import dev.bpfagent.agent.kernel.Netlink;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Network hooks: XDP (a BPF link, or rtnetlink as `ip link` does: the fallback before 5.9), tcx (6.6+;
 * before, the legacy clsact filter), tc filters, network namespaces (sk_lookup, flow dissector) and
 * netfilter. Interfaces are checked through sysfs first.
 */
final class NetworkHooks {
    private NetworkHooks() {
    }

    /** tcx placement flags (BPF_F_BEFORE, BPF_F_AFTER, BPF_F_ID: relative_id names a program id). */
    static final int BPF_F_BEFORE = 1 << 3, BPF_F_AFTER = 1 << 4, BPF_F_ID = 1 << 5;

    /** The interface's index, checked to exist (through sysfs, so a name and an index mean the same). */
    static int ifindex(Hook.Interface iface, String field) {
        if (!iface.netns().isEmpty()) {
            return ifindexInNetns(iface, field);
        }
        if (!iface.name().isEmpty()) {
            Path p = Path.of("/sys/class/net", iface.name(), "ifindex");
            try {
                return Integer.parseInt(Files.readString(p).strip());
            } catch (IOException | NumberFormatException e) {
                throw HookException.notFound(field + ".name", "INTERFACE_NOT_FOUND", "no network interface '"
                        + iface.name() + "' in the agent's network namespace");
            }
        }
        try (var dirs = Files.list(Path.of("/sys/class/net"))) {
            for (Path d : (Iterable<Path>) dirs::iterator) {
                try {
                    if (Integer.parseInt(Files.readString(d.resolve("ifindex")).strip()) == iface.index()) {
                        return iface.index();
                    }
                } catch (IOException | NumberFormatException ignored) {
                    // an interface going away while listed
                }
            }
        } catch (IOException e) {
            throw new IllegalStateException("cannot list /sys/class/net", e);
        }
        throw HookException.notFound(field + ".index", "INTERFACE_NOT_FOUND", "no network interface with index "
                + iface.index() + " in the agent's network namespace");
    }

    /** In a named namespace (run there by {@link NetNs#run}): its interfaces by rtnetlink, sysfs shows the agent's. */
    private static int ifindexInNetns(Hook.Interface iface, String field) {
        var all = Netlink.interfaces();
        Integer found = iface.name().isEmpty() ? (all.containsValue(iface.index()) ? iface.index() : null)
                : all.get(iface.name());
        if (found == null) {
            throw HookException.notFound(field + (iface.name().isEmpty() ? ".index" : ".name"), "INTERFACE_NOT_FOUND",
                    "no network interface " + (iface.name().isEmpty() ? "with index " + iface.index()
                    : "'" + iface.name() + "'") + " in network namespace " + iface.netns() + " (it has " + all.keySet()
                    + ")");
        }
        return found;
    }

    /** Runs the attach in the interface's namespace; a namespace that is not there is the field's error. */
    private static Link inNetns(Hook.Interface iface, String field, java.util.function.Supplier<Link> attach) {
        if (iface.netns().isEmpty()) {
            return attach.get();
        }
        if (!NetNs.exists(iface.netns())) {
            throw HookException.notFound(field + ".netns", "NETNS_NOT_FOUND", "no network namespace '"
                    + iface.netns() + "' (" + NetNs.RUN_NETNS + "/" + iface.netns() + "; `ip netns list` names"
                    + " those there are)");
        }
        return NetNs.run(iface.netns(), attach);
    }

    /** Undoes netlink state in the namespace it was made in; a namespace gone took the interface with it. */
    private static Runnable inNetns(String netns, Runnable undo) {
        if (netns.isEmpty()) {
            return undo;
        }
        return () -> {
            try {
                NetNs.run(netns, () -> {
                    undo.run();
                    return null;
                });
            } catch (KernelException gone) {
                // the namespace was deleted, and its interfaces with it
            }
        };
    }

    static Link xdp(Program p, Hook.Xdp h) {
        return inNetns(h.iface(), "hook.xdp.interface", () -> xdpHere(p, h));
    }

    private static Link xdpHere(Program p, Hook.Xdp h) {
        Link.expect(p, "program", "XDP", ProgramType.XDP);
        int ifindex = ifindex(h.iface(), "hook.xdp.interface");
        try {
            return Link.adopt(Bpf.linkCreate(new LinkCreateAttr(p.fd(), null, ifindex, AttachType.XDP.value, h.mode().flags,
                    null)), p, h, h.iface() + " (ifindex " + ifindex + ")");
        } catch (KernelException e) {
            if (e.errno() == Errno.EINVAL && !KernelVersion.atLeast(5, 9)) {
                return xdpNetlink(p, h); // XDP links are 5.9+
            }
            if (e.errno() == Errno.EBUSY || e.errno() == Errno.EEXIST) {
                throw e.withContext(h.iface() + " already has an XDP program (in this mode): detach it first, or"
                        + " update that link to this program");
            }
            throw Link.refused(e, h);
        }
    }

    /**
     * XDP through rtnetlink, as `ip link set dev X xdp` does (and the only way before 5.9): never over a
     * program already there, and detached only while the interface still runs this one.
     */
    static Link xdpNetlink(Program p, Hook.Xdp h) {
        return inNetns(h.iface(), "hook.xdp.interface", () -> xdpNetlinkHere(p, h));
    }

    private static Link xdpNetlinkHere(Program p, Hook.Xdp h) {
        Link.expect(p, "program", "XDP", ProgramType.XDP);
        int ifindex = ifindex(h.iface(), "hook.xdp.interface");
        try {
            Netlink.setXdp(ifindex, p.fd(), h.mode().flags | Netlink.XDP_FLAGS_UPDATE_IF_NOEXIST, null);
        } catch (KernelException e) {
            if (e.errno() == Errno.EBUSY || e.errno() == Errno.EEXIST) {
                throw e.withContext(h.iface() + " already runs an XDP program (in this mode): detach it first");
            }
            throw Link.refused(e, h);
        }
        Fd prog = p.fd();
        Runnable undo = () -> {
            try {
                Netlink.setXdp(ifindex, null, h.mode().flags | Netlink.XDP_FLAGS_REPLACE, prog);
            } catch (KernelException gone) {
                // the interface went away, or another program replaced this one: not ours to remove
            } catch (IllegalStateException programClosed) {
                // the program was closed first (links close before their programs in the registry, so only
                // an in-process user can do this): without its fd we cannot tell it is still ours; leave it
            }
        };
        return Link.undone(Link.Mechanism.NETLINK, inNetns(h.iface().netns(), undo), p.id(), h, h.iface()
                + " (ifindex " + ifindex + ")");
    }

    static Link tcx(Program p, Hook.Tcx h) {
        return tcx(p, h, true);
    }

    /** A tcx link; before 6.6 the legacy tc filter instead when fallback (the features probe asks without). */
    static Link tcx(Program p, Hook.Tcx h, boolean fallback) {
        return inNetns(h.iface(), "hook.tcx.interface", () -> tcxHere(p, h, fallback));
    }

    private static Link tcxHere(Program p, Hook.Tcx h, boolean fallback) {
        Link.expect(p, "program", "tcx", ProgramType.SCHED_CLS, ProgramType.SCHED_ACT);
        int ifindex = ifindex(h.iface(), "hook.tcx.interface");
        AttachType type = h.ingress() ? AttachType.TCX_INGRESS : AttachType.TCX_EGRESS;
        int flags = 0;
        int relative = 0;
        if (h.beforeProgramId() != 0) {
            flags = BPF_F_BEFORE | BPF_F_ID;
            relative = h.beforeProgramId();
        } else if (h.afterProgramId() != 0) {
            flags = BPF_F_AFTER | BPF_F_ID;
            relative = h.afterProgramId();
        }
        try {
            return Link.adopt(Bpf.linkCreate(new LinkCreateAttr(p.fd(), null, ifindex, type.value, flags,
                    new LinkCreateAttr.Tcx(null, relative, 0))), p, h, h.iface() + " (ifindex " + ifindex + ")");
        } catch (KernelException e) {
            if (relative != 0 && e.errno() == Errno.ENOENT) {
                throw HookException.notFound(h.beforeProgramId() != 0 ? "hook.tcx.before_program_id"
                        : "hook.tcx.after_program_id", "PROGRAM_NOT_ATTACHED", "program " + relative + " is not"
                        + " attached at " + h.describe());
            }
            if (e.errno() == Errno.EINVAL && !KernelVersion.atLeast(6, 6)) {
                if (relative != 0 || !fallback) {
                    throw HookException.unsupported("hook.tcx", "TCX_UNAVAILABLE", "tcx links need Linux 6.6+"
                            + (relative != 0 ? ", and the clsact filters used before them have no before/after"
                            + " placement: attach with hook.tc and a priority" : ""));
                }
                return tc(p, new Hook.Tc(h.iface(), h.ingress(), 0, 0)); // the way before tcx
            }
            throw Link.refused(e, h);
        }
    }

    /**
     * The legacy way (and the tcx fallback before 6.6): the clsact qdisc (added if missing, and removed
     * with the last filter only if this agent added it) and a direct-action cls_bpf filter, by netlink.
     */
    /** The clsact qdiscs this agent added ("netns/ifindex"), removed by it once no filter is left on them. */
    private static final java.util.Set<String> CLSACT_ADDED = java.util.concurrent.ConcurrentHashMap.newKeySet();

    static Link tc(Program p, Hook.Tc h) {
        return inNetns(h.iface(), "hook.tc.interface", () -> tcHere(p, h));
    }

    private static Link tcHere(Program p, Hook.Tc h) {
        Link.expect(p, "program", "tc", ProgramType.SCHED_CLS, ProgramType.SCHED_ACT);
        int ifindex = ifindex(h.iface(), "hook.tc.interface");
        String qdisc = h.iface().netns() + "/" + ifindex;
        boolean added = Netlink.addClsact(ifindex);
        if (added) {
            CLSACT_ADDED.add(qdisc);
        }
        Netlink.TcFilter filter;
        try {
            filter = Netlink.addBpfFilter(ifindex, h.ingress(), h.priority() == 0 ? 1 : h.priority(),
                    h.handle() == 0 ? 1 : h.handle(), p.fd(), p.name().isEmpty() ? "bpf-agent" : p.name());
        } catch (KernelException e) {
            if (added) {
                CLSACT_ADDED.remove(qdisc);
                Netlink.deleteClsact(ifindex);
            }
            if (e.errno() == Errno.EEXIST) {
                throw e.withContext(h.iface() + " already has a tc filter at priority " + (h.priority() == 0 ? 1
                        : h.priority()) + " handle " + (h.handle() == 0 ? 1 : h.handle()) + " on " + (h.ingress()
                        ? "ingress" : "egress") + ": give another hook.tc.priority");
            }
            throw Link.refused(e, h);
        }
        Runnable undo = () -> {
            try {
                Netlink.deleteFilter(filter);
            } catch (KernelException gone) {
                // the interface or the qdisc went away, and the filter with it
            }
            try {
                // a qdisc the agent added goes with the last filter on it, whichever link that was
                if (CLSACT_ADDED.contains(qdisc) && Netlink.filterCount(ifindex) == 0) {
                    CLSACT_ADDED.remove(qdisc);
                    Netlink.deleteClsact(ifindex);
                }
            } catch (KernelException gone) {
                // someone else removed it
            }
        };
        return Link.undone(Link.Mechanism.NETLINK, inNetns(h.iface().netns(), undo), p.id(), h, h.iface()
                + " (ifindex " + ifindex + ") "
                + (h.ingress() ? "ingress" : "egress") + " prio " + filter.priority() + " handle " + filter.handle());
    }

    static Link netns(Program p, Hook.Netns h) {
        Link.expect(p, "program", "a network namespace", ProgramType.SK_LOOKUP, ProgramType.FLOW_DISSECTOR);
        AttachType type = p.type() == ProgramType.SK_LOOKUP ? AttachType.SK_LOOKUP : AttachType.FLOW_DISSECTOR;
        if (!Files.exists(Path.of(h.path()))) {
            throw HookException.notFound("hook.netns.path", "NETNS_NOT_FOUND", "no network namespace at " + h.path());
        }
        try (Fd ns = Fd.openReadOnly(h.path())) {
            return Link.adopt(Bpf.linkCreate(new LinkCreateAttr(p.fd(), ns, 0, type.value, 0, null)), p, h, h.path());
        } catch (KernelException e) {
            throw Link.refused(e, h);
        }
    }

    static Link netfilter(Program p, Hook.Netfilter h) {
        Link.expect(p, "program", "a netfilter hook", ProgramType.NETFILTER);
        try {
            return Link.adopt(Bpf.linkCreate(new LinkCreateAttr(p.fd(), null, 0, AttachType.NETFILTER.value, 0,
                    new LinkCreateAttr.Netfilter(h.pf(), h.hooknum(), h.priority(), h.flags()))), p, h, h.describe());
        } catch (KernelException e) {
            throw Link.refused(e, h);
        }
    }
}
