package dev.bpfagent.agent.bpf;

import dev.bpfagent.agent.errno.Errno;
import dev.bpfagent.agent.errno.KernelException;
import dev.bpfagent.agent.kernel.Bpf;
import dev.bpfagent.agent.kernel.BpfCmd;
import dev.bpfagent.agent.kernel.BpfLinkInfo;
import dev.bpfagent.agent.kernel.Fd;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A program attached to a hook, one of the ways the kernel holds an attachment: a BPF link (the
 * kernel's object with an id, which detaches when its last fd or pin goes), a perf event the program
 * was set on by ioctl (kernels before perf links), or something undone by a call: an XDP program set
 * by rtnetlink or a tc filter (NETLINK), a cgroup program attached by BPF_PROG_ATTACH. Closing it
 * detaches (unless a pin of the link keeps it).
 *
 * <p>{@link #attach} dispatches to one file per hook family — {@link PerfEventHooks},
 * {@link MultiProbeHooks}, {@link NetworkHooks}, {@link CgroupHooks}, {@link TracingHooks} — each
 * owning its checks, its attach and its fallbacks; it checks that what the hook names exists before
 * anything is made, and leaves nothing behind when the kernel refuses. (They live in this package so
 * that programs' and maps' fds stay package-private: nothing above this layer touches a raw fd.)
 */
public abstract sealed class Link implements BpfObject permits Link.Kernel, Link.PerfIoctl, Link.Undone, Link.Dispatched {
    /** How the kernel holds the attachment. */
    public enum Mechanism { BPF_LINK, PERF_EVENT_IOCTL, NETLINK, PROG_ATTACH, XDP_DISPATCHER }

    /** enum bpf_link_type, for listings. */
    static final String[] LINK_TYPES = {"unspec", "raw_tracepoint", "tracing", "cgroup", "iter", "netns", "xdp",
            "perf_event", "kprobe_multi", "struct_ops", "netfilter", "tcx", "uprobe_multi", "netkit", "sockmap"};

    private final int id;
    private final Hook hook;
    private final String target;
    volatile int programId;

    private Link(int id, int programId, Hook hook, String target) {
        this.id = id;
        this.programId = programId;
        this.hook = hook;
        this.target = target;
    }

    // ---- the three ways the kernel holds an attachment ----

    /** A BPF link: the kernel's id, pinnable, updatable, an iterator's source. */
    static final class Kernel extends Link {
        private final Fd fd;

        Kernel(Fd fd, int id, int programId, Hook hook, String target) {
            super(id, programId, hook, target);
            this.fd = fd;
        }

        @Override
        public Mechanism mechanism() {
            return Mechanism.BPF_LINK;
        }

        @Override
        public Link withId(int agentId) {
            throw new IllegalStateException("a BPF link keeps its kernel id");
        }

        @Override
        public void update(Program next, Program expected) {
            try {
                Bpf.linkUpdate(fd, next.fd(), expected != null ? expected.fd() : null);
            } catch (KernelException e) {
                if (e.errno() == Errno.EPERM && expected != null) {
                    throw e.withContext("the link no longer runs program " + expected.id());
                }
                throw e.withContext("updating link " + id() + " (" + (hook() != null ? hook().describe() : "a link")
                        + ")");
            }
            programId = next.id();
        }

        @Override
        public Info info() {
            BpfLinkInfo i = Bpf.linkInfo(fd);
            String type = i.type() >= 0 && i.type() < LINK_TYPES.length ? LINK_TYPES[i.type()] : "type " + i.type();
            int ifindex = type.equals("xdp") || type.equals("tcx") || type.equals("netkit") ? i.unionInt0() : 0;
            return new Info(type, i.prog_id(), ifindex);
        }

        @Override
        public Bpf.IterOutput readIterator(int limit) {
            if (!(hook() instanceof Hook.Iter) && !(hook() == null && "iter".equals(info().type()))) {
                return super.readIterator(limit);
            }
            return Bpf.iterRead(fd, limit);
        }

        @Override
        public void pin(String path) {
            Bpf.objPin(fd, path);
        }

        @Override
        public boolean isClosed() {
            return fd.isClosed();
        }

        @Override
        public void close() {
            fd.close();
        }
    }

    /** A perf event the program was set on by PERF_EVENT_IOC_SET_BPF: the event's fd is the attachment. */
    static final class PerfIoctl extends Link {
        private final Fd event;

        PerfIoctl(Fd event, int id, int programId, Hook hook, String target) {
            super(id, programId, hook, target);
            this.event = event;
        }

        @Override
        public Mechanism mechanism() {
            return Mechanism.PERF_EVENT_IOCTL;
        }

        @Override
        public Link withId(int agentId) {
            return new PerfIoctl(event, agentId, programId, hook(), target());
        }

        @Override
        public Info info() {
            return new Info("perf_event (ioctl)", programId, 0);
        }

        @Override
        public boolean isClosed() {
            return event.isClosed();
        }

        @Override
        public void close() {
            event.close();
        }
    }

    /** An attachment a call undoes: NETLINK (XDP by rtnetlink, a tc filter) or PROG_ATTACH (cgroups). */
    static final class Undone extends Link {
        private final Mechanism mechanism;
        private final Runnable detach;
        private final AtomicBoolean detached;

        Undone(Mechanism mechanism, Runnable detach, AtomicBoolean detached, int id, int programId, Hook hook,
               String target) {
            super(id, programId, hook, target);
            this.mechanism = mechanism;
            this.detach = detach;
            this.detached = detached;
        }

        @Override
        public Mechanism mechanism() {
            return mechanism;
        }

        @Override
        public Link withId(int agentId) {
            return new Undone(mechanism, detach, detached, agentId, programId, hook(), target());
        }

        @Override
        public Info info() {
            return new Info(mechanism == Mechanism.PROG_ATTACH ? "cgroup (prog_attach)"
                    : hook() instanceof Hook.Xdp ? "xdp (netlink)" : "tc (clsact filter)", programId, 0);
        }

        @Override
        public boolean isClosed() {
            return detached.get();
        }

        @Override
        public void close() {
            if (detached.compareAndSet(false, true)) {
                detach.run();
            }
        }
    }

    /**
     * A program in a slot of an interface's XDP dispatcher ({@link XdpDispatcher}): the program id is
     * the extension's, which changes when {@link #update(ProgramSpec, int, int)} runs another. Closing
     * takes it off the dispatcher.
     */
    public static final class Dispatched extends Link {
        private final XdpDispatcher.Member member;

        Dispatched(XdpDispatcher.Member member, Hook hook, String target) {
            this(member, 0, hook, target);
        }

        private Dispatched(XdpDispatcher.Member member, int id, Hook hook, String target) {
            super(id, member.ext == null ? 0 : member.ext.id(), hook, target);
            this.member = member;
        }

        @Override
        public Mechanism mechanism() {
            return Mechanism.XDP_DISPATCHER;
        }

        @Override
        public Link withId(int agentId) {
            return new Dispatched(member, agentId, hook(), target());
        }

        @Override
        public Info info() {
            return new Info("xdp (dispatcher " + member.iface.dispatcherId + ")", programId, member.iface.ifindex);
        }

        /** Runs spec's program here instead (loaded again as an extension), at priority: one dispatcher swap. */
        public void update(ProgramSpec spec, int priority, int chainCallActions) {
            XdpDispatcher.update(member, spec, priority, chainCallActions);
            programId = member.ext.id();
        }

        /** Whether the interface still runs the dispatcher this program was last placed on. */
        public boolean running() {
            return XdpDispatcher.running(member);
        }

        /** The dispatcher program the interface runs this one from. */
        public int dispatcherId() {
            return member.iface.dispatcherId;
        }

        @Override
        public boolean isClosed() {
            return member.removed;
        }

        @Override
        public void close() {
            XdpDispatcher.remove(member);
        }
    }

    /**
     * Places the XDP program spec loads on the interface's dispatcher (libxdp's protocol, shared with
     * xdp-loader): lower priority runs first; the next program runs when this one returns an action in
     * chainCallActions (bit per XDP action; 0: XDP_PASS). See {@link XdpDispatcher}.
     */
    public static Dispatched dispatch(ProgramSpec spec, Hook.Xdp hook, int priority, int chainCallActions) {
        return (Dispatched) XdpDispatcher.attach(spec, hook, priority, chainCallActions);
    }

    static Link perfIoctl(Fd event, int programId, Hook hook, String target) {
        return new PerfIoctl(event, 0, programId, hook, target);
    }

    static Link undone(Mechanism m, Runnable detach, int programId, Hook hook, String target) {
        return new Undone(m, detach, new AtomicBoolean(), 0, programId, hook, target);
    }

    // ---- attach ----

    /**
     * Attaches program at hook. Checks first that the program's type runs there and that what the hook
     * names exists ({@link HookException}); the kernel's refusal after that is a {@link KernelException}
     * naming the hook. On any failure nothing stays attached and no fd is left open.
     */
    public static Link attach(Program program, Hook hook) {
        return attach(program, hook, null);
    }

    /**
     * Attaches through the mechanism asked for (null: the best the kernel has, falling back by itself on
     * older kernels): PERF_EVENT_IOCTL for perf event hooks, NETLINK for XDP (as `ip link` does) and tc,
     * PROG_ATTACH for cgroups, BPF_LINK for every hook that has links. A hook without that way is
     * INVALID_ARGUMENT on field "mechanism".
     */
    public static Link attach(Program program, Hook hook, Mechanism mechanism) {
        if (mechanism != null) {
            return forced(program, hook, mechanism);
        }
        return switch (hook) {
            case Hook.Tracepoint h -> PerfEventHooks.tracepoint(program, h);
            case Hook.Kprobe h -> PerfEventHooks.kprobe(program, h);
            case Hook.Uprobe h -> PerfEventHooks.uprobe(program, h);
            case Hook.PerfEvent h -> PerfEventHooks.perfEvent(program, h);
            case Hook.UprobeMulti h -> MultiProbeHooks.uprobeMulti(program, h);
            case Hook.KprobeMulti h -> MultiProbeHooks.kprobeMulti(program, h);
            case Hook.Xdp h -> NetworkHooks.xdp(program, h);
            case Hook.Tcx h -> NetworkHooks.tcx(program, h);
            case Hook.Tc h -> NetworkHooks.tc(program, h);
            case Hook.Netns h -> NetworkHooks.netns(program, h);
            case Hook.Netfilter h -> NetworkHooks.netfilter(program, h);
            case Hook.Cgroup h -> CgroupHooks.cgroup(program, h);
            case Hook.RawTracepoint h -> TracingHooks.rawTracepoint(program, h);
            case Hook.Tracing h -> TracingHooks.tracing(program, h);
            case Hook.Iter h -> TracingHooks.iter(program, h);
        };
    }

    private static Link forced(Program p, Hook hook, Mechanism m) {
        Link link = switch (m) {
            case PERF_EVENT_IOCTL -> switch (hook) {
                case Hook.Tracepoint h -> {
                    expect(p, "program", "a tracepoint", ProgramType.TRACEPOINT);
                    PerfEventHooks.tracepointId(h);
                    yield PerfEventHooks.perfIoctl(p, h, h.cookie(), h.category() + "/" + h.name());
                }
                case Hook.PerfEvent h -> {
                    expect(p, "program", "a perf event", ProgramType.PERF_EVENT);
                    yield PerfEventHooks.perfIoctl(p, h, h.cookie(), h.describe());
                }
                case Hook.Uprobe h -> {
                    expect(p, "program", "a uprobe", ProgramType.KPROBE);
                    yield PerfEventHooks.perfIoctl(p, h, h.cookie(), h.binary() + ":" + h.symbol());
                }
                case Hook.Kprobe h -> {
                    expect(p, "program", "a kprobe", ProgramType.KPROBE);
                    yield PerfEventHooks.perfIoctl(p, h, h.cookie(), h.function());
                }
                default -> null;
            };
            case NETLINK -> switch (hook) {
                case Hook.Xdp h -> NetworkHooks.xdpNetlink(p, h);
                case Hook.Tc h -> NetworkHooks.tc(p, h);
                default -> null;
            };
            case PROG_ATTACH -> hook instanceof Hook.Cgroup h ? CgroupHooks.cgroupProgAttach(p, h) : null;
            case XDP_DISPATCHER -> throw new InvalidSpecException("mechanism", "XDP_DISPATCHER loads the program"
                    + " again as an extension of a dispatcher's slot, from its object: it is for applications'"
                    + " attach rules (ApplyApplication), not for a program already loaded");
            case BPF_LINK -> {
                Link l = attach(p, hook, null);
                if (l.mechanism() != Mechanism.BPF_LINK) {
                    l.close();
                    throw new InvalidSpecException("mechanism", "this kernel has no BPF link for " + hook.describe()
                            + " (it attaches through " + l.mechanism() + " here): leave mechanism unset");
                }
                yield l;
            }
        };
        if (link == null) {
            throw new InvalidSpecException("mechanism", hook.describe() + " cannot be attached through " + m
                    + ": PERF_EVENT_IOCTL is for tracepoints, kprobes, uprobes and perf events, NETLINK for XDP and"
                    + " tc, PROG_ATTACH for cgroups; leave it unset for the best the kernel has");
        }
        return link;
    }

    /** INVALID_ARGUMENT on field unless the program is of one of the types the hook runs. */
    static void expect(Program p, String field, String hookName, ProgramType... types) {
        if (!Set.of(types).contains(p.type())) {
            StringBuilder names = new StringBuilder();
            for (ProgramType t : types) {
                names.append(names.isEmpty() ? "" : " or ").append(t);
            }
            throw new InvalidSpecException(field, "program " + p.id() + " is a " + p.type() + " program; " + hookName
                    + " runs " + names + " programs");
        }
    }

    /** A bpf link from an fd the kernel just gave: its id is read back; the fd is closed if that fails. */
    static Link adopt(Fd fd, Program p, Hook hook, String target) {
        try {
            BpfLinkInfo info = Bpf.linkInfo(fd);
            return new Kernel(fd, info.id(), p.id(), hook, target);
        } catch (RuntimeException e) {
            fd.close();
            throw e;
        }
    }

    static RuntimeException refused(KernelException e, Hook hook) {
        return e.withContext("attaching to " + hook.describe());
    }

    // ---- links made elsewhere ----

    /** BPF_LINK_GET_FD_BY_ID: a held link made by anyone, with its hook unknown to this agent. */
    public static Link fromId(int id) {
        Fd fd = Bpf.getFdById(BpfCmd.BPF_LINK_GET_FD_BY_ID, id);
        return adoptForeign(fd);
    }

    /** BPF_OBJ_GET on a bpffs path; {@link WrongKindException} if a program or map is pinned there. */
    public static Link fromPinned(String path) {
        Fd fd = Bpf.objGet(path);
        ObjectKind kind = ObjectKind.ofInode(fd.kind());
        if (kind != ObjectKind.LINK) {
            fd.close();
            throw new WrongKindException(path, ObjectKind.LINK, kind);
        }
        return adoptForeign(fd);
    }

    private static Link adoptForeign(Fd fd) {
        try {
            BpfLinkInfo info = Bpf.linkInfo(fd);
            return new Kernel(fd, info.id(), info.prog_id(), null, "");
        } catch (RuntimeException e) {
            fd.close();
            throw e;
        }
    }

    /** Is there still a link with this id in the kernel? */
    public static boolean existsInKernel(int id) {
        try (Fd fd = Bpf.getFdById(BpfCmd.BPF_LINK_GET_FD_BY_ID, id)) {
            return true;
        } catch (KernelException e) {
            if (e.errno() == Errno.ENOENT) {
                return false;
            }
            throw e;
        }
    }

    // ---- the link itself ----

    /** How the kernel holds it. */
    public abstract Mechanism mechanism();

    /**
     * The same attachment under an id the caller gives: for attachments the kernel does not number
     * (perf ioctl, netlink, PROG_ATTACH). This object must not be used after.
     */
    public abstract Link withId(int agentId);

    /** What the kernel says of the link now: its type name and program (the program changes on update). */
    public abstract Info info();

    /** @param ifindex for XDP and tcx links, the interface; else 0 */
    public record Info(String type, int programId, int ifindex) {
    }

    /**
     * BPF_LINK_UPDATE: the link runs next instead of its program, with no gap (XDP, tcx, cgroup, netns
     * links; the kernel refuses others with EOPNOTSUPP/EINVAL). With expected, only if it still runs that.
     */
    public void update(Program next, Program expected) {
        throw new InvalidSpecException("link", "an attachment made through " + describe(mechanism())
                + " cannot be updated: attach the new program and detach this one");
    }

    /**
     * Runs an iterator: what its program printed over every object, up to limit bytes. Each call starts
     * a new pass.
     */
    public Bpf.IterOutput readIterator(int limit) {
        throw new InvalidSpecException("link", this + " is not an iterator link");
    }

    @Override
    public void pin(String path) {
        throw new InvalidSpecException("object", "an attachment made through " + describe(mechanism())
                + " is not a BPF link and cannot be pinned");
    }

    private static String describe(Mechanism m) {
        return switch (m) {
            case NETLINK -> "netlink (an XDP program set by rtnetlink, or a tc filter)";
            case PERF_EVENT_IOCTL -> "the perf ioctl";
            case PROG_ATTACH -> "BPF_PROG_ATTACH";
            case BPF_LINK -> "a BPF link";
            case XDP_DISPATCHER -> "an XDP dispatcher's slot";
        };
    }

    /** The link's kernel id; for attachments the kernel does not number, 0 or the id {@link #withId} gave. */
    @Override
    public int id() {
        return id;
    }

    public int programId() {
        return programId;
    }

    /** The hook as attached; null for a link this agent did not make (opened by id or from a pin). */
    public Hook hook() {
        return hook;
    }

    /** What the hook resolved to: "eth0 (ifindex 2)", "/usr/lib/libc.so.6:malloc", a cgroup path. */
    public String target() {
        return target;
    }

    @Override
    public ObjectKind kind() {
        return ObjectKind.LINK;
    }

    /** Detaches, unless a pin of the link keeps it; exactly once. */
    @Override
    public abstract void close();

    @Override
    public String toString() {
        return "link " + id + " (" + (hook != null ? hook.describe() : "program " + programId) + ")";
    }
}
