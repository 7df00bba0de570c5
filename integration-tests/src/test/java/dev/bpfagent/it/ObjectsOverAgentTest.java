package dev.bpfagent.it;

import static org.junit.jupiter.api.Assertions.*;

import dev.bpfagent.agent.bpf.KernelObjects;
import dev.bpfagent.client.BpfAgentException;
import dev.bpfagent.cli.Main;
import dev.bpfagent.client.CollectionHandle;
import dev.bpfagent.client.Hooks;
import dev.bpfagent.client.LinkHandle;
import dev.bpfagent.client.LoadObjectOptions;
import dev.bpfagent.client.MapCodec;
import dev.bpfagent.client.TestPackets;
import dev.bpfagent.client.TestRunOptions;
import dev.bpfagent.proto.v1.*;
import io.grpc.Status;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/** ELF objects clang compiled (src/test/bpf), inspected and loaded through the agent, proven to run. */
class ObjectsOverAgentTest extends OneAgentPerClass {
    static byte[] object(String name) throws Exception {
        return ObjectFilesKernelTest.object(name);
    }

    static int run(dev.bpfagent.client.ProgramHandle p) {
        return p.testRun(TestRunOptions.ofData(TestPackets.udp().build())).retval();
    }

    @Test
    void inspectSeesMapsAndProgramsAsLibbpfDoes() throws Exception {
        InspectObjectResponse r = c.inspectObject(object("sections"), "sections.o");
        assertEquals("GPL", r.getLicense());
        assertTrue(r.getHasBtf());
        var byName = new java.util.HashMap<String, ObjectProgram>();
        r.getProgramsList().forEach(p -> byName.put(p.getName(), p));
        assertEquals("tracepoint", byName.get("count_sleeps").getProgType());
        assertEquals("syscalls/sys_enter_clock_nanosleep", byName.get("count_sleeps").getAttachTo());
        assertEquals(List.of("sleeps"), byName.get("count_sleeps").getMapsList());
        assertEquals("sched_cls", byName.get("tc_pass").getProgType());
        assertEquals("cgroup_skb", byName.get("cg_allow").getProgType());
        assertEquals("cgroup_inet_ingress", byName.get("cg_allow").getExpectedAttachType());
        assertEquals("cgroup_inet4_connect", byName.get("cg_connect").getExpectedAttachType());
        assertEquals("raw_tracepoint", byName.get("raw_hello").getProgType());
        assertEquals("kprobe", byName.get("kp").getProgType());
        assertEquals("tracing", byName.get("fe").getProgType());
        assertEquals("trace_fentry", byName.get("fe").getExpectedAttachType());
        assertEquals("", byName.get("unknown").getProgType(), "libbpf knows no such section");
        assertTrue(r.getMapsList().stream().anyMatch(m -> m.getSection().startsWith(".rodata")
                        && m.getName().equals("sections.rodata") && m.getValueSize() == 9),
                "bpf_printk's format string is a data map: " + r.getMapsList());
        // the CLI's loader report prints the same as JSON
        var out = new ByteArrayOutputStream();
        Path file = Path.of(System.getProperty("bpfagent.objects", "target/bpf"), "sections.o");
        assertEquals(0, Main.run(new String[] {"--target", agent.unixTarget(), "object", "inspect", file.toString(), "--report"},
                new PrintStream(out), System.err));
        String json = out.toString();
        assertTrue(json.startsWith("{\"open\":{\"result\":\"ok\""), json);
        assertTrue(json.contains("{\"name\":\"count_sleeps\",\"section\":\"tracepoint/syscalls/sys_enter_clock_nanosleep\","
                + "\"prog_type\":\"tracepoint\",\"expected_attach_type\":\"\",\"insn_cnt\":"), json);
    }

