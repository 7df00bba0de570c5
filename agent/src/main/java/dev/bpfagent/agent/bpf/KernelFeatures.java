package dev.bpfagent.agent.bpf;

import dev.bpfagent.agent.bpf.btf.BtfTypes;
import dev.bpfagent.agent.bpf.btf.KernelBtf;
import dev.bpfagent.agent.errno.Errno;
import dev.bpfagent.agent.errno.KernelException;
import dev.bpfagent.agent.kernel.Bpf;
import dev.bpfagent.agent.kernel.Fd;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * What the running kernel supports, probed the way libbpf and cilium/ebpf do: a minimal program of
 * each type loaded, a minimal map of each type created, each attach mechanism tried for real where
 * that is harmless (a perf link on a rarely firing tracepoint, a tcx link on lo that passes
 * everything, closed at once), and sysfs read for what only it tells (PMU types, BTF, active LSMs).
 * Each answer says how it was found. Nothing probed stays behind.
 */
public final class KernelFeatures {
    private KernelFeatures() {
    }

    /** SUPPORTED; MISSING (this kernel lacks it); REFUSED (it has it but refuses this agent: EPERM). */
    public enum State { SUPPORTED, MISSING, REFUSED }

    public record Feature(String name, State state, String detail) {
    }

    /** The whole report, in groups. */
    public record Report(String kernelRelease, List<Feature> programTypes, List<Feature> mapTypes,
                         List<Feature> attach, List<Feature> other) {
        /** The feature of this name in any group, or empty. */
        public Optional<Feature> find(String name) {
            for (List<Feature> g : List.of(programTypes, mapTypes, attach, other)) {
                for (Feature f : g) {
                    if (f.name().equals(name)) {
                        return Optional.of(f);
                    }
                }
            }
            return Optional.empty();
        }
    }

    public static Report probe() {
        List<Feature> programs = new ArrayList<>();
        for (ProgramType t : ProgramType.values()) {
            if (t != ProgramType.UNSPEC && t != ProgramType.STRUCT_OPS && t != ProgramType.EXT) {
                programs.add(programType(t));
            }
        }
        List<Feature> maps = new ArrayList<>();
        for (MapType t : MapType.values()) {
            mapType(t).ifPresent(maps::add);
        }
        List<Feature> attach = new ArrayList<>();
        attach.add(pmu("kprobe"));
        attach.add(pmu("uprobe"));
        attach.add(tracefs());
        attach.add(perfLink());
        attach.add(tcx());
        attach.add(loadsWith("kprobe_multi", ProgramType.KPROBE, AttachType.TRACE_KPROBE_MULTI,
                kallsyms("register_fprobe_ips") ? "" : "no fprobe in /proc/kallsyms (CONFIG_FPROBE off)"));
        attach.add(uprobeMulti());
        attach.add(btfFunction("netkit", "netkit_link_attach"));
        attach.add(freplaceCached());
        List<Feature> other = new ArrayList<>();
        other.add(KernelBtf.available() ? new Feature("btf_vmlinux", State.SUPPORTED, "/sys/kernel/btf/vmlinux")
                : new Feature("btf_vmlinux", State.MISSING, "no /sys/kernel/btf/vmlinux (CONFIG_DEBUG_INFO_BTF off)"));
        other.add(moduleBtf());
        other.add(lsmBpf());
        other.add(batchOps());
        other.add(KernelVersion.atLeast(5, 17) ? new Feature("fd_array", State.SUPPORTED, "by version (5.17+)")
                : new Feature("fd_array", State.MISSING, "by version (before 5.17)"));
        other.add(new Feature("ring_buffer", maps.stream().anyMatch(f -> f.name().equals("RINGBUF")
                && f.state() == State.SUPPORTED) ? State.SUPPORTED : State.MISSING, "the RINGBUF map type"));
        return new Report(KernelVersion.release(), List.copyOf(programs), List.copyOf(maps), List.copyOf(attach),
                List.copyOf(other));
    }

