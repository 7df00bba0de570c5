package dev.bpfagent.it;

import static org.junit.jupiter.api.Assertions.*;

import dev.bpfagent.agent.bpf.KernelObjects;
import dev.bpfagent.client.BpfAgentException;
import dev.bpfagent.client.Hooks;
import dev.bpfagent.client.Instructions;
import dev.bpfagent.client.Instructions.Jump;
import dev.bpfagent.client.Instructions.Reg;
import dev.bpfagent.client.Instructions.Size;
import dev.bpfagent.client.LinkHandle;
import dev.bpfagent.client.LoadOptions;
import dev.bpfagent.client.MapCodec;
import dev.bpfagent.client.MapHandle;
import dev.bpfagent.client.ProgramHandle;
import dev.bpfagent.proto.v1.*;
import io.grpc.Status;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Supplier;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * Attach and detach through the agent, proven by the kernel running the programs on real events: a
 * counter that rises while attached and stops after detach. Hooks this kernel lacks (kprobes) must
 * give their precise refusal here.
 */
class LinksOverAgentTest extends OneAgentPerClass {
    /** u32 -> u64 array with one slot: what the counter programs add to. */
    static MapHandle counter() {
        return c.createMap(MapType.MAP_TYPE_ARRAY, 4, 8, 1, "count");
    }

    static long count(MapHandle m) {
        return MapCodec.asU64(m.lookup(MapCodec.u32(0)).orElseThrow());
    }

    /** A program of this type adding 1 to counter slot 0 on every run. */
    static ProgramHandle counting(ProgramType type, MapHandle counter) {
        return c.load(LoadOptions.builder(type, MapsOverAgentTest.perCpuCounter()).map(counter.id()).build());
    }

    static void run(String... cmd) throws Exception {
        var r = Processes.run(30, List.of(cmd));
        assertEquals(0, r.exit(), String.join(" ", cmd) + ": " + r.output());
    }

    /** Waits (up to 5 s) for the counter to move past from; returns it. */
    static long risesFrom(MapHandle m, long from, Runnable trigger) throws Exception {
        long end = System.nanoTime() + 5_000_000_000L;
        while (System.nanoTime() < end) {
            trigger.run();
            long now = count(m);
            if (now > from) {
                return now;
            }
            Thread.sleep(20);
        }
        return fail("the counter stayed at " + from + ": the program did not run");
    }

    /** Runs ls: a process that calls malloc and free. */
    static Runnable lister() {
        return () -> {
            try {
                run("ls", "/");
            } catch (Exception e) {
                throw new AssertionError(e);
            }
        };
    }

    static Runnable sleeper() {
        return () -> {
            try {
                run("sleep", "0.01");
            } catch (Exception e) {
                throw new AssertionError(e);
            }
        };
    }

    /** After detach the program must not run again, whatever happens on the host. */
    static void staysAt(MapHandle m, Runnable trigger) throws Exception {
        long at = count(m);
        for (int i = 0; i < 3; i++) {
            trigger.run();
        }
        Thread.sleep(50);
        assertEquals(at, count(m), "the program ran after detach");
    }

    @Test
    void aTracepointCountsSleepsUntilDetached() throws Exception {
        try (MapHandle m = counter(); ProgramHandle p = counting(ProgramType.PROGRAM_TYPE_TRACEPOINT, m)) {
            Set<Integer> linksBefore = new HashSet<>(KernelObjects.linkIds());
            LinkHandle link = p.attach(Hooks.tracepoint("syscalls", "sys_enter_clock_nanosleep"));
            boolean perfLinks = supported("perf_link"); // 5.15+; before, the perf ioctl
            assertEquals(perfLinks ? AttachMechanism.ATTACH_MECHANISM_BPF_LINK
                    : AttachMechanism.ATTACH_MECHANISM_PERF_EVENT_IOCTL, link.link().getMechanism());
            assertTrue(link.link().getType().startsWith("perf_event"), link.link().getType());
            assertEquals(p.id(), link.link().getProgramId());
            assertTrue(link.link().getAgent().getDependsOnList().stream().anyMatch(r -> r.getId() == p.id()));
            assertEquals(List.of(link.id()), c.links(p.id()).stream().map(Link::getId).toList());
            if (perfLinks) {
                assertTrue(c.program(p.id(), true).getLinks().getLinkIdsList().contains(link.id()), "the kernel sees it");
            }
            assertTrue(risesFrom(m, 0, sleeper()) > 0);
            link.close();
            staysAt(m, sleeper());
            assertTrue(Kernel.eventually(() -> !KernelObjects.linkIds().contains(link.id())), "the kernel's link is gone");
            // no other link appeared (links of earlier tests may still be going: the kernel frees some later)
            assertTrue(Kernel.eventually(() -> linksBefore.containsAll(KernelObjects.linkIds())), "links left: "
                    + KernelObjects.linkIds());
            assertEquals(List.of(), c.links(p.id()));
        }
    }