    @Test
    void globalsLoadRunAndRodataConfiguresTheProgram() throws Exception {
        Set<Integer> mapsBefore = new HashSet<>(KernelObjects.mapIds());
        Set<Integer> progsBefore = new HashSet<>(KernelObjects.programIds());
        try (CollectionHandle h = c.loadObject(object("globals"), "globals.o")) {
            assertTrue(h.collection().getBtfLoaded(), h.collection().getBtfError());
            var xdp = h.program("xdp_verdict").orElseThrow();
            assertEquals(ProgramType.PROGRAM_TYPE_XDP, xdp.type());
            assertEquals(2, run(xdp), "XDP_PASS: the .rodata default");
            var bss = h.map("globals.bss").orElseThrow();
            assertEquals(1, ObjectFilesKernelTest.u64(bss.lookup(MapCodec.u32(0)).orElseThrow(), 0), "packets++ in .bss");
            // the collection's program is an ordinary held program: it depends on its maps
            assertTrue(c.program(xdp.id()).getAgent().getDependsOnCount() >= 3);
            assertEquals(1, c.listCollections(ListCollectionsRequest.getDefaultInstance()).getCollectionsCount());
        }
        assertEquals(0, c.listCollections(ListCollectionsRequest.getDefaultInstance()).getCollectionsCount());
        assertTrue(Kernel.eventually(() -> mapsBefore.containsAll(KernelObjects.mapIds())), "maps left");
        assertTrue(Kernel.eventually(() -> progsBefore.containsAll(KernelObjects.programIds())), "programs left");

        try (CollectionHandle h = c.loadObject(LoadObjectRequest.newBuilder().setObject(ObjectSource.newBuilder()
                .setElf(com.google.protobuf.ByteString.copyFrom(object("globals"))).setName("globals.o"))
                .addPrograms("xdp_verdict").putRodata("verdict", com.google.protobuf.ByteString.copyFrom(
                        MapCodec.u32(1))).setLogLevel(2).build())) {
            assertEquals(List.of("xdp_verdict"), h.collection().getProgramsList().stream()
                    .map(CollectionProgram::getName).toList());
            assertEquals(1, run(h.program("xdp_verdict").orElseThrow()), "XDP_DROP: the caller's .rodata");
            String log = h.verifierLogs().get("xdp_verdict");
            assertTrue(log.contains("processed"), "log level 2 gave the log");
            // func info from .BTF.ext: the global function is verified on its own, by its prototype
            assertTrue(log.contains("is safe for any args"), log);
            // line info: the log shows source lines
            assertTrue(log.contains("; return verdict;"), log);
        }
        var badVar = assertThrows(BpfAgentException.InvalidArgument.class, () -> c.loadObject(LoadObjectRequest
                .newBuilder().setObject(ObjectSource.newBuilder().setElf(com.google.protobuf.ByteString.copyFrom(
                        object("globals")))).putRodata("no_such_var", com.google.protobuf.ByteString.copyFrom(
                        new byte[4])).build()));
        assertEquals("rodata[no_such_var]", badVar.field());
        var badSize = assertThrows(BpfAgentException.InvalidArgument.class, () -> c.loadObject(LoadObjectRequest
                .newBuilder().setObject(ObjectSource.newBuilder().setElf(com.google.protobuf.ByteString.copyFrom(
                        object("globals")))).putRodata("verdict", com.google.protobuf.ByteString.copyFrom(
                        new byte[2])).build()));
        assertEquals("rodata[verdict]", badSize.field(), badSize.getMessage());
        // one log-level rule for LoadObject and LoadProgram: 1 | 4 (statistics) is a level, 8 is not
        try (CollectionHandle h = c.loadObject(LoadObjectRequest.newBuilder().setObject(ObjectSource.newBuilder()
                .setElf(com.google.protobuf.ByteString.copyFrom(object("globals")))).addPrograms("xdp_verdict")
                .setLogLevel(1 | 4).build())) {
            String log = h.verifierLogs().get("xdp_verdict");
            assertTrue(log.contains("verification time"), "level 4 adds the verifier's statistics: " + log);
        }
        var badLevel = assertThrows(BpfAgentException.InvalidArgument.class, () -> c.loadObject(LoadObjectRequest
                .newBuilder().setObject(ObjectSource.newBuilder().setElf(com.google.protobuf.ByteString.copyFrom(
                        object("globals")))).setLogLevel(8).build()));
        assertEquals("log_level", badLevel.field(), badLevel.getMessage());
        assertTrue(Kernel.eventually(() -> mapsBefore.containsAll(KernelObjects.mapIds())), "maps left");
    }