    private static Feature outcome(String name, RuntimeException e) {
        if (e instanceof VerifierException ve) {
            return new Feature(name, State.MISSING, "the verifier rejected the probe: " + ve.reason());
        }
        if (e instanceof KernelException ke) {
            if (ke.errno() == Errno.EPERM || ke.errno() == Errno.EACCES) {
                return new Feature(name, State.REFUSED, ke.errno() + ": the kernel has it but refuses this agent"
                        + " (lockdown, or a policy): " + ke.getMessage());
            }
            return new Feature(name, State.MISSING, ke.errno() + ": " + ke.getMessage());
        }
        return new Feature(name, State.MISSING, e.getMessage());
    }

    /** r0 = 0; exit (r0 = -1 where a program type wants a tc action): the smallest program. */
    static byte[] returning(int r0) {
        return new byte[] {(byte) 0xb7, 0, 0, 0, (byte) r0, (byte) (r0 >> 8), (byte) (r0 >> 16), (byte) (r0 >> 24),
                (byte) 0x95, 0, 0, 0, 0, 0, 0, 0};
    }

    static Feature programType(ProgramType t) {
        String name = t.name();
        ProgramSpec.Builder b = ProgramSpec.builder(t, returning(0)).name("probe");
        switch (t) {
            case CGROUP_SOCK_ADDR -> b.expectedAttachType(AttachType.CGROUP_INET4_CONNECT);
            case CGROUP_SOCKOPT -> b.expectedAttachType(AttachType.CGROUP_GETSOCKOPT);
            case SK_LOOKUP -> b.expectedAttachType(AttachType.SK_LOOKUP);
            case NETFILTER -> b.expectedAttachType(AttachType.NETFILTER);
            case SYSCALL -> b.progFlags(1 << 4); // BPF_F_SLEEPABLE: syscall programs must be
            case TRACING, LSM -> {
                boolean lsm = t == ProgramType.LSM;
                b.expectedAttachType(lsm ? AttachType.LSM_MAC : AttachType.TRACE_FENTRY);
                try {
                    b.attachTarget(KernelFunctions.attachTarget(t, Optional.of(lsm ? AttachType.LSM_MAC
                            : AttachType.TRACE_FENTRY), lsm ? "file_open" : "bpf_fentry_test1"));
                } catch (RuntimeException e) {
                    return new Feature(name, State.MISSING, "no target to load against: " + e.getMessage());
                }
            }
            default -> {
            }
        }
        try (Program p = Program.load(b.build()).program()) {
            return new Feature(name, State.SUPPORTED, "loaded");
        } catch (RuntimeException e) {
            return outcome(name, e);
        }
    }

    static Optional<Feature> mapType(MapType t) {
        MapSpec spec = switch (t) {
            case UNSPEC, CGROUP_STORAGE, PERCPU_CGROUP_STORAGE, SK_STORAGE, INODE_STORAGE, TASK_STORAGE, CGRP_STORAGE,
                    STRUCT_OPS, ARENA, REUSEPORT_SOCKARRAY, ARRAY_OF_MAPS, HASH_OF_MAPS -> null; // need BTF or more
            case RINGBUF, USER_RINGBUF -> MapSpec.of(t, 0, 0, 4096);
            case QUEUE, STACK, BLOOM_FILTER -> MapSpec.of(t, 0, 4, 1);
            case LPM_TRIE -> MapSpec.builder(t, 8, 8, 1).flags(MapSpec.BPF_F_NO_PREALLOC).build();
            case PROG_ARRAY, PERF_EVENT_ARRAY, CGROUP_ARRAY, DEVMAP, DEVMAP_HASH, SOCKMAP, SOCKHASH, XSKMAP, CPUMAP ->
                    MapSpec.of(t, 4, 4, 1);
            default -> MapSpec.of(t, 4, 8, 1);
        };
        if (spec == null) {
            return Optional.empty();
        }
        try (BpfMap m = BpfMap.create(spec)) {
            return Optional.of(new Feature(t.name(), State.SUPPORTED, "created"));
        } catch (RuntimeException e) {
            return Optional.of(outcome(t.name(), e));
        }
    }