    @Test
    void theCliAttachesListsAndDetaches() throws Exception {
        try (MapHandle m = counter(); ProgramHandle p = counting(ProgramType.PROGRAM_TYPE_TRACEPOINT, m)) {
            var out = new java.io.ByteArrayOutputStream();
            var err = new java.io.ByteArrayOutputStream();
            String target = agent.unixTarget();
            assertEquals(0, dev.bpfagent.cli.Main.run(new String[] {"--target", target, "attach",
                    String.valueOf(p.id()), "tracepoint", "syscalls/sys_enter_clock_nanosleep"},
                    new java.io.PrintStream(out), new java.io.PrintStream(err)), err.toString());
            List<Link> links = c.links(p.id());
            assertEquals(1, links.size());
            assertTrue(out.toString().lines().skip(1).anyMatch(l -> l.startsWith(Integer.toUnsignedString(
                    links.get(0).getId()) + " ")), out.toString());
            risesFrom(m, 0, sleeper());
            out.reset();
            assertEquals(0, dev.bpfagent.cli.Main.run(new String[] {"--target", target, "link", "list", "--program",
                    String.valueOf(p.id())}, new java.io.PrintStream(out), new java.io.PrintStream(err)));
            assertTrue(out.toString().contains("perf_event"), out.toString()); // a perf link, or the ioctl before 5.15
            assertEquals(0, dev.bpfagent.cli.Main.run(new String[] {"--target", target, "link", "detach",
                    Integer.toUnsignedString(links.get(0).getId())}, new java.io.PrintStream(out),
                    new java.io.PrintStream(err)), err.toString());
            assertEquals(List.of(), c.links(p.id()));
            err.reset();
            assertEquals(1, dev.bpfagent.cli.Main.run(new String[] {"--target", target, "attach",
                    String.valueOf(p.id()), "tracepoint", "syscalls/no_such_call"}, new java.io.PrintStream(out),
                    new java.io.PrintStream(err)));
            assertTrue(err.toString().contains("TRACEPOINT_NOT_FOUND") || err.toString().contains("no tracepoint"),
                    err.toString());
        }
    }

    @Test
    void aRawTracepointRunsOnEverySyscall() throws Exception {
        try (MapHandle m = counter(); ProgramHandle p = counting(ProgramType.PROGRAM_TYPE_RAW_TRACEPOINT, m)) {
            LinkHandle link = p.attach(Hooks.rawTracepoint("sys_enter"));
            assertEquals("raw_tracepoint", link.link().getType());
            risesFrom(m, 0, sleeper());
            link.close();
            staysAt(m, sleeper());
        }
    }

    static String libc() throws Exception {
        for (String line : Files.readAllLines(Path.of("/proc/self/maps"))) {
            int slash = line.indexOf('/');
            if (slash >= 0 && line.substring(slash).matches(".*/libc(\\.so\\.6|-[0-9.]+\\.so)$")) {
                return line.substring(slash);
            }
        }
        Assumptions.abort("this JVM has no libc.so.6 mapped (not glibc?)");
        return null;
    }

    /** KPROBE (uretprobe): stores the probed function's return value (x86-64 pt_regs->ax) in slot 0. */
    static byte[] storeReturnValue() {
        return new MapsOverAgentTest.Insns()
                .i(0x79, 6, 1, 80, 0)     // 0: r6 = ctx->ax
                .i(0x62, 10, 0, -4, 0)    // 1: *(u32 *)(fp - 4) = 0
                .i(0x7b, 10, 6, -16, 0)   // 2: *(u64 *)(fp - 16) = r6
                .map(1, 0)                // 3-4: r1 = maps[0]
                .i(0xbf, 2, 10, 0, 0)     // 5: r2 = fp
                .i(0x07, 2, 0, 0, -4)     // 6: r2 -= 4
                .i(0xbf, 3, 10, 0, 0)     // 7: r3 = fp
                .i(0x07, 3, 0, 0, -16)    // 8: r3 -= 16
                .i(0xb7, 4, 0, 0, 0)      // 9: r4 = BPF_ANY
                .i(0x85, 0, 0, 0, 2)      // 10: bpf_map_update_elem
                .i(0xb7, 0, 0, 0, 0)      // 11: r0 = 0
                .i(0x95, 0, 0, 0, 0)      // 12: exit
                .bytes();
    }