    @Test
    void prefilledProgArraysAndMapsOfMapsWork() throws Exception {
        try (CollectionHandle h = c.loadObject(object("tailcalls"), "tailcalls.o")) {
            assertEquals(3, run(h.program("entry").orElseThrow()), "XDP_TX from the tail call the initialiser set");
            var inner = h.map("inner_a").orElseThrow();
            inner.put(MapCodec.u32(0), MapCodec.u32(2));
            assertEquals(2, run(h.program("through_outer").orElseThrow()), "inner_a[0] through outer[0]");
        }
    }

    @Test
    void coreRelocationsFollowTheRunningKernelsTypes() throws Exception {
        Assumptions.assumeTrue(java.nio.file.Files.isReadable(Path.of("/sys/kernel/btf/vmlinux")),
                "CO-RE needs the kernel's BTF");
        try (CollectionHandle h = c.loadObject(object("core"), "core.o")) {
            byte[] packet = TestPackets.udp().build();
            int r = run(h.program("core_skb").orElseThrow());
            assertEquals(0x0008, r & 0xffff, "skb->protocol, moved from local offset 0 to the kernel's 16: " + r);
            assertEquals(packet.length - 14, r >>> 16, "skb->len (past the Ethernet header a socket filter sees), moved from local offset 4 to the kernel's 0");
            byte[] results = h.map("core.bss").orElseThrow().lookup(MapCodec.u32(0)).orElseThrow();
            assertEquals(0, ObjectFilesKernelTest.u64(results, 0), "a field the kernel's type lacks does not exist");
            assertEquals(1, ObjectFilesKernelTest.u64(results, 8), "skb->len exists");
            assertEquals(1, ObjectFilesKernelTest.u64(results, 16), "BPF_FUNC_map_lookup_elem is 1 in the kernel");
            assertEquals(0, ObjectFilesKernelTest.u64(results, 24), "a type the kernel lacks does not exist");
        }
    }

    @Test
    void kconfigExternsComeFromTheRunningKernelAndKfuncsFromItsBtf() throws Exception {
        var req = LoadObjectRequest.newBuilder().setObject(ObjectSource.newBuilder()
                .setElf(com.google.protobuf.ByteString.copyFrom(object("kconfig"))).setName("kconfig.o"));
        boolean config = java.nio.file.Files.isReadable(Path.of("/proc/config.gz")) || java.nio.file.Files.isReadable(
                Path.of("/boot/config-" + java.nio.file.Files.readString(Path.of("/proc/sys/kernel/osrelease")).strip()));
        if (!config) {
            // as libbpf: without the kernel's config a non-__weak CONFIG_ extern cannot be given a value
            var e = assertThrows(BpfAgentException.InvalidArgument.class, () -> c.loadObject(req.clone()
                    .addPrograms("read_config").build()));
            assertTrue(e.getMessage().contains("/proc/config.gz"), e.getMessage());
            Assumptions.abort("this kernel publishes no config (/proc/config.gz, /boot/config-RELEASE): the"
                    + " .kconfig values cannot be checked: " + e.getMessage());
        }
        try (CollectionHandle h = c.loadObject(req.clone().addPrograms("read_config").build())) {
            assertTrue(h.collection().getBtfLoaded(), "extern variables made loadable: " + h.collection().getBtfError());
            assertEquals(2, run(h.program("read_config").orElseThrow()));
            byte[] seen = h.map("kconfig.bss").orElseThrow().lookup(MapCodec.u32(0)).orElseThrow();
            // "6.12.95+deb12-amd64": the leading numbers
            var v = java.util.regex.Pattern.compile("^(\\d+)\\.(\\d+)(?:\\.(\\d+))?").matcher(
                    java.nio.file.Files.readString(Path.of("/proc/sys/kernel/osrelease")).strip());
            assertTrue(v.find());
            long code = (Long.parseLong(v.group(1)) << 16) | (Long.parseLong(v.group(2)) << 8)
                    | Math.min(255, v.group(3) == null ? 0 : Long.parseLong(v.group(3)));
            assertEquals(code, ObjectFilesKernelTest.u64(seen, 0), "LINUX_KERNEL_VERSION");
            assertEquals(1, ObjectFilesKernelTest.u64(seen, 8), "CONFIG_BPF_SYSCALL=y");
            assertTrue(ObjectFilesKernelTest.u64(seen, 16) >= Runtime.getRuntime().availableProcessors(), "CONFIG_NR_CPUS");
            assertEquals(0, ObjectFilesKernelTest.u64(seen, 24), "a __weak option the kernel lacks is 0");
        }
        CollectionHandle k;
        try {
            k = c.loadObject(req.clone().addPrograms("with_kfunc").build());
        } catch (BpfAgentException e) {
            Assumptions.assumeFalse(e.getMessage().contains("bpf_rcu_read_lock"), "this kernel has no kfunc"
                    + " bpf_rcu_read_lock for XDP (6.2+): " + e.getMessage());
            throw e;
        }
        try (k) {
            assertTrue(k.collection().getBtfLoaded(), "extern kfuncs made loadable: " + k.collection().getBtfError());
            assertEquals(3, run(k.program("with_kfunc").orElseThrow()), "the kfuncs were called and it returned");
        }
    }

