package dev.bpfagent.agent.bpf;

import dev.bpfagent.agent.bpf.elf.ElfException;
import dev.bpfagent.agent.bpf.elf.ElfSymbols;
import dev.bpfagent.agent.errno.Errno;
import dev.bpfagent.agent.errno.KernelException;
import dev.bpfagent.agent.kernel.Bpf;
import dev.bpfagent.agent.kernel.BpfCmd;
import dev.bpfagent.agent.kernel.BpfLinkInfo;
import dev.bpfagent.agent.kernel.Fd;
import dev.bpfagent.agent.kernel.LinkCreateAttr;
import dev.bpfagent.agent.kernel.Netlink;
import dev.bpfagent.agent.kernel.PerfEvent;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.Set;

/**
 * A program attached to a hook: a BPF link (the kernel's object with an id, which detaches when its
 * last fd or pin goes), or on kernels without perf links a perf event the program was set on through
 * ioctl. Closing it detaches (unless a pin of the link keeps it). {@link #attach} checks that what the
 * hook names exists before anything is made, and leaves nothing behind when the kernel refuses.
 */
public final class Link implements BpfObject {
    /** How the kernel holds the attachment. */
    public enum Mechanism { BPF_LINK, PERF_EVENT_IOCTL, NETLINK, PROG_ATTACH }

    /** enum bpf_link_type, for listings. */
    static final String[] LINK_TYPES = {"unspec", "raw_tracepoint", "tracing", "cgroup", "iter", "netns", "xdp",
            "perf_event", "kprobe_multi", "struct_ops", "netfilter", "tcx", "uprobe_multi", "netkit", "sockmap"};

    /** bpf_attach_type BPF_PERF_EVENT: a link on a perf event (kprobe, uprobe, tracepoint, perf event). */
    static final int BPF_PERF_EVENT = 41;
    /** tcx placement flags (BPF_F_BEFORE, BPF_F_AFTER, BPF_F_ID: relative_id names a program id). */
    static final int BPF_F_BEFORE = 1 << 3, BPF_F_AFTER = 1 << 4, BPF_F_ID = 1 << 5;
    static final Path PMU_DEVICES = Path.of("/sys/bus/event_source/devices");

    /** The link's (or perf event's) fd; null for a netlink attachment, which {@link #detach} undoes. */
    private final Fd fd;
    private final Runnable detach;
    private final java.util.concurrent.atomic.AtomicBoolean detached = new java.util.concurrent.atomic.AtomicBoolean();
    private final int id;
    private final Mechanism mechanism;
    private final Hook hook;
    private final String target;
    private volatile int programId;

    private Link(Fd fd, int id, Mechanism mechanism, int programId, Hook hook, String target) {
        this(fd, null, id, mechanism, programId, hook, target);
    }