    static Feature pmu(String kind) {
        String name = kind + "_pmu";
        try {
            PerfEventHooks.Pmu p = PerfEventHooks.pmu(kind, name, "", "");
            return new Feature(name, State.SUPPORTED, "type " + p.type() + ", retprobe bit " + Long.numberOfTrailingZeros(
                    p.retprobeBit()) + " (" + PerfEventHooks.PMU_DEVICES.resolve(kind) + ")");
        } catch (HookException e) {
            return new Feature(name, State.MISSING, "no " + PerfEventHooks.PMU_DEVICES.resolve(kind) + (kind.equals("kprobe")
                    ? " (CONFIG_KPROBES off)" : " (CONFIG_UPROBE_EVENTS off)"));
        }
    }

    static Feature tracefs() {
        return Host.tracefs().map(p -> new Feature("tracefs", State.SUPPORTED, p.toString()
                + (Files.exists(p.resolve("kprobe_events")) ? ", kprobe_events" : ", no kprobe_events")))
                .orElse(new Feature("tracefs", State.MISSING, "not mounted at " + Host.TRACEFS
                        + " or /sys/kernel/debug/tracing"));
    }

    /** A perf link (5.15+) on a tracepoint that hardly fires, closed at once. */
    static Feature perfLink() {
        try (Program p = Program.load(ProgramSpec.of(ProgramType.TRACEPOINT, returning(0), "probe")).program();
             Link l = Link.attach(p, new Hook.Tracepoint("syscalls", "sys_enter_getppid", 0))) {
            return l.mechanism() == Link.Mechanism.BPF_LINK
                    ? new Feature("perf_link", State.SUPPORTED, "a perf link on syscalls/sys_enter_getppid")
                    : new Feature("perf_link", State.MISSING, "attached through the perf ioctl instead (before 5.15)");
        } catch (RuntimeException e) {
            return outcome("perf_link", e);
        }
    }

    /** A tcx link (6.6+) on lo with a program that passes everything (TCX_NEXT), closed at once. */
    static Feature tcx() {
        try (Program p = Program.load(ProgramSpec.of(ProgramType.SCHED_CLS, returning(-1), "probe")).program();
             Link l = NetworkHooks.tcx(p, new Hook.Tcx(new Hook.Interface("lo", 0), true, 0, 0), false)) {
            return new Feature("tcx", State.SUPPORTED, "a tcx link on lo");
        } catch (HookException e) {
            return new Feature("tcx", State.MISSING, e.getMessage());
        } catch (RuntimeException e) {
            return outcome("tcx", e);
        }
    }

    /**
     * BTF for one global function {@code int probe(struct xdp_md *ctx)}: what freplace needs on both
     * sides (the target's function and the extension's, matched by prototype). Type ids: 1 int, 2 struct
     * xdp_md, 3 pointer to it, 4 the prototype, 5 FUNC probe.
     */
    static byte[] probeBtf() {
        byte[] strings = "\0int\0xdp_md\0ctx\0probe\0".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        java.nio.ByteBuffer t = java.nio.ByteBuffer.allocate(80).order(java.nio.ByteOrder.nativeOrder());
        t.putInt(1).putInt(1 << 24).putInt(4).putInt((1 << 24) | 32);      // [1] INT int, signed, 32 bits
        t.putInt(5).putInt(4 << 24).putInt(24);                            // [2] STRUCT xdp_md, no members
        t.putInt(0).putInt(2 << 24).putInt(2);                             // [3] PTR -> 2
        t.putInt(0).putInt((13 << 24) | 1).putInt(1).putInt(12).putInt(3); // [4] FUNC_PROTO int (ctx: 3)
        t.putInt(16).putInt((12 << 24) | 1).putInt(4);                     // [5] FUNC probe, global
        int typeLen = t.position();
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(24 + typeLen + strings.length)
                .order(java.nio.ByteOrder.nativeOrder());
        b.putShort((short) 0xeB9F).put((byte) 1).put((byte) 0).putInt(24).putInt(0).putInt(typeLen).putInt(typeLen)
                .putInt(strings.length);
        b.put(t.array(), 0, typeLen).put(strings);
        return b.array();
    }