    @Test
    void mapsPinnedByNameAreSharedBetweenLoadsAndOutliveThem() throws Exception {
        Path pin = Path.of(c.agentInfo().getBpffsDir(), "objtest", "shared_runs");
        var req = LoadObjectRequest.newBuilder().setObject(ObjectSource.newBuilder()
                .setElf(com.google.protobuf.ByteString.copyFrom(object("pinned"))).setName("pinned.o"))
                .setPinDir("objtest").build();
        try (CollectionHandle a = c.loadObject(req); CollectionHandle b = c.loadObject(req)) {
            int mapA = a.collection().getMaps(0).getMapId();
            assertEquals(mapA, b.collection().getMaps(0).getMapId(), "the second load reused the pinned map");
            assertTrue(java.nio.file.Files.exists(pin), pin + " pinned");
            run(a.program("count_runs").orElseThrow());
            run(b.program("count_runs").orElseThrow());
            assertEquals(2, MapCodec.asU64(a.map("shared_runs").orElseThrow().lookup(MapCodec.u32(0)).orElseThrow()));
        }
        assertTrue(java.nio.file.Files.exists(pin), "the pin outlives the collections, as with libbpf");
        try (CollectionHandle again = c.loadObject(req)) {
            assertEquals(2, MapCodec.asU64(again.map("shared_runs").orElseThrow().lookup(MapCodec.u32(0))
                    .orElseThrow()), "a later load sees the counts");
        } finally {
            c.unpin(pin.toString());
        }
        assertFalse(java.nio.file.Files.exists(pin));
    }

    @Test
    void btfKindsTheKernelLacksAreRewrittenSoTheObjectsBtfStillLoads() throws Exception {
        try (CollectionHandle h = c.loadObject(object("tags"), "tags.o")) {
            assertTrue(h.collection().getBtfLoaded(), "decl and type tags, floats: " + h.collection().getBtfError());
            var m = h.map("tagged_values").orElseThrow();
            byte[] v = new byte[24];
            v[0] = 41;
            m.put(MapCodec.u32(0), v);
            assertEquals(42, run(h.program("uses_tags").orElseThrow()));
            // the map carries the value's BTF type
            assertNotEquals(0, c.map(m.id()).getKernel().getBtfValueTypeId());
        }
    }

    @Test
    void legacyMapsAndStaticSubprograms() throws Exception {
        try (CollectionHandle h = c.loadObject(object("legacy"), "legacy.o")) {
            var p = h.program("legacy_sock").orElseThrow();
            run(p);
            assertEquals(1, MapCodec.asU64(h.map("legacy_counts").orElseThrow().lookup(MapCodec.u32(1))
                    .orElseThrow()));
        }
    }