    private Link(Fd fd, Runnable detach, int id, Mechanism mechanism, int programId, Hook hook, String target) {
        this.fd = fd;
        this.detach = detach;
        this.id = id;
        this.mechanism = mechanism;
        this.programId = programId;
        this.hook = hook;
        this.target = target;
    }

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
            case Hook.Tracepoint h -> tracepoint(program, h);
            case Hook.RawTracepoint h -> rawTracepoint(program, h);
            case Hook.Kprobe h -> kprobe(program, h);
            case Hook.Uprobe h -> uprobe(program, h);
            case Hook.UprobeMulti h -> uprobeMulti(program, h);
            case Hook.KprobeMulti h -> kprobeMulti(program, h);
            case Hook.Xdp h -> xdp(program, h);
            case Hook.Tcx h -> tcx(program, h);
            case Hook.Tc h -> tc(program, h);
            case Hook.Cgroup h -> cgroup(program, h);
            case Hook.PerfEvent h -> perfEvent(program, h);
            case Hook.Tracing h -> tracing(program, h);
            case Hook.Netns h -> netns(program, h);
            case Hook.Netfilter h -> netfilter(program, h);
            case Hook.Iter h -> iter(program, h);
        };
    }

    private static Link forced(Program p, Hook hook, Mechanism m) {
        Link link = switch (m) {
            case PERF_EVENT_IOCTL -> switch (hook) {
                case Hook.Tracepoint h -> {
                    expect(p, "program", "a tracepoint", ProgramType.TRACEPOINT);
                    tracepointId(h);
                    yield perfIoctl(p, h, h.cookie(), h.category() + "/" + h.name());
                }
                case Hook.PerfEvent h -> {
                    expect(p, "program", "a perf event", ProgramType.PERF_EVENT);
                    yield perfIoctl(p, h, h.cookie(), h.describe());
                }
                case Hook.Uprobe h -> {
                    expect(p, "program", "a uprobe", ProgramType.KPROBE);
                    yield perfIoctl(p, h, h.cookie(), h.binary() + ":" + h.symbol());
                }
                case Hook.Kprobe h -> {
                    expect(p, "program", "a kprobe", ProgramType.KPROBE);
                    yield perfIoctl(p, h, h.cookie(), h.function());
                }
                default -> null;
            };
            case NETLINK -> switch (hook) {
                case Hook.Xdp h -> xdpNetlink(p, h);
                case Hook.Tc h -> tc(p, h);
                default -> null;
            };
            case PROG_ATTACH -> hook instanceof Hook.Cgroup h ? cgroupProgAttach(p, h) : null;
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

    private static Link perfIoctl(Program p, Hook hook, long cookie, String target) {
        if (cookie != 0) {
            throw new InvalidSpecException("mechanism", "only perf links carry a cookie; the perf ioctl does not");
        }
        try {
            return viaIoctl(p, hook, target);
        } catch (KernelException e) {
            throw refused(e, hook);
        }
    }

    private static void expect(Program p, String field, String hookName, ProgramType... types) {
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
    private static Link adopt(Fd fd, Program p, Hook hook, String target) {
        try {
            BpfLinkInfo info = Bpf.linkInfo(fd);
            return new Link(fd, info.id(), Mechanism.BPF_LINK, p.id(), hook, target);
        } catch (RuntimeException e) {
            fd.close();
            throw e;
        }
    }

    private static RuntimeException refused(KernelException e, Hook hook) {
        return e.withContext("attaching to " + hook.describe());
    }

    // --- perf event hooks: tracepoint, kprobe, uprobe, perf event ---

    /**
     * A perf link on the event (5.15+ for tracepoints/kprobes/uprobes: BPF_LINK_CREATE with BPF_PERF_EVENT),
     * which then holds the event; where the kernel has no perf links (EINVAL), the program is set on the
     * event by ioctl and the event's fd is the attachment. The event fd is closed on any failure.
     */
    private static Link onPerfEvent(Program p, Fd event, long cookie, Hook hook, String target) {
        try {
            Fd link;
            try (Fd ev = event) {
                link = Bpf.linkCreate(new LinkCreateAttr(p.fd(), ev, 0, BPF_PERF_EVENT, 0,
                        new LinkCreateAttr.PerfEvent(cookie)));
            } catch (KernelException.InvalidArgument noPerfLinks) {
                if (cookie != 0) {
                    throw noPerfLinks.withContext("this kernel has no perf links (5.15+), and only they carry a"
                            + " cookie");
                }
                return viaIoctl(p, hook, target);
            }
            return adopt(link, p, hook, target);
        } catch (KernelException e) {
            throw refused(e, hook);
        }
    }

    /** The pre-5.15 way; the caller's event fd is already closed, so the event is opened again for it. */
    private static Link viaIoctl(Program p, Hook hook, String target) {
        Fd event = openEvent(hook);
        try {
            PerfEvent.setBpf(event, p.fd());
            PerfEvent.enable(event);
            return new Link(event, 0, Mechanism.PERF_EVENT_IOCTL, p.id(), hook, target);
        } catch (RuntimeException e) {
            event.close();
            throw e;
        }
    }

    private static Fd openEvent(Hook hook) {
        return switch (hook) {
            case Hook.Tracepoint h -> PerfEvent.open(PerfEvent.PERF_TYPE_TRACEPOINT, tracepointId(h), -1, 0);
            case Hook.Kprobe h -> {
                Pmu pmu = pmu("kprobe", "hook.kprobe.function", "KPROBES_UNAVAILABLE",
                        "this kernel has no kprobes (no kprobe PMU in " + PMU_DEVICES + "; CONFIG_KPROBES is off)");
                yield PerfEvent.openProbe(pmu.type(), h.retprobe() ? pmu.retprobeBit() : 0, h.function(), h.offset(),
                        -1, 0);
            }
            case Hook.Uprobe h -> {
                Pmu pmu = pmu("uprobe", "hook.uprobe.binary", "UPROBES_UNAVAILABLE",
                        "this kernel has no uprobes (no uprobe PMU in " + PMU_DEVICES + ")");
                long offset = uprobeOffset(h);
                yield PerfEvent.openProbe(pmu.type(), h.retprobe() ? pmu.retprobeBit() : 0, h.binary(), offset,
                        h.pid(), h.pid() == -1 ? 0 : -1);
            }
            case Hook.PerfEvent h -> PerfEvent.open(h.type(), h.config(), h.samplePeriod(), h.pid(), h.cpu());
            default -> throw new IllegalStateException(hook + " is not a perf event hook");
        };
    }

    private static Link tracepoint(Program p, Hook.Tracepoint h) {
        expect(p, "program", "a tracepoint", ProgramType.TRACEPOINT);
        return onPerfEvent(p, openEvent(h), h.cookie(), h, h.category() + "/" + h.name());
    }

    /** The tracepoint's id from tracefs (events/CATEGORY/NAME/id), or the precise reason there is none. */
    static long tracepointId(Hook.Tracepoint h) {
        Optional<Path> root = Host.tracefs();
        if (root.isEmpty()) {
            throw HookException.unsupported("hook.tracepoint", "TRACEFS_UNAVAILABLE", "tracefs is not mounted at "
                    + Host.TRACEFS + " or /sys/kernel/debug/tracing, and the agent could not mount it");
        }
        Path category = root.get().resolve("events").resolve(h.category());
        if (!Files.isDirectory(category)) {
            throw HookException.notFound("hook.tracepoint.category", "TRACEPOINT_NOT_FOUND", "no tracepoint category '"
                    + h.category() + "' in " + category.getParent() + " (see available_events)");
        }
        Path id = category.resolve(h.name()).resolve("id");
        try {
            return Long.parseLong(Files.readString(id).strip());
        } catch (IOException | NumberFormatException e) {
            throw HookException.notFound("hook.tracepoint.name", "TRACEPOINT_NOT_FOUND", "no tracepoint '" + h.name()
                    + "' in category '" + h.category() + "' (" + id.getParent() + " is missing)");
        }
    }

    /** A PMU's type and retprobe bit (both differ between kernels), from sysfs. */
    record Pmu(int type, long retprobeBit) {
    }

    static Pmu pmu(String name, String field, String reason, String message) {
        Path dir = PMU_DEVICES.resolve(name);
        try {
            int type = Integer.parseInt(Files.readString(dir.resolve("type")).strip());
            long bit = 0;
            Path retprobe = dir.resolve("format/retprobe");
            if (Files.exists(retprobe)) {
                String f = Files.readString(retprobe).strip(); // "config:0"
                bit = 1L << Integer.parseInt(f.substring(f.indexOf(':') + 1).split("-")[0]);
            }
            return new Pmu(type, bit);
        } catch (IOException | RuntimeException e) {
            throw HookException.unsupported(field, reason, message);
        }
    }

    private static Link kprobe(Program p, Hook.Kprobe h) {
        expect(p, "program", "a kprobe", ProgramType.KPROBE);
        pmu("kprobe", "hook.kprobe.function", "KPROBES_UNAVAILABLE", "this kernel has no kprobes (no kprobe PMU in "
                + PMU_DEVICES + "; CONFIG_KPROBES is off)");
        try {
            return onPerfEvent(p, openEvent(h), h.cookie(), h, h.function());
        } catch (KernelException e) {
            if (e.errno() == Errno.ENOENT || e.errno() == Errno.EINVAL) {
                throw HookException.notFound("hook.kprobe.function", "FUNCTION_NOT_FOUND", "the kernel has no"
                        + " probeable function '" + h.function() + "' (see /proc/kallsyms; inlined and notrace"
                        + " functions cannot be probed): " + e.getMessage());
            }
            throw e;
        }
    }

    private static Link uprobe(Program p, Hook.Uprobe h) {
        expect(p, "program", "a uprobe", ProgramType.KPROBE);
        Path binary = Path.of(h.binary());
        if (!Files.isRegularFile(binary)) {
            throw HookException.notFound("hook.uprobe.binary", "BINARY_NOT_FOUND", "no file " + binary
                    + " on the agent's host");
        }
        if (h.pid() > 0 && !Files.isDirectory(Path.of("/proc/" + h.pid()))) {
            throw HookException.notFound("hook.uprobe.pid", "PROCESS_NOT_FOUND", "no process " + h.pid());
        }
        String at = h.binary() + ":" + (h.symbol().isEmpty() ? "0x" + Long.toHexString(h.offset()) : h.symbol());
        return onPerfEvent(p, openEvent(h), h.cookie(), h, at);
    }

    /** The file offset to probe: the symbol's (plus the hook's offset into it), or the offset as given. */
    static long uprobeOffset(Hook.Uprobe h) {
        if (h.symbol().isEmpty()) {
            return h.offset();
        }
        ElfSymbols symbols;
        try {
            symbols = ElfSymbols.read(Path.of(h.binary()));
        } catch (IOException e) {
            throw HookException.notFound("hook.uprobe.binary", "BINARY_NOT_FOUND", "cannot read " + h.binary() + ": "
                    + e.getMessage());
        } catch (ElfException e) {
            throw new InvalidSpecException("hook.uprobe.binary", e.getMessage());
        }
        ElfSymbols.Symbol s = symbols.find(h.symbol()).orElseThrow(() -> HookException.notFound("hook.uprobe.symbol",
                "SYMBOL_NOT_FOUND", "no function '" + h.symbol() + "' in " + h.binary() + "'s .symtab or .dynsym"
                        + (h.symbol().contains("@") ? " with that version" : "")));
        if (h.offset() != 0 && s.size() > 0 && h.offset() >= s.size()) {
            throw new InvalidSpecException("hook.uprobe.offset", h.offset() + " is past the end of " + h.symbol()
                    + " (" + s.size() + " bytes)");
        }
        return s.fileOffset() + h.offset();
    }

    /** BPF_F_KPROBE_MULTI_RETURN */
    static final int BPF_F_KPROBE_MULTI_RETURN = 1;

    private static Link kprobeMulti(Program p, Hook.KprobeMulti h) {
        expect(p, "program", "kprobe_multi", ProgramType.KPROBE);
        if (p.expectedAttachType().isPresent() && p.expectedAttachType().get() != AttachType.TRACE_KPROBE_MULTI) {
            throw new InvalidSpecException("program", "program " + p.id() + " was loaded with expected_attach_type "
                    + p.expectedAttachType().get() + "; kprobe_multi needs TRACE_KPROBE_MULTI");
        }
        try {
            return adopt(Bpf.linkCreate(new LinkCreateAttr(p.fd(), null, 0, AttachType.TRACE_KPROBE_MULTI.value, 0,
                    new LinkCreateAttr.KprobeMulti(h.functions().toArray(String[]::new), new long[0],
                            h.retprobe() ? BPF_F_KPROBE_MULTI_RETURN : 0))), p, h, String.join(",", h.functions()));
        } catch (KernelException e) {
            if (e.errno() == Errno.ENOENT || e.errno() == Errno.ESRCH) {
                throw HookException.notFound("hook.kprobe_multi.functions", "FUNCTION_NOT_FOUND", "one of "
                        + h.functions() + " is not a kernel function that can be probed (see"
                        + " /sys/kernel/tracing/available_filter_functions)");
            }
            if (e.errno() == Errno.EOPNOTSUPP || e.errno() == Errno.EINVAL) {
                throw HookException.unsupported("hook.kprobe_multi", "KPROBE_MULTI_UNAVAILABLE", "this kernel has no"
                        + " kprobe_multi links (5.18+ with CONFIG_FPROBE; " + e.errno() + "): attach one kprobe per"
                        + " function, or load the program with expected_attach_type TRACE_KPROBE_MULTI");
            }
            throw refused(e, h);
        }
    }

    /** BPF_F_UPROBE_MULTI_RETURN */
    static final int BPF_F_UPROBE_MULTI_RETURN = 1;

    private static Link uprobeMulti(Program p, Hook.UprobeMulti h) {
        expect(p, "program", "uprobe_multi", ProgramType.KPROBE);
        if (p.expectedAttachType().isPresent() && p.expectedAttachType().get() != AttachType.TRACE_UPROBE_MULTI) {
            throw new InvalidSpecException("program", "program " + p.id() + " was loaded with expected_attach_type "
                    + p.expectedAttachType().get() + "; uprobe_multi needs TRACE_UPROBE_MULTI");
        }
        Path binary = Path.of(h.binary());
        if (!Files.isRegularFile(binary)) {
            throw HookException.notFound("hook.uprobe_multi.binary", "BINARY_NOT_FOUND", "no file " + binary
                    + " on the agent's host");
        }
        long[] offsets = new long[h.symbols().size()];
        for (int i = 0; i < offsets.length; i++) {
            try {
                offsets[i] = uprobeOffset(new Hook.Uprobe(h.binary(), h.symbols().get(i), 0, h.retprobe(), h.pid(),
                        0));
            } catch (HookException e) {
                throw new HookException(e.kind(), "hook.uprobe_multi.symbols[" + i + "]", e.reason(),
                        e.getMessage().substring(e.field().length() + 2));
            } catch (InvalidSpecException e) {
                throw new InvalidSpecException("hook.uprobe_multi.binary", e.getMessage().substring(
                        e.field().length() + 2));
            }
        }
        try {
            return adopt(Bpf.linkCreate(new LinkCreateAttr(p.fd(), null, 0, AttachType.TRACE_UPROBE_MULTI.value, 0,
                    new LinkCreateAttr.UprobeMulti(h.binary(), offsets, new long[0],
                            h.retprobe() ? BPF_F_UPROBE_MULTI_RETURN : 0, Math.max(h.pid(), 0)))), p, h,
                    h.binary() + ":" + String.join(",", h.symbols()));
        } catch (KernelException e) {
            if (e.errno() == Errno.EINVAL && !KernelVersion.atLeast(6, 6)) {
                throw HookException.unsupported("hook.uprobe_multi", "UPROBE_MULTI_UNAVAILABLE", "uprobe_multi links"
                        + " need Linux 6.6+: attach one uprobe per function");
            }
            if (e.errno() == Errno.EINVAL) {
                throw e.withContext("attaching to " + h.describe() + ": the program must be loaded with"
                        + " expected_attach_type TRACE_UPROBE_MULTI");
            }
            throw refused(e, h);
        }
    }

    private static Link perfEvent(Program p, Hook.PerfEvent h) {
        expect(p, "program", "a perf event", ProgramType.PERF_EVENT);
        if (h.pid() > 0 && !Files.isDirectory(Path.of("/proc/" + h.pid()))) {
            throw HookException.notFound("hook.perf_event.pid", "PROCESS_NOT_FOUND", "no process " + h.pid());
        }
        if (h.cpu() >= PossibleCpus.count()) {
            throw HookException.notFound("hook.perf_event.cpu", "CPU_NOT_FOUND", "cpu " + h.cpu() + ": this host has "
                    + PossibleCpus.count() + " possible CPUs");
        }
        return onPerfEvent(p, openEvent(h), h.cookie(), h, h.describe());
    }

    // --- BPF links on everything else ---

    private static Link rawTracepoint(Program p, Hook.RawTracepoint h) {
        expect(p, "program", "a raw tracepoint", ProgramType.RAW_TRACEPOINT, ProgramType.RAW_TRACEPOINT_WRITABLE);
        try {
            return adopt(Bpf.rawTracepointOpen(h.name(), p.fd(), h.cookie()), p, h, h.name());
        } catch (KernelException e) {
            if (e.errno() == Errno.ENOENT) {
                throw HookException.notFound("hook.raw_tracepoint.name", "TRACEPOINT_NOT_FOUND", "the kernel has no"
                        + " tracepoint '" + h.name() + "' (raw tracepoints take the name without its category)");
            }
            throw refused(e, h);
        }
    }

    private static Link tracing(Program p, Hook.Tracing h) {
        expect(p, "program", "a tracing target (fentry, fexit, fmod_ret, lsm, tp_btf, freplace)", ProgramType.TRACING,
                ProgramType.LSM, ProgramType.EXT);
        int attachType = p.expectedAttachType().map(t -> t.value).orElse(
                p.type() == ProgramType.LSM ? AttachType.LSM_MAC.value : 0);
        try {
            return adopt(Bpf.linkCreate(new LinkCreateAttr(p.fd(), null, 0, attachType, 0,
                    new LinkCreateAttr.Tracing(0))), p, h, "its load's attach target");
        } catch (KernelException.InvalidArgument old) {
            // before 5.13 BPF_LINK_CREATE does not take tracing programs: BPF_RAW_TRACEPOINT_OPEN with no
            // name attaches them at their load's target (as libbpf does there)
            try {
                return adopt(Bpf.rawTracepointOpen(null, p.fd(), 0), p, h, "its load's attach target");
            } catch (KernelException e) {
                throw refused(e, h);
            }
        } catch (KernelException e) {
            throw refused(e, h);
        }
    }

    /** The interface's index, checked to exist (through sysfs, so a name and an index mean the same). */
    static int ifindex(Hook.Interface iface, String field) {
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

    private static Link xdp(Program p, Hook.Xdp h) {
        expect(p, "program", "XDP", ProgramType.XDP);
        int ifindex = ifindex(h.iface(), "hook.xdp.interface");
        try {
            return adopt(Bpf.linkCreate(new LinkCreateAttr(p.fd(), null, ifindex, AttachType.XDP.value, h.mode().flags,
                    null)), p, h, h.iface() + " (ifindex " + ifindex + ")");
        } catch (KernelException e) {
            if (e.errno() == Errno.EINVAL && !KernelVersion.atLeast(5, 9)) {
                return xdpNetlink(p, h); // XDP links are 5.9+
            }
            if (e.errno() == Errno.EBUSY || e.errno() == Errno.EEXIST) {
                throw e.withContext(h.iface() + " already has an XDP program (in this mode): detach it first, or"
                        + " update that link to this program");
            }
            throw refused(e, h);
        }
    }

    /**
     * XDP through rtnetlink, as `ip link set dev X xdp` does (and the only way before 5.9): never over a
     * program already there, and detached only while the interface still runs this one.
     */
    private static Link xdpNetlink(Program p, Hook.Xdp h) {
        expect(p, "program", "XDP", ProgramType.XDP);
        int ifindex = ifindex(h.iface(), "hook.xdp.interface");
        try {
            Netlink.setXdp(ifindex, p.fd(), h.mode().flags | Netlink.XDP_FLAGS_UPDATE_IF_NOEXIST, null);
        } catch (KernelException e) {
            if (e.errno() == Errno.EBUSY || e.errno() == Errno.EEXIST) {
                throw e.withContext(h.iface() + " already runs an XDP program (in this mode): detach it first");
            }
            throw refused(e, h);
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
        return new Link(null, undo, 0, Mechanism.NETLINK, p.id(), h, h.iface() + " (ifindex " + ifindex + ")");
    }

    private static Link tcx(Program p, Hook.Tcx h) {
        return tcx(p, h, true);
    }

    /** A tcx link; before 6.6 the legacy tc filter instead when fallback (the features probe asks without). */
    static Link tcx(Program p, Hook.Tcx h, boolean fallback) {
        expect(p, "program", "tcx", ProgramType.SCHED_CLS, ProgramType.SCHED_ACT);
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
            return adopt(Bpf.linkCreate(new LinkCreateAttr(p.fd(), null, ifindex, type.value, flags,
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
            throw refused(e, h);
        }
    }

    /**
     * The legacy way (and the tcx fallback before 6.6): the clsact qdisc (added if missing, and removed
     * with the last filter only if this agent added it) and a direct-action cls_bpf filter, by netlink.
     */
    private static Link tc(Program p, Hook.Tc h) {
        expect(p, "program", "tc", ProgramType.SCHED_CLS, ProgramType.SCHED_ACT);
        int ifindex = ifindex(h.iface(), "hook.tc.interface");
        boolean added = Netlink.addClsact(ifindex);
        Netlink.TcFilter filter;
        try {
            filter = Netlink.addBpfFilter(ifindex, h.ingress(), h.priority() == 0 ? 1 : h.priority(),
                    h.handle() == 0 ? 1 : h.handle(), p.fd(), p.name().isEmpty() ? "bpf-agent" : p.name());
        } catch (KernelException e) {
            if (added) {
                Netlink.deleteClsact(ifindex);
            }
            if (e.errno() == Errno.EEXIST) {
                throw e.withContext(h.iface() + " already has a tc filter at priority " + (h.priority() == 0 ? 1
                        : h.priority()) + " handle " + (h.handle() == 0 ? 1 : h.handle()) + " on " + (h.ingress()
                        ? "ingress" : "egress") + ": give another hook.tc.priority");
            }
            throw refused(e, h);
        }
        Runnable undo = () -> {
            try {
                Netlink.deleteFilter(filter);
            } catch (KernelException gone) {
                // the interface or the qdisc went away, and the filter with it
            }
            if (added) {
                try {
                    Netlink.deleteClsact(ifindex);
                } catch (KernelException gone) {
                    // someone else removed it
                }
            }
        };
        return new Link(null, undo, 0, Mechanism.NETLINK, p.id(), h, h.iface() + " (ifindex " + ifindex + ") "
                + (h.ingress() ? "ingress" : "egress") + " prio " + filter.priority() + " handle " + filter.handle());
    }

    private static Link cgroup(Program p, Hook.Cgroup h) {
        checkCgroup(p, h);
        try (Fd cg = Fd.openReadOnly(h.path())) {
            return adopt(Bpf.linkCreate(new LinkCreateAttr(p.fd(), cg, 0, h.attachType().value, 0, null)), p, h,
                    h.path());
        } catch (KernelException e) {
            if (e.errno() == Errno.EINVAL && !KernelVersion.atLeast(5, 7)) {
                return cgroupProgAttach(p, h); // cgroup links are 5.7+
            }
            if (e.errno() == Errno.EINVAL) {
                throw e.withContext("attaching to " + h.describe() + ": the program must be loaded with"
                        + " expected_attach_type " + h.attachType() + " when its type needs one (cgroup/sock_addr,"
                        + " cgroup/sock, sockopt)");
            }
            throw refused(e, h);
        }
    }

    private static void checkCgroup(Program p, Hook.Cgroup h) {
        expect(p, "program", "a cgroup hook", ProgramType.CGROUP_SKB, ProgramType.CGROUP_SOCK,
                ProgramType.CGROUP_SOCK_ADDR, ProgramType.SOCK_OPS, ProgramType.CGROUP_DEVICE,
                ProgramType.CGROUP_SYSCTL, ProgramType.CGROUP_SOCKOPT, ProgramType.LSM);
        Path dir = Path.of(h.path());
        if (!Files.isDirectory(dir) || !Files.exists(dir.resolve("cgroup.procs"))) {
            throw HookException.notFound("hook.cgroup.path", "CGROUP_NOT_FOUND", h.path() + " is not a cgroup"
                    + " directory (no cgroup.procs in it)");
        }
        if (!Files.exists(dir.resolve("cgroup.controllers"))) {
            throw new InvalidSpecException("hook.cgroup.path", h.path() + " is a cgroup v1 directory: BPF attaches to"
                    + " cgroup v2 (e.g. under " + Host.cgroup2().orElse(Path.of("/sys/fs/cgroup")) + ")");
        }
    }

    /**
     * BPF_PROG_ATTACH with BPF_F_ALLOW_MULTI (before 5.7 the only way; still what bpftool cgroup attach
     * does): other programs keep running beside it. The cgroup's fd is kept to detach this program only.
     */
    private static Link cgroupProgAttach(Program p, Hook.Cgroup h) {
        checkCgroup(p, h);
        Fd cg = Fd.openReadOnly(h.path());
        try {
            Bpf.progAttach(cg, p.fd(), h.attachType().value, Bpf.BPF_F_ALLOW_MULTI);
        } catch (KernelException e) {
            cg.close();
            if (e.errno() == Errno.EPERM) {
                throw e.withContext("attaching to " + h.describe() + ": a program attached there without"
                        + " BPF_F_ALLOW_MULTI (or with BPF_F_ALLOW_OVERRIDE) keeps others out");
            }
            if (e.errno() == Errno.EINVAL) {
                throw e.withContext("attaching to " + h.describe() + ": the program must be loaded with"
                        + " expected_attach_type " + h.attachType() + " when its type needs one");
            }
            throw refused(e, h);
        } catch (RuntimeException e) {
            cg.close();
            throw e;
        }
        Fd prog = p.fd();
        Runnable undo = () -> {
            try (cg) {
                Bpf.progDetach(cg, prog, h.attachType().value);
            } catch (KernelException gone) {
                // the cgroup was removed, and its programs with it
            }
        };
        return new Link(null, undo, 0, Mechanism.PROG_ATTACH, p.id(), h, h.path());
    }

    /** An iterator link: BPF_LINK_CREATE with TRACE_ITER (and the map for map iterators). */
    private static Link iter(Program p, Hook.Iter h) {
        expect(p, "program", "an iterator", ProgramType.TRACING);
        if (p.expectedAttachType().isPresent() && p.expectedAttachType().get() != AttachType.TRACE_ITER) {
            throw new InvalidSpecException("program", "program " + p.id() + " was loaded with expected_attach_type "
                    + p.expectedAttachType().get() + "; an iterator is loaded with TRACE_ITER and"
                    + " attach_target.function naming it (task, bpf_map_elem, ...)");
        }
        try {
            return adopt(Bpf.linkCreate(new LinkCreateAttr(p.fd(), null, 0, AttachType.TRACE_ITER.value, 0,
                    new LinkCreateAttr.Iter(h.map() != null ? h.map().fd() : null))), p, h, h.describe());
        } catch (KernelException e) {
            if (e.errno() == Errno.EINVAL || e.errno() == Errno.EACCES) {
                throw e.withContext("attaching " + h.describe() + (h.map() == null ? ": iterators over map"
                        + " elements need hook.iter.map_id" : ": only iterators over map elements take a map,"
                        + " and the program must read values no bigger than the map's"));
            }
            throw refused(e, h);
        }
    }

    /**
     * Runs an iterator: what its program printed over every object, up to limit bytes. Each call starts
     * a new pass.
     */
    public Bpf.IterOutput readIterator(int limit) {
        if (!(hook instanceof Hook.Iter) && !(hook == null && mechanism == Mechanism.BPF_LINK
                && "iter".equals(info().type()))) {
            throw new InvalidSpecException("link", this + " is not an iterator link");
        }
        return Bpf.iterRead(fd, limit);
    }

    private static Link netns(Program p, Hook.Netns h) {
        expect(p, "program", "a network namespace", ProgramType.SK_LOOKUP, ProgramType.FLOW_DISSECTOR);
        AttachType type = p.type() == ProgramType.SK_LOOKUP ? AttachType.SK_LOOKUP : AttachType.FLOW_DISSECTOR;
        if (!Files.exists(Path.of(h.path()))) {
            throw HookException.notFound("hook.netns.path", "NETNS_NOT_FOUND", "no network namespace at " + h.path());
        }
        try (Fd ns = Fd.openReadOnly(h.path())) {
            return adopt(Bpf.linkCreate(new LinkCreateAttr(p.fd(), ns, 0, type.value, 0, null)), p, h, h.path());
        } catch (KernelException e) {
            throw refused(e, h);
        }
    }

    private static Link netfilter(Program p, Hook.Netfilter h) {
        expect(p, "program", "a netfilter hook", ProgramType.NETFILTER);
        try {
            return adopt(Bpf.linkCreate(new LinkCreateAttr(p.fd(), null, 0, AttachType.NETFILTER.value, 0,
                    new LinkCreateAttr.Netfilter(h.pf(), h.hooknum(), h.priority(), h.flags()))), p, h, h.describe());
        } catch (KernelException e) {
            throw refused(e, h);
        }
    }

    // --- the link itself ---

    /**
     * The same attachment under an id the caller gives: for perf-ioctl attachments, which the kernel
     * does not number. This object must not be used after.
     */
    public Link withId(int agentId) {
        if (mechanism == Mechanism.BPF_LINK) {
            throw new IllegalStateException("a BPF link keeps its kernel id");
        }
        return new Link(fd, detach, agentId, mechanism, programId, hook, target);
    }

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
            return new Link(fd, info.id(), Mechanism.BPF_LINK, info.prog_id(), null, "");
        } catch (RuntimeException e) {
            fd.close();
            throw e;
        }
    }

    /**
     * BPF_LINK_UPDATE: the link runs next instead of its program, with no gap (XDP, tcx, cgroup, netns
     * links; the kernel refuses others with EOPNOTSUPP/EINVAL). With expected, only if it still runs that.
     */
    public void update(Program next, Program expected) {
        if (mechanism != Mechanism.BPF_LINK) {
            throw new InvalidSpecException("link", "an attachment made through " + describe(mechanism)
                    + " cannot be updated: attach the new program and detach this one");
        }
        try {
            Bpf.linkUpdate(fd, next.fd(), expected != null ? expected.fd() : null);
        } catch (KernelException e) {
            if (e.errno() == Errno.EPERM && expected != null) {
                throw e.withContext("the link no longer runs program " + expected.id());
            }
            throw e.withContext("updating link " + id + " (" + (hook != null ? hook.describe() : "a link") + ")");
        }
        programId = next.id();
    }

    /** What the kernel says of the link now: its type name and program (the program changes on update). */
    public Info info() {
        if (mechanism == Mechanism.PERF_EVENT_IOCTL) {
            return new Info("perf_event (ioctl)", programId, 0);
        }
        if (mechanism == Mechanism.NETLINK) {
            return new Info(hook instanceof Hook.Xdp ? "xdp (netlink)" : "tc (clsact filter)", programId, 0);
        }
        if (mechanism == Mechanism.PROG_ATTACH) {
            return new Info("cgroup (prog_attach)", programId, 0);
        }
        BpfLinkInfo i = Bpf.linkInfo(fd);
        String type = i.type() >= 0 && i.type() < LINK_TYPES.length ? LINK_TYPES[i.type()] : "type " + i.type();
        int ifindex = type.equals("xdp") || type.equals("tcx") || type.equals("netkit") ? i.unionInt0() : 0;
        return new Info(type, i.prog_id(), ifindex);
    }

    /** @param ifindex for XDP and tcx links, the interface; else 0 */
    public record Info(String type, int programId, int ifindex) {
    }

    private static String describe(Mechanism m) {
        return switch (m) {
            case NETLINK -> "netlink (an XDP program set by rtnetlink, or a tc filter)";
            case PERF_EVENT_IOCTL -> "the perf ioctl";
            case PROG_ATTACH -> "BPF_PROG_ATTACH";
            case BPF_LINK -> "a BPF link";
        };
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

    /** The link's kernel id; 0 for a perf-ioctl attachment, which the kernel does not number. */
    @Override
    public int id() {
        return id;
    }

    public int programId() {
        return programId;
    }

    public Mechanism mechanism() {
        return mechanism;
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

    @Override
    public void pin(String path) {
        if (mechanism != Mechanism.BPF_LINK) {
            throw new InvalidSpecException("object", "an attachment made through " + describe(mechanism)
                    + " is not a BPF link and cannot be pinned");
        }
        Bpf.objPin(fd, path);
    }

    @Override
    public boolean isClosed() {
        return fd != null ? fd.isClosed() : detached.get();
    }

    /** Detaches, unless a pin of the link keeps it; closes the fd exactly once. */
    @Override
    public void close() {
        if (fd != null) {
            fd.close();
        } else if (detached.compareAndSet(false, true)) {
            detach.run();
        }
    }

    @Override
    public String toString() {
        return "link " + id + " (" + (hook != null ? hook.describe() : "program " + programId) + ")";
    }
}