    /** func_info for one function at instruction 0: BTF type 5 of {@link #probeBtf()}. */
    static ProgramSpec.Btf probeFunc() {
        byte[] fi = java.nio.ByteBuffer.allocate(8).order(java.nio.ByteOrder.nativeOrder()).putInt(0).putInt(5).array();
        return new ProgramSpec.Btf(probeBtf(), fi, 8, new byte[0], 0);
    }

    /**
     * freplace (BPF_PROG_TYPE_EXT, 5.6+; re-attached to other targets 5.10+), what an XDP dispatcher
     * needs to run several programs on one interface: an XDP program with BTF, then an extension
     * program loaded against its function, as libxdp does. REFUSED where the kernel has EXT but refuses
     * this agent (lockdown, a policy).
     */
    static Feature freplace() {
        try (Program target = Program.load(ProgramSpec.builder(ProgramType.XDP, returning(2)).name("probe")
                .license("GPL").btf(probeFunc()).build()).program();
             Program ext = Program.load(ProgramSpec.builder(ProgramType.EXT, returning(2)).name("probe_ext")
                     .license("GPL").btf(probeFunc()).attachTarget(new ProgramSpec.AttachTarget(5, 0, target.id()))
                     .build()).program()) {
            return new Feature("freplace", State.SUPPORTED, "an EXT program loads against an XDP program's"
                    + " function (program " + ext.id() + " on " + target.id() + ")");
        } catch (RuntimeException e) {
            return outcome("freplace", e);
        }
    }

    private static volatile Feature freplaceOnce;

    /** {@link #freplace()}, probed once per agent. */
    public static Feature freplaceCached() {
        Feature f = freplaceOnce;
        if (f == null) {
            f = freplace();
            freplaceOnce = f;
        }
        return f;
    }

    /** A program type with this expected attach type loads (the kernel knows the attach type). */
    static Feature loadsWith(String name, ProgramType type, AttachType at, String unless) {
        if (!unless.isEmpty()) {
            return new Feature(name, State.MISSING, unless);
        }
        try (Program p = Program.load(ProgramSpec.builder(type, returning(0)).name("probe").expectedAttachType(at)
                .build()).program()) {
            return new Feature(name, State.SUPPORTED, "a " + type + " program loads with expected_attach_type " + at);
        } catch (RuntimeException e) {
            return outcome(name, e);
        }
    }

    /**
     * uprobe_multi (6.6+), asked as libbpf does: a link on path "/" (not a file) fails with EBADF where the
     * kernel has uprobe_multi links and EINVAL where it does not. Loading a program with the attach type
     * says nothing: older kernels accept an expected_attach_type they do not know for KPROBE programs.
     */
    static Feature uprobeMulti() {
        try (Program p = Program.load(ProgramSpec.builder(ProgramType.KPROBE, returning(0)).name("probe")
                .expectedAttachType(AttachType.TRACE_UPROBE_MULTI).build()).program()) {
            try (Fd link = Bpf.linkCreate(new dev.bpfagent.agent.kernel.LinkCreateAttr(p.fd(), null, 0,
                    AttachType.TRACE_UPROBE_MULTI.value, 0, new dev.bpfagent.agent.kernel.LinkCreateAttr.UprobeMulti(
                    "/", new long[] {0}, new long[0], 0, 0)))) {
                return new Feature("uprobe_multi", State.SUPPORTED, "a link on / was made (unexpected, but there)");
            } catch (KernelException e) {
                return e.errno() == Errno.EBADF
                        ? new Feature("uprobe_multi", State.SUPPORTED, "BPF_LINK_CREATE knows it (EBADF for path /)")
                        : new Feature("uprobe_multi", State.MISSING, "BPF_LINK_CREATE does not know it: " + e.errno());
            }
        } catch (RuntimeException e) {
            return outcome("uprobe_multi", e);
        }
    }