    @Test
    void aTracepointProgramOfAnObjectCountsSleepsOnceAttached() throws Exception {
        var req = LoadObjectRequest.newBuilder().setObject(ObjectSource.newBuilder()
                .setElf(com.google.protobuf.ByteString.copyFrom(object("sections"))).setName("sections.o"))
                .addPrograms("count_sleeps").build();
        try (CollectionHandle h = c.loadObject(req)) {
            assertEquals(1, h.collection().getProgramsCount());
            var p = h.program("count_sleeps").orElseThrow();
            var m = h.map("sleeps").orElseThrow();
            try (LinkHandle l = p.attach(Hooks.tracepoint("syscalls", "sys_enter_clock_nanosleep"))) {
                assertTrue(LinksOverAgentTest.risesFrom(m, 0, LinksOverAgentTest.sleeper()) > 0);
            }
        }
        // auto-attach: the tracepoint program attaches where its section says; the rest stay as they are
        object("sections"); // skips when clang was missing
        Path file = Path.of(System.getProperty("bpfagent.objects", "target/bpf"), "sections.o");
        try (CollectionHandle h = c.loadObject(LoadObjectOptions.file(file)
                .programs("count_sleeps", "tc_pass", "raw_hello").attach().build())) {
            assertEquals("sections", h.collection().getName(), "named as libbpf names it: the file, less .o");
            var links = h.collection().getLinksList();
            assertEquals(Set.of("count_sleeps", "raw_hello"), new HashSet<>(links.stream()
                    .map(CollectionLink::getProgram).toList()), links.toString());
            assertTrue(links.stream().anyMatch(l -> l.getHook().equals(
                    "tracepoint syscalls/sys_enter_clock_nanosleep")), links.toString());
            var m = h.map("sleeps").orElseThrow();
            assertTrue(LinksOverAgentTest.risesFrom(m, 0, LinksOverAgentTest.sleeper()) > 0, "attached at load");
            int linkId = links.get(0).getLinkId();
            assertEquals(linkId, c.link(linkId).getId(), "an ordinary held link");
        }
        assertEquals(0, c.listLinks(ListLinksRequest.getDefaultInstance()).getLinksCount(), "closing detached");
        // or later, in a second call
        try (CollectionHandle h = c.loadObject(req)) {
            assertEquals(0, h.collection().getLinksCount());
            assertEquals(1, c.attachCollection(h.id()).getLinksCount());
        }
        // a program whose section names no type cannot be loaded, and says why
        var unknown = assertThrows(BpfAgentException.InvalidArgument.class, () -> c.loadObject(req.toBuilder()
                .clearPrograms().addPrograms("unknown").build()));
        assertTrue(unknown.getMessage().contains("no_such_section"), unknown.getMessage());
        assertEquals("open", unknown.metadata().get("stage"));
        // unless the caller says its type
        try (CollectionHandle h = c.loadObject(LoadObjectOptions.elf(object("sections"), "sections.o")
                .programs("unknown").type("unknown", ProgramType.PROGRAM_TYPE_SOCKET_FILTER).build())) {
            assertEquals(ProgramType.PROGRAM_TYPE_SOCKET_FILTER, h.program("unknown").orElseThrow().type());
        }
        var noSuch = assertThrows(BpfAgentException.InvalidArgument.class, () -> c.loadObject(req.toBuilder()
                .putOverrides("nope", ProgramOverride.getDefaultInstance()).build()));
        assertEquals("overrides[nope]", noSuch.field());
    }

    @Test
    void aVerifierRejectionNamesTheProgramAndLeavesNothing() throws Exception {
        Set<Integer> mapsBefore = new HashSet<>(KernelObjects.mapIds());
        // a kprobe program loads anywhere; an fentry needs the tracing loads this host may refuse
        var req = LoadObjectRequest.newBuilder().setObject(ObjectSource.newBuilder()
                .setElf(com.google.protobuf.ByteString.copyFrom(object("sections"))).setName("sections.o"));
        try {
            c.loadObject(req.build()).close();
        } catch (BpfAgentException e) {
            assertNotNull(e.metadata().get("stage"), e.getMessage());
            assertFalse(e.metadata().getOrDefault("object", "").isEmpty(), "names the program: " + e.getMessage());
        }
        assertTrue(Kernel.eventually(() -> mapsBefore.containsAll(KernelObjects.mapIds())), "a failed load left maps");
    }