    @Test
    void uprobesOnLibcMallocBySymbolAndVersionedSymbol() throws Exception {
        Assumptions.assumeTrue(System.getProperty("os.arch").equals("amd64"), "reads x86-64 pt_regs");
        String libc = libc();
        Runnable ls = lister();
        try (MapHandle m = counter(); ProgramHandle p = counting(ProgramType.PROGRAM_TYPE_KPROBE, m)) {
            LinkHandle link = p.attach(Hooks.uprobe(libc, "malloc"));
            assertTrue(link.link().getTarget().endsWith(":malloc"), link.link().getTarget());
            risesFrom(m, 0, ls);
            link.close();
            staysAt(m, ls);
            // the same function by its versioned name
            LinkHandle versioned = p.attach(Hooks.uprobe(libc, "malloc@@GLIBC_2.2.5"));
            long at = count(m);
            risesFrom(m, at, ls);
            versioned.close();
        }
        try (MapHandle ret = counter(); ProgramHandle p = c.load(LoadOptions.builder(ProgramType.PROGRAM_TYPE_KPROBE,
                storeReturnValue()).map(ret.id()).build());
             LinkHandle link = p.attach(Hooks.uretprobe(libc, "malloc"))) {
            long pointer = risesFrom(ret, 0, ls);
            assertTrue(pointer > 4096, "malloc returned a pointer: 0x" + Long.toHexString(pointer));
        }
    }

    @Test
    void uprobeMultiProbesManyFunctionsWithOneLink() throws Exception {
        boolean present = c.kernelFeatures(false).getAttachList().stream().anyMatch(f -> f.getName().equals(
                "uprobe_multi") && f.getState() == FeatureState.FEATURE_STATE_SUPPORTED);
        Assumptions.assumeTrue(present, "the features report says this kernel has no uprobe_multi");
        String libc = libc();
        Runnable ls = lister();
        try (MapHandle m = counter(); ProgramHandle p = c.load(LoadOptions.builder(ProgramType.PROGRAM_TYPE_KPROBE,
                MapsOverAgentTest.perCpuCounter()).map(m.id())
                .expectedAttachType(AttachType.ATTACH_TYPE_TRACE_UPROBE_MULTI).build())) {
            LinkHandle link = p.attach(Hooks.uprobeMulti(libc, false, "malloc", "free@@GLIBC_2.2.5"));
            assertEquals("uprobe_multi", link.link().getType());
            risesFrom(m, 0, ls);
            link.close();
            staysAt(m, ls);
            var missing = assertThrows(BpfAgentException.NotFound.class,
                    () -> p.attach(Hooks.uprobeMulti(libc, false, "malloc", "no_such_function_in_libc")));
            assertEquals("hook.uprobe_multi.symbols[1]", missing.field());
            assertEquals("SYMBOL_NOT_FOUND", missing.reason());
        }
    }

    @Test
    void aPerfEventRunsOnASoftwareClock() throws Exception {
        try (MapHandle m = counter(); ProgramHandle p = counting(ProgramType.PROGRAM_TYPE_PERF_EVENT, m);
             LinkHandle link = p.attach(Hooks.perfEvent(1 /* PERF_TYPE_SOFTWARE */, 0 /* CPU_CLOCK */, 1_000_000, 0))) {
            risesFrom(m, 0, () -> { });
        }
    }