    static Feature btfFunction(String name, String function) {
        if (!KernelBtf.available()) {
            return new Feature(name, State.MISSING, "unknown: no kernel BTF to look " + function + " up in");
        }
        return KernelBtf.find(BtfTypes.Kind.FUNC, function).isPresent()
                ? new Feature(name, State.SUPPORTED, function + " is in the kernel's BTF")
                : new Feature(name, State.MISSING, "no " + function + " in the kernel's BTF");
    }

    static boolean kallsyms(String symbol) {
        try (var lines = Files.lines(Path.of("/proc/kallsyms"))) {
            return lines.anyMatch(l -> l.endsWith(" " + symbol) || l.contains(" " + symbol + "\t"));
        } catch (IOException | java.io.UncheckedIOException e) {
            return false;
        }
    }

    static Feature moduleBtf() {
        try (var list = Files.list(Path.of("/sys/kernel/btf"))) {
            long n = list.filter(p -> !p.getFileName().toString().equals("vmlinux")).count();
            return n > 0 ? new Feature("btf_modules", State.SUPPORTED, n + " modules with BTF")
                    : new Feature("btf_modules", State.MISSING, "no module BTF in /sys/kernel/btf");
        } catch (IOException e) {
            return new Feature("btf_modules", State.MISSING, "no /sys/kernel/btf");
        }
    }

    /** BPF LSM runs only when "bpf" is among the active LSMs (lsm= on the command line, or the config). */
    static Feature lsmBpf() {
        Path lsm = Path.of("/sys/kernel/security/lsm");
        try {
            String active = Files.readString(lsm).strip();
            return active.contains("bpf") ? new Feature("lsm_bpf", State.SUPPORTED, "active LSMs: " + active)
                    : new Feature("lsm_bpf", State.MISSING, "bpf is not among the active LSMs (" + active + "): boot"
                    + " with lsm=...,bpf");
        } catch (IOException e) {
            // securityfs not mounted (the agent does not mount it): the boot command line may say
            try {
                for (String arg : Files.readString(Path.of("/proc/cmdline")).strip().split("\\s+")) {
                    if (arg.startsWith("lsm=")) {
                        return arg.contains("bpf") ? new Feature("lsm_bpf", State.SUPPORTED, "booted with " + arg)
                                : new Feature("lsm_bpf", State.MISSING, "booted with " + arg + ", without bpf");
                    }
                }
            } catch (IOException ignored) {
                // no /proc/cmdline: unknown, said below
            }
            return new Feature("lsm_bpf", State.MISSING, "unknown: cannot read " + lsm + " (securityfs not mounted)"
                    + " and no lsm= on the command line; BPF LSM programs attach but run only when bpf is active");
        }
    }

    /** BPF_MAP_LOOKUP_BATCH (5.6+) on an empty hash map: ENOENT means the call is there. */
    static Feature batchOps() {
        try (BpfMap m = BpfMap.create(MapSpec.of(MapType.HASH, 4, 8, 1))) {
            Bpf.mapLookupBatch(m.fd(), null, 4, 4, 8, 1);
            return new Feature("batch_ops", State.SUPPORTED, "BPF_MAP_LOOKUP_BATCH");
        } catch (KernelException e) {
            return e.errno() == Errno.ENOENT ? new Feature("batch_ops", State.SUPPORTED, "BPF_MAP_LOOKUP_BATCH")
                    : outcome("batch_ops", e);
        }
    }
}