    @Test
    void malformedObjectsAreInvalidArgumentNeverACrash() throws Exception {
        byte[] good = object("globals");
        Set<Integer> mapsBefore = new HashSet<>(KernelObjects.mapIds());
        Set<Integer> progsBefore = new HashSet<>(KernelObjects.programIds());
        long fdsBefore = NoLeakTest.openFds(agent.process);
        // truncated at every 97th byte, then 400 random mutations (fixed seed), each inspected and loaded
        Random rnd = new Random(20261129);
        int answered = 0;
        long end = System.nanoTime() + 60_000_000_000L;
        for (int i = 0; i < good.length + 400 && System.nanoTime() < end; i += i < good.length ? 97 : 1) {
            byte[] bad;
            if (i < good.length) {
                bad = java.util.Arrays.copyOf(good, i);
            } else {
                bad = good.clone();
                int flips = 1 + rnd.nextInt(8);
                for (int k = 0; k < flips; k++) {
                    int at = rnd.nextInt(bad.length);
                    bad[at] = rnd.nextInt(4) == 0 ? (byte) 0xff : (byte) rnd.nextInt(256);
                }
            }
            for (boolean load : new boolean[] {false, true}) {
                try {
                    if (load) {
                        c.loadObject(bad, "fuzz.o").close();
                    } else {
                        c.inspectObject(bad, "fuzz.o");
                    }
                } catch (BpfAgentException e) {
                    assertNotEquals(Status.Code.INTERNAL, e.code(), "mutation " + i + ": " + e.getMessage());
                    assertNotEquals(Status.Code.UNKNOWN, e.code(), e.getMessage());
                }
                answered++;
            }
        }
        assertTrue(answered > 400);
        var truncated = assertThrows(BpfAgentException.InvalidArgument.class, () -> c.inspectObject(
                java.util.Arrays.copyOf(good, 100), "t.o"));
        assertEquals("MALFORMED_ELF", truncated.reason());
        assertTrue(truncated.getMessage().contains("offset"), truncated.getMessage());
        assertTrue(c.health().toString().contains("SERVING"), "the agent still serves: " + c.health());
        assertTrue(Kernel.eventually(() -> mapsBefore.containsAll(KernelObjects.mapIds())), "maps left");
        assertTrue(Kernel.eventually(() -> progsBefore.containsAll(KernelObjects.programIds())), "programs left");
        assertTrue(NoLeakTest.openFds(agent.process) <= fdsBefore + 2, "agent fds grew");
        assertEquals(0, c.listCollections(ListCollectionsRequest.getDefaultInstance()).getCollectionsCount());
    }

    @Test
    void theCliLoadsAndReportsAsJson() throws Exception {
        Path file = Path.of(System.getProperty("bpfagent.objects", "target/bpf"), "globals.o");
        object("globals");
        var out = new ByteArrayOutputStream();
        assertEquals(0, Main.run(new String[] {"--target", agent.unixTarget(), "object", "load", file.toString(), "--report"},
                new PrintStream(out), System.err));
        String json = out.toString();
        assertTrue(json.startsWith("{\"result\":\"ok\",\"stage\":\"done\""), json);
        assertTrue(json.contains("\"name\":\"globals.rodata\",\"type\":\"array\",\"key_size\":4,\"value_size\":4,"
                + "\"max_entries\":1,\"flags\":1152"), json);
        assertEquals(0, c.listCollections(ListCollectionsRequest.getDefaultInstance()).getCollectionsCount(),
                "closed without --keep");
        out.reset();
        assertEquals(1, Main.run(new String[] {"--target", agent.unixTarget(), "object", "load", file.toString(),
                "--only", "nope", "--report"}, new PrintStream(out), System.err), "a failed load exits 1");
        assertTrue(out.toString().startsWith("{\"result\":\"EINVAL\""), out.toString());
    }
}