    @Test
    void closingAProgramDetachesItsLinksAndAPinnedLinkOutlivesDetach() throws Exception {
        MapHandle m = counter();
        // raw tracepoints: BPF links on every kernel the agent supports (tracepoint perf links need 5.15)
        ProgramHandle p = counting(ProgramType.PROGRAM_TYPE_RAW_TRACEPOINT, m);
        LinkHandle a = p.attach(Hooks.rawTracepoint("sys_enter"));
        LinkHandle b = p.attach(Hooks.rawTracepoint("sys_exit"));
        var closed = c.closeProgram(p.id(), false); // no cascade needed: links go with their program
        assertTrue(closed.getClosedList().stream().anyMatch(r -> r.getKind() == ObjectKind.OBJECT_KIND_LINK
                && r.getId() == a.id()), closed.toString());
        assertTrue(Kernel.eventually(() -> !KernelObjects.linkIds().contains(a.id())), "link " + a.id() + " freed");
        assertTrue(Kernel.eventually(() -> !KernelObjects.linkIds().contains(b.id())), "link " + b.id() + " freed");
        var gone = assertThrows(BpfAgentException.NotFound.class, () -> c.link(a.id()));
        assertEquals("LINK_NOT_HELD", gone.reason());

        // a pinned link keeps the attachment when detached with keep_pins, and comes back from its pin
        try (ProgramHandle q = counting(ProgramType.PROGRAM_TYPE_RAW_TRACEPOINT, m)) {
            LinkHandle l = q.attach(Hooks.rawTracepoint("sys_enter"));
            String path = l.pin("links/sleeps");
            assertTrue(Files.exists(Path.of(path)));
            c.detachLink(DetachLinkRequest.newBuilder().setLink(ObjectRef.newBuilder()
                    .setKind(ObjectKind.OBJECT_KIND_LINK).setId(l.id())).setKeepPins(true).build());
            assertTrue(KernelObjects.linkIds().contains(l.id()), "the pin holds the link");
            long at = count(m);
            risesFrom(m, at, sleeper());
            LinkHandle back = c.getPinnedLink(path);
            assertEquals(l.id(), back.id());
            assertEquals(q.id(), back.link().getProgramId());
            c.detach(l.id()); // removes the pin
            assertFalse(Files.exists(Path.of(path)));
            // the pin was the last reference: the kernel frees the link from a work queue
            assertTrue(Kernel.eventually(() -> !KernelObjects.linkIds().contains(l.id())), "link freed");
        }
        m.close();
    }

    @Test
    void hooksThatAreNotThereAreNotFoundAndLeaveNothing() throws Exception {
        try (MapHandle m = counter(); ProgramHandle tp = counting(ProgramType.PROGRAM_TYPE_TRACEPOINT, m);
             ProgramHandle kp = counting(ProgramType.PROGRAM_TYPE_KPROBE, m);
             ProgramHandle xdp = c.load(LoadOptions.builder(ProgramType.PROGRAM_TYPE_XDP, Asm.returnImm(2)).build());
             ProgramHandle raw = counting(ProgramType.PROGRAM_TYPE_RAW_TRACEPOINT, m);
             ProgramHandle sock = c.load(LoadOptions.builder(ProgramType.PROGRAM_TYPE_CGROUP_SOCK_ADDR, Asm.returnImm(1))
                     .expectedAttachType(AttachType.ATTACH_TYPE_CGROUP_INET4_CONNECT).build())) {
            String libc = libc();
            record Case(String field, Status.Code code, String reason, Supplier<LinkHandle> attach) {
            }
            List<Case> cases = List.of(
                    new Case("hook.tracepoint.category", Status.Code.NOT_FOUND, "TRACEPOINT_NOT_FOUND",
                            () -> tp.attach(Hooks.tracepoint("no_such_category", "x"))),
                    new Case("hook.tracepoint.name", Status.Code.NOT_FOUND, "TRACEPOINT_NOT_FOUND",
                            () -> tp.attach(Hooks.tracepoint("syscalls", "sys_enter_no_such_call"))),
                    new Case("hook.tracepoint.name", Status.Code.INVALID_ARGUMENT, "INVALID_FIELD",
                            () -> tp.attach(Hooks.tracepoint("syscalls", "../../../etc"))),
                    new Case("hook.raw_tracepoint.name", Status.Code.NOT_FOUND, "TRACEPOINT_NOT_FOUND",
                            () -> raw.attach(Hooks.rawTracepoint("no_such_tracepoint"))),
                    new Case("hook.uprobe.binary", Status.Code.NOT_FOUND, "BINARY_NOT_FOUND",
                            () -> kp.attach(Hooks.uprobe("/no/such/binary", "main"))),
                    new Case("hook.uprobe.symbol", Status.Code.NOT_FOUND, "SYMBOL_NOT_FOUND",
                            () -> kp.attach(Hooks.uprobe(libc, "no_such_function_here"))),
                    new Case("hook.uprobe.symbol", Status.Code.NOT_FOUND, "SYMBOL_NOT_FOUND",
                            () -> kp.attach(Hooks.uprobe(libc, "malloc@@NO_SUCH_VERSION"))),
                    new Case("hook.xdp.interface.name", Status.Code.NOT_FOUND, "INTERFACE_NOT_FOUND",
                            () -> xdp.attach(Hooks.xdp("nosuchif0"))),
                    new Case("hook.cgroup.path", Status.Code.NOT_FOUND, "CGROUP_NOT_FOUND",
                            () -> sock.attach(Hooks.cgroup("/sys/fs/cgroup/unified/no-such-cgroup",
                                    AttachType.ATTACH_TYPE_CGROUP_INET4_CONNECT))),
                    new Case("program", Status.Code.INVALID_ARGUMENT, "INVALID_FIELD",
                            () -> xdp.attach(Hooks.tracepoint("syscalls", "sys_enter_clock_nanosleep"))),
                    new Case("hook", Status.Code.INVALID_ARGUMENT, "INVALID_FIELD",
                            () -> c.attach(AttachProgramRequest.newBuilder().setProgram(ObjectRef.newBuilder()
                                    .setId(tp.id())).build())));
            // what the agent's features report says, not a guess of the test's own
            boolean kprobes = c.kernelFeatures(false).getAttachList().stream().anyMatch(f -> f.getName().equals(
                    "kprobe_pmu") && f.getState() == FeatureState.FEATURE_STATE_SUPPORTED);
            long fdsBefore = 0;
            for (int round = 0; round < 21; round++) {
                if (round == 1) { // round 0 warms up: pools, lazily opened files
                    fdsBefore = NoLeakTest.openFds(agent.process);
                }
                Set<Integer> linksBefore = new HashSet<>(KernelObjects.linkIds());
                for (Case k : cases) {
                    var e = assertThrows(BpfAgentException.class, () -> k.attach().get(), k.field());
                    assertEquals(k.code(), e.code(), k.field() + ": " + e.getMessage());
                    assertEquals(k.field(), e.field(), e.getMessage());
                    assertEquals(k.reason(), e.reason(), e.getMessage());
                }
                if (!kprobes) {
                    var e = assertThrows(BpfAgentException.class, () -> kp.attach(Hooks.kprobe("do_sys_openat2")));
                    assertEquals(Status.Code.FAILED_PRECONDITION, e.code(), e.getMessage());
                    assertEquals("KPROBES_UNAVAILABLE", e.reason());
                    assertEquals("hook.kprobe.function", e.field());
                }
                // no new link (one of an earlier test may still be going away: the kernel frees some later)
                assertTrue(Kernel.eventually(() -> linksBefore.containsAll(KernelObjects.linkIds())), "a failure left a link: "
                        + KernelObjects.linkIds() + " after, " + linksBefore + " before");
                assertEquals(0, c.listLinks(ListLinksRequest.getDefaultInstance()).getLinksCount());
                if (round == 20) {
                    long fds = NoLeakTest.openFds(agent.process);
                    assertTrue(fds <= fdsBefore + 2, "agent fds grew from " + fdsBefore + " to " + fds);
                }
            }
        }
    }

    @Test
    void tracingLoadsFindTheKernelFunctionByName() throws Exception {
        Path vmlinux = Path.of("/sys/kernel/btf/vmlinux");
        Assumptions.assumeTrue(Files.isReadable(vmlinux), "needs kernel BTF (/sys/kernel/btf/vmlinux)");
        // the id found names a FUNC of that name in vmlinux
        var found = dev.bpfagent.agent.bpf.btf.KernelBtf.find(dev.bpfagent.agent.bpf.btf.BtfTypes.Kind.FUNC,
                "do_unlinkat").orElseThrow();
        var types = dev.bpfagent.agent.bpf.btf.BtfTypes.read(vmlinux, null);
        assertEquals("do_unlinkat", types.name(found.btfId()));
        assertEquals(dev.bpfagent.agent.bpf.btf.BtfTypes.Kind.FUNC.value, types.kindOf(found.btfId()));
        assertEquals("", found.module());

        var missing = assertThrows(BpfAgentException.NotFound.class, () -> c.loadTracing(
                AttachType.ATTACH_TYPE_TRACE_FENTRY, "no_such_kernel_function_here", Asm.returnImm(0), "f"));
        assertEquals("FUNCTION_NOT_FOUND", missing.reason());
        assertEquals("attach_target.function", missing.field());
        var noType = assertThrows(BpfAgentException.InvalidArgument.class, () -> c.load(LoadOptions.builder(
                ProgramType.PROGRAM_TYPE_TRACING, Asm.returnImm(0)).attachFunction("do_unlinkat").build()));
        assertEquals("expected_attach_type", noType.field());

        Path victim = Files.createTempFile("bpf-agent-fentry", ".tmp");
        try (MapHandle m = counter()) {
            ProgramHandle p;
            try {
                p = c.load(LoadOptions.builder(ProgramType.PROGRAM_TYPE_TRACING, MapsOverAgentTest.countReturning(0))
                        .expectedAttachType(AttachType.ATTACH_TYPE_TRACE_FENTRY).attachFunction("do_unlinkat")
                        .map(m.id()).build());
            } catch (BpfAgentException.PermissionDenied e) {
                // the lookup was made (no FUNCTION_NOT_FOUND); the kernel itself refuses tracing loads here
                assertEquals("EPERM", e.reason(), e.getMessage());
                Assumptions.abort("this kernel refuses TRACING program loads (EPERM): " + e.getMessage());
                return;
            }
            try (p; LinkHandle link = p.attach(Hooks.tracing())) {
                assertEquals("tracing", link.link().getType());
                Files.delete(victim);
                assertTrue(count(m) > 0, "fentry on do_unlinkat ran");
            }
            // fexit the same way: it runs after the function returns
            long before = count(m);
            Path second = Files.createTempFile("bpf-agent-fexit", ".tmp");
            try (ProgramHandle exit = c.load(LoadOptions.builder(ProgramType.PROGRAM_TYPE_TRACING,
                    MapsOverAgentTest.countReturning(0)).expectedAttachType(AttachType.ATTACH_TYPE_TRACE_FEXIT)
                    .attachFunction("do_unlinkat").map(m.id()).build());
                 LinkHandle link = exit.attach(Hooks.tracing())) {
                Files.delete(second);
                assertTrue(count(m) > before, "fexit on do_unlinkat ran");
            } finally {
                Files.deleteIfExists(second);
            }

        } finally {
            Files.deleteIfExists(victim);
        }
    }

    /**
     * iter/task: for each task, bpf_seq_write(seq, &task->tgid, 4). The offset of tgid comes from the
     * running kernel's BTF, so the same program is right on every kernel of the matrix.
     */
    static byte[] taskIterPrintingTgids(int tgidOffset) {
        return Instructions.program()
                .ldx(Size.DW, Reg.R6, Reg.R1, 0)                // r6 = ctx->meta
                .ldx(Size.DW, Reg.R7, Reg.R1, 8)                // r7 = ctx->task (NULL at the end)
                .jump(Jump.JEQ, Reg.R7, 0, "end")
                .ldx(Size.W, Reg.R8, Reg.R7, tgidOffset)        // r8 = task->tgid
                .stx(Size.W, Reg.R10, -8, Reg.R8)               // *(u32 *)(fp - 8) = r8
                .ldx(Size.DW, Reg.R1, Reg.R6, 0)                // r1 = meta->seq
                .mov(Reg.R2, Reg.R10).add(Reg.R2, -8)
                .mov(Reg.R3, 4)
                .call(127)                                      // bpf_seq_write
                .label("end")
                .mov(Reg.R0, 0).exit().bytes();
    }

    @Test
    void aTaskIteratorPrintsThisProcess() throws Exception {
        Path vmlinux = Path.of("/sys/kernel/btf/vmlinux");
        Assumptions.assumeTrue(Files.isReadable(vmlinux), "needs kernel BTF (/sys/kernel/btf/vmlinux)");
        int tgid = dev.bpfagent.agent.bpf.btf.BtfTypes.read(vmlinux, null).memberOffset("task_struct", "tgid")
                .orElseThrow();
        ProgramHandle p;
        try {
            p = c.load(LoadOptions.builder(ProgramType.PROGRAM_TYPE_TRACING, taskIterPrintingTgids(tgid))
                    .expectedAttachType(AttachType.ATTACH_TYPE_TRACE_ITER).attachFunction("task").name("tasks").build());
        } catch (BpfAgentException.PermissionDenied e) {
            assertEquals("EPERM", e.reason(), e.getMessage());
            Assumptions.abort("this kernel refuses TRACING program loads (EPERM): " + e.getMessage());
            return;
        }
        try (p; LinkHandle link = p.attach(Hooks.iter())) {
            assertEquals("iter", link.link().getType());
            Set<Integer> tgids = new HashSet<>();
            for (int pass = 0; pass < 2; pass++) { // every read is a new pass
                byte[] out = c.readIterator(link.id());
                assertTrue(out.length > 0 && out.length % 4 == 0, "4 bytes a task: " + out.length);
                var b = java.nio.ByteBuffer.wrap(out).order(java.nio.ByteOrder.nativeOrder());
                tgids.clear();
                while (b.hasRemaining()) {
                    tgids.add(b.getInt());
                }
                assertTrue(tgids.contains((int) ProcessHandle.current().pid()), "this test's process is listed");
                assertTrue(tgids.contains((int) agent.process.pid()), "so is the agent");
            }
            // the CLI prints the same bytes
            var out = new java.io.ByteArrayOutputStream();
            assertEquals(0, dev.bpfagent.cli.Main.run(new String[] {"--target", agent.unixTarget(), "read-iter",
                    String.valueOf(link.id())}, new java.io.PrintStream(out), System.err));
            assertEquals(0, out.size() % 4);
            assertTrue(out.size() > 0);
            var small = c.readIterator(ReadIteratorRequest.newBuilder().setLink(ObjectRef.newBuilder()
                    .setId(link.id())).setMaxBytes(8).build());
            assertTrue(small.getTruncated());
            assertEquals(8, small.getOutput().size());
        }
        // a link that is not an iterator cannot be read
        try (MapHandle m = counter(); ProgramHandle tp = counting(ProgramType.PROGRAM_TYPE_TRACEPOINT, m);
             LinkHandle l = tp.attach(Hooks.tracepoint("syscalls", "sys_enter_clock_nanosleep"))) {
            var e = assertThrows(BpfAgentException.InvalidArgument.class, () -> c.readIterator(l.id()));
            assertTrue(e.getMessage().contains("not an iterator"), e.getMessage());
        }
    }

    @Test
    void theIteratorHookNeedsAHeldMapAndAnIteratorProgram() throws Exception {
        try (MapHandle m = counter(); ProgramHandle tp = counting(ProgramType.PROGRAM_TYPE_TRACEPOINT, m)) {
            var notIter = assertThrows(BpfAgentException.InvalidArgument.class, () -> tp.attach(Hooks.iter()));
            assertEquals("program", notIter.field());
            var noMap = assertThrows(BpfAgentException.NotFound.class, () -> tp.attach(Hooks.iterOverMap(0x7ffffff0)));
            assertEquals("hook.iter.map_id", noMap.field());
        }
    }

    @Test
    void aTracepointThroughThePerfIoctlWhenAskedFor() throws Exception {
        try (MapHandle m = counter(); ProgramHandle p = counting(ProgramType.PROGRAM_TYPE_TRACEPOINT, m)) {
            Set<Integer> linksBefore = new HashSet<>(KernelObjects.linkIds());
            try (LinkHandle link = c.attach(p.id(), Hooks.tracepoint("syscalls", "sys_enter_clock_nanosleep"),
                    AttachMechanism.ATTACH_MECHANISM_PERF_EVENT_IOCTL)) {
                assertEquals(AttachMechanism.ATTACH_MECHANISM_PERF_EVENT_IOCTL, link.link().getMechanism());
                assertTrue(link.id() < 0, "an agent-numbered id: " + link.id());
                assertTrue(linksBefore.containsAll(KernelObjects.linkIds()), "no BPF link was made");
                assertTrue(risesFrom(m, 0, sleeper()) > 0);
                var pin = assertThrows(BpfAgentException.InvalidArgument.class, () -> link.pin("ioctl_link"));
                assertTrue(pin.getMessage().contains("not a BPF link"), pin.getMessage());
                link.close();
                staysAt(m, sleeper());
            }
            var wrong = assertThrows(BpfAgentException.InvalidArgument.class, () -> c.attach(p.id(),
                    Hooks.tracepoint("syscalls", "sys_enter_clock_nanosleep"),
                    AttachMechanism.ATTACH_MECHANISM_PROG_ATTACH));
            assertEquals("mechanism", wrong.field());
            assertEquals(List.of(), c.links(p.id()));
        }
    }

    /** The agent's features report says the running kernel has this (a program or map type, a mechanism). */
    static boolean supported(String feature) {
        GetKernelFeaturesResponse f = c.kernelFeatures(false);
        return java.util.stream.Stream.of(f.getProgramTypesList(), f.getMapTypesList(), f.getAttachList(),
                        f.getOtherList())
                .flatMap(List::stream).anyMatch(x -> x.getName().equals(feature)
                        && x.getState() == FeatureState.FEATURE_STATE_SUPPORTED);
    }

    @Test
    void kprobesAndKretprobesCountCallsWhereTheKernelHasThem() throws Exception {
        try (MapHandle m = counter(); ProgramHandle p = counting(ProgramType.PROGRAM_TYPE_KPROBE, m)) {
            if (!supported("kprobe_pmu")) {
                var e = assertThrows(BpfAgentException.class, () -> p.attach(Hooks.kprobe("__x64_sys_clock_nanosleep")));
                assertEquals("KPROBES_UNAVAILABLE", e.reason());
                Assumptions.abort("the features report says this kernel has no kprobes (refused precisely)");
            }
            LinkHandle k = p.attach(Hooks.kprobe("__x64_sys_clock_nanosleep"));
            assertTrue(k.link().getType().startsWith("perf_event"), k.link().getType()); // or "perf_event (ioctl)" before 5.15
            risesFrom(m, 0, sleeper());
            k.close();
            staysAt(m, sleeper());
            LinkHandle r = p.attach(Hooks.kretprobe("__x64_sys_clock_nanosleep"));
            risesFrom(m, count(m), sleeper());
            r.close();
            var missing = assertThrows(BpfAgentException.NotFound.class,
                    () -> p.attach(Hooks.kprobe("no_such_kernel_function_here")));
            assertEquals("hook.kprobe.function", missing.field());
            assertEquals("FUNCTION_NOT_FOUND", missing.reason());
        }
    }

    @Test
    void kprobeMultiProbesManyKernelFunctionsWithOneLink() throws Exception {
        try (MapHandle m = counter(); ProgramHandle p = c.load(LoadOptions.builder(ProgramType.PROGRAM_TYPE_KPROBE,
                MapsOverAgentTest.perCpuCounter()).map(m.id())
                .expectedAttachType(AttachType.ATTACH_TYPE_TRACE_KPROBE_MULTI).build())) {
            if (!supported("kprobe_multi")) {
                var e = assertThrows(BpfAgentException.class, () -> p.attach(Hooks.kprobeMulti(false,
                        "__x64_sys_clock_nanosleep")));
                assertEquals(io.grpc.Status.Code.FAILED_PRECONDITION, e.code(), e.getMessage());
                Assumptions.abort("the features report says this kernel has no kprobe_multi (refused precisely: "
                        + e.reason() + ")");
            }
            LinkHandle link = p.attach(Hooks.kprobeMulti(false, "__x64_sys_clock_nanosleep", "__x64_sys_getppid"));
            assertEquals("kprobe_multi", link.link().getType());
            risesFrom(m, 0, sleeper());
            link.close();
            staysAt(m, sleeper());
            var missing = assertThrows(BpfAgentException.NotFound.class, () -> p.attach(Hooks.kprobeMulti(false,
                    "__x64_sys_clock_nanosleep", "no_such_kernel_function_here")));
            assertEquals("hook.kprobe_multi.functions", missing.field());
        }
    }

    @Test
    void anLsmProgramRunsOnFileOpenWhereBpfLsmIsActive() throws Exception {
        Assumptions.assumeTrue(supported("LSM"), "the features report says LSM programs do not load here");
        Assumptions.assumeTrue(supported("lsm_bpf"), "the features report says BPF LSM is not active (boot with"
                + " lsm=...,bpf)");
        try (MapHandle m = counter();
             ProgramHandle p = c.load(LoadOptions.builder(ProgramType.PROGRAM_TYPE_LSM, MapsOverAgentTest.countReturning(0))
                     .expectedAttachType(AttachType.ATTACH_TYPE_LSM_MAC).attachFunction("file_open").map(m.id()).build());
             LinkHandle link = p.attach(Hooks.tracing())) {
            risesFrom(m, 0, () -> {
                try {
                    Files.readAllBytes(Path.of("/proc/self/status"));
                } catch (java.io.IOException e) {
                    throw new AssertionError(e);
                }
            });
        }
    }

    @Test
    void fmodRetSkipsAKernelFunctionWhereTheKernelAllowsIt() throws Exception {
        Assumptions.assumeTrue(supported("TRACING"), "the features report says TRACING programs do not load here");
        // fmod_ret on bpf_modify_return_test, the function the kernel keeps for this: a tracing test run
        // calls it (and, on newer kernels, a second one) and reports their returns and side effects in one
        // number. Whatever the kernel's exact arithmetic, skipping the function (the program returns 5
        // instead) must change it, and detaching must restore it.
        ProgramHandle modify;
        try {
            modify = c.load(LoadOptions.builder(ProgramType.PROGRAM_TYPE_TRACING, Asm.returnImm(5))
                    .expectedAttachType(AttachType.ATTACH_TYPE_MODIFY_RETURN).attachFunction("bpf_modify_return_test")
                    .build());
        } catch (BpfAgentException e) {
            if (e.getMessage().contains("is not modifiable")) {
                Assumptions.abort("this kernel does not let fmod_ret change bpf_modify_return_test (the verifier"
                        + " says so): " + e.getMessage());
            }
            throw e;
        }
        try (modify) {
            int plain = modify.testRun(new byte[0]).retval();
            assertEquals(plain, modify.testRun(new byte[0]).retval(), "the unmodified result is stable");
            try (LinkHandle link = modify.attach(Hooks.tracing())) {
                int modified = modify.testRun(new byte[0]).retval();
                assertNotEquals(plain, modified, "attached: bpf_modify_return_test was skipped (0x"
                        + Integer.toHexString(modified) + " vs 0x" + Integer.toHexString(plain) + ")");
            }
            assertEquals(plain, modify.testRun(new byte[0]).retval(), "detached: the function runs again");
        }
    }
}
