package dev.bpfagent.it;

import static org.junit.jupiter.api.Assertions.*;

import dev.bpfagent.agent.kernel.Bpf;
import dev.bpfagent.agent.kernel.BpfCmd;
import dev.bpfagent.agent.errno.Errno;
import dev.bpfagent.agent.errno.KernelException;
import dev.bpfagent.client.BpfAgentException;
import dev.bpfagent.client.BpfClient;
import dev.bpfagent.client.LoadOptions;
import dev.bpfagent.client.ProgramHandle;
import dev.bpfagent.client.TestPackets;
import dev.bpfagent.client.TestRunOptions;
import dev.bpfagent.client.TestRunResult;
import dev.bpfagent.client.XdpAction;
import dev.bpfagent.proto.v1.CloseProgramResponse;
import dev.bpfagent.proto.v1.Program;
import dev.bpfagent.proto.v1.ProgramType;
import io.grpc.Status;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** The agent as a separate process, driven by the client over its Unix socket and over TCP. */
class AgentEndToEndTest {
    static AgentProcess agent;
    static BpfClient uds;
    static BpfClient tcp;

    @BeforeAll
    static void startAgent() throws Exception {
        Kernel.assumeRoot();
        agent = AgentProcess.start();
        uds = BpfClient.connect(agent.unixTarget());
        tcp = BpfClient.connect(agent.tcpTarget);
    }

    @AfterAll
    static void stopAgent() throws Exception {
        if (uds != null) {
            uds.close();
        }
        if (tcp != null) {
            tcp.close();
        }
        if (agent != null) {
            agent.close();
        }
    }

    static Stream<String> transports() {
        return Stream.of("uds", "tcp");
    }

    static BpfClient client(String transport) {
        return transport.equals("uds") ? uds : tcp;
    }

    static String unique(String prefix) {
        return prefix + "_" + UUID.randomUUID().toString().substring(0, 6);
    }

    static ProgramHandle loadXdp(BpfClient c) {
        return c.load(LoadOptions.builder(ProgramType.PROGRAM_TYPE_XDP, Asm.xdpDropUdp()).name("xdp_drop_udp").build());
    }

    @ParameterizedTest
    @MethodSource("transports")
    void healthServiceAnswersServing(String transport) {
        assertEquals(dev.bpfagent.client.Health.Status.SERVING, client(transport).health());
    }

    @ParameterizedTest
    @MethodSource("transports")
    void xdpProgramDropsUdpAndPassesTcp(String transport) {
        BpfClient c = client(transport);
        try (ProgramHandle p = loadXdp(c)) {
            assertTrue(p.id() > 0);
            assertEquals(ProgramType.PROGRAM_TYPE_XDP, p.type());
            assertEquals("xdp_drop_udp", p.name());
            assertEquals(16, p.tag().length());
            assertEquals(transport.equals("uds") ? dev.bpfagent.proto.v1.Caller.Transport.TRANSPORT_UNIX
                    : dev.bpfagent.proto.v1.Caller.Transport.TRANSPORT_TCP, p.owner().getTransport());

            byte[] udp = TestPackets.udp().dstPort(53).payload("query".getBytes()).build();
            TestRunResult dropped = p.testRun(udp);
            assertEquals(XdpAction.DROP, XdpAction.of(dropped.retval()));

            byte[] tcpPacket = TestPackets.tcp().build();
            TestRunResult passed = p.testRun(tcpPacket);
            assertEquals(XdpAction.PASS, XdpAction.of(passed.retval()));
            // XDP_PASS hands the packet back unchanged.
            assertArrayEquals(tcpPacket, java.util.Arrays.copyOf(passed.dataOut(), tcpPacket.length));
            assertEquals(tcpPacket.length, passed.dataSizeOut());

            // IPv6 UDP is not IPv4: this program passes it.
            assertEquals(XdpAction.PASS, XdpAction.of(p.testRun(TestPackets.udp().ipv6().build()).retval()));
            // A runt frame is passed by the bounds check.
            assertEquals(XdpAction.PASS, XdpAction.of(p.testRun(new byte[20]).retval()));

            TestRunResult many = p.testRun(TestRunOptions.ofData(udp).withRepeat(1000));
            assertEquals(XdpAction.DROP.value(), many.retval());
        }
    }

    @Test
    void verifierRejectionIsInvalidArgumentWithTheLogAndLeaksNothing() {
        String name = unique("bad");
        int before = countKernelPrograms(name);
        BpfAgentException.VerifierRejected e = assertThrows(BpfAgentException.VerifierRejected.class,
                () -> uds.load(LoadOptions.builder(ProgramType.PROGRAM_TYPE_XDP, Asm.invalid()).name(name).build()));
        assertEquals(Status.Code.INVALID_ARGUMENT, e.code());
        assertEquals("VERIFIER_REJECTED", e.reason());
        assertEquals(Errno.EACCES.number(), e.errno());
        assertTrue(e.verifierLog().contains("R0 !read_ok"), e.verifierLog());
        assertTrue(e.getMessage().contains("R0 !read_ok"), e.getMessage());
        assertEquals(before, countKernelPrograms(name));
        assertTrue(uds.listPrograms(false).stream().noneMatch(i -> i.getKernel().getName().equals(name)));
    }

    @Test
    void verifierLogComesBackOnSuccessWhenAsked() {
        try (ProgramHandle p = uds.load(LoadOptions.builder(ProgramType.PROGRAM_TYPE_XDP, Asm.xdpDropUdp())
                .name("logged").logLevel(2).logSize(256).build())) {
            // logSize 256 is too small for a level-2 log: the agent grew the buffer and retried.
            assertTrue(p.verifierLog().length() > 256, p.verifierLog());
            assertTrue(p.verifierLog().contains("processed"), p.verifierLog());
        }
    }

    static int countKernelPrograms(String name) {
        return (int) uds.listPrograms(true).stream().filter(i -> i.getKernel().getName().equals(name)).count();
    }

    @Test
    void closedProgramIsGoneFromTheKernel() throws Exception {
        ProgramHandle p = loadXdp(uds);
        int id = p.id();
        assertTrue(existsInKernel(id), "loaded program visible by id");
        p.close();
        assertTrue(Kernel.eventually(() -> !existsInKernel(id)), "BPF_PROG_GET_FD_BY_ID still finds program " + id);
        assertTrue(Kernel.eventually(() -> !uds.programExists(id)), "program " + id + " gone");
        // closing again through the raw call: NOT_FOUND, not a crash
        BpfAgentException e = assertThrows(BpfAgentException.NotFound.class, () -> uds.closeProgram(id, false));
        assertEquals("PROGRAM_NOT_HELD", e.reason());
    }

    /** Asked of the kernel directly, not of the agent. */
    static boolean existsInKernel(int id) {
        try (var fd = Bpf.getFdById(BpfCmd.BPF_PROG_GET_FD_BY_ID, id)) {
            return true;
        } catch (KernelException e) {
            assertEquals(Errno.ENOENT, e.errno());
            return false;
        }
    }

    @Test
    void pinnedProgramIsInBpffsAndASecondClientGetsIt() throws Exception {
        String rel = "it/" + unique("pin") + "/xdp";
        ProgramHandle p = loadXdp(uds);
        String path = p.pin(rel);
        assertEquals(agent.bpffsDir.resolve(rel).toString(), path);
        assertTrue(Files.exists(Path.of(path)), "pin exists in bpffs");

        try (BpfClient second = BpfClient.connect(agent.tcpTarget)) {
            ProgramHandle again = second.getPinned(path, ProgramType.PROGRAM_TYPE_XDP, "xdp_drop_udp");
            assertEquals(p.id(), again.id());
            assertEquals(dev.bpfagent.proto.v1.Caller.Transport.TRANSPORT_UNIX,
                    second.program(p.id()).getAgent().getOwner().getTransport(), "the loader stays the owner");
            assertEquals(XdpAction.DROP.value(), again.testRun(TestPackets.udp().build()).retval());
            // the wrong expectations are refused
            var wrongType = assertThrows(BpfAgentException.class,
                    () -> second.getPinned(path, ProgramType.PROGRAM_TYPE_SOCKET_FILTER, ""));
            assertEquals(Status.Code.FAILED_PRECONDITION, wrongType.code());
            assertEquals("TYPE_MISMATCH", wrongType.reason());
        }
        // Pinning twice at one path is ALREADY_EXISTS.
        assertThrows(BpfAgentException.AlreadyExists.class, () -> p.pin(rel));

        CloseProgramResponse closed = uds.closeProgram(p.id(), false);
        assertEquals(List.of(path), closed.getUnpinnedPathsList());
        assertTrue(closed.getUnloaded());
        assertFalse(Files.exists(Path.of(path)), "close removed the agent's pin");
        assertFalse(Files.exists(Path.of(path).getParent()), "and the directory it made for it");
        assertTrue(Kernel.eventually(() -> !existsInKernel(p.id())), "program " + p.id() + " freed");
    }

    @Test
    void unpinKeepsTheProgramLoadedWhileTheAgentHoldsIt() {
        try (ProgramHandle p = loadXdp(uds)) {
            String path = p.pin(unique("unpin"));
            assertEquals(path, uds.unpin(path));
            assertFalse(Files.exists(Path.of(path)));
            assertTrue(p.exists());
            assertTrue(p.info().getAgent().getPinnedPathsList().isEmpty());
            assertThrows(BpfAgentException.NotFound.class, () -> uds.unpin(path));
        }
    }

    @Test
    void closeWithKeepPinsLeavesTheProgramInTheKernel() throws Exception {
        ProgramHandle p = loadXdp(uds);
        String path = p.pin(unique("keep"));
        CloseProgramResponse r = uds.closeProgram(p.id(), true);
        assertFalse(r.getUnloaded());
        assertTrue(existsInKernel(p.id()), "the pin keeps it");
        assertTrue(Kernel.eventually(() -> !(uds.programExists(p.id())
                && uds.listPrograms(false).stream().anyMatch(i -> i.getId() == p.id()))));
        // fetch it back and close it for good
        ProgramHandle back = uds.getPinned(path);
        assertEquals(p.id(), back.id());
        back.close();
        assertFalse(Files.exists(Path.of(path)));
        assertTrue(Kernel.eventually(() -> !existsInKernel(p.id())), "program " + p.id() + " freed");
    }

    @Test
    void infoListExistsAndAttachedComeFromTheKernel() {
        try (ProgramHandle p = loadXdp(uds)) {
            Program info = p.info();
            var k = info.getKernel();
            assertEquals(p.id(), info.getId());
            assertEquals(ProgramType.PROGRAM_TYPE_XDP, k.getType());
            assertEquals("xdp_drop_udp", k.getName());
            assertEquals(p.tag(), k.getTag());
            assertEquals(13 * 8, k.getXlatedProgLen());
            assertTrue(k.getGplCompatible());
            assertTrue(k.getLoadTimeNs() > 0);
            assertTrue(info.getAgent().getHeld());
            assertFalse(info.hasLinks(), "links are found only when asked for");
            // The kernel vouched for who loaded it over the Unix socket: this test process.
            var owner = info.getAgent().getOwner();
            assertEquals(dev.bpfagent.proto.v1.Caller.Transport.TRANSPORT_UNIX, owner.getTransport());
            assertEquals(ProcessHandle.current().pid(), owner.getPid());
            assertEquals(0, owner.getUid());

            assertTrue(uds.listPrograms(false).stream().anyMatch(i -> i.getId() == p.id()));
            List<Program> all = uds.listPrograms(true);
            assertTrue(all.size() >= uds.listPrograms(false).size());
            assertTrue(all.stream().anyMatch(i -> i.getId() == p.id() && i.getAgent().getHeld()));
            assertTrue(all.stream().anyMatch(i -> !i.getAgent().getHeld()) || all.size() == uds.listPrograms(false).size());

            assertTrue(p.exists());
            assertFalse(p.attached(), "nothing attached it");
            assertTrue(uds.program(p.id(), true).hasLinks());
        }
        assertFalse(uds.programExists(Integer.MAX_VALUE - 7)); // never made
        var e = assertThrows(BpfAgentException.NotFound.class, () -> uds.program(Integer.MAX_VALUE - 7));
        assertEquals("PROGRAM_NOT_FOUND", e.reason());
    }

    @Test
    void runStatsCountTestRuns() {
        try (ProgramHandle p = loadXdp(uds)) {
            assertTrue(uds.setRunStats(true));
            try {
                p.testRun(TestRunOptions.ofData(TestPackets.udp().build()).withRepeat(100));
                var info = p.info().getKernel();
                assertTrue(info.getRunCnt() >= 100, "run_cnt " + info.getRunCnt());
                assertTrue(info.getRunTimeNs() > 0);
            } finally {
                assertFalse(uds.setRunStats(false));
            }
        }
    }

    @Test
    void asyncClientLoadsAndRuns() throws Exception {
        ProgramHandle p = uds.async().load(LoadOptions.builder(ProgramType.PROGRAM_TYPE_XDP, Asm.xdpDropUdp()).build())
                .get(30, TimeUnit.SECONDS);
        try (p) {
            TestRunResult r = uds.async().testRun(p.id(), TestRunOptions.ofData(TestPackets.udp().build()))
                    .get(30, TimeUnit.SECONDS);
            assertEquals(XdpAction.DROP.value(), r.retval());
        }
        assertTrue(Kernel.eventually(() -> !uds.async().programExists(p.id()).join()), "the kernel frees it");
        assertEquals(dev.bpfagent.client.Health.Status.SERVING, uds.async().health().get(30, TimeUnit.SECONDS));
        assertTrue(uds.async().agentInfo().get(30, TimeUnit.SECONDS).getKernelRelease().length() > 0);
        var failed = uds.async().testRun(p.id(), TestRunOptions.ofData(TestPackets.udp().build()));
        var e = assertThrows(java.util.concurrent.ExecutionException.class, () -> failed.get(30, TimeUnit.SECONDS));
        assertInstanceOf(BpfAgentException.NotFound.class, e.getCause());
    }

    @Test
    void programBtfIsLoadedAttachedToTheProgramAndFreedWithIt() {
        int btfId;
        try (ProgramHandle p = uds.load(LoadOptions.builder(ProgramType.PROGRAM_TYPE_XDP, Asm.returnImm(2))
                .name("with_btf").btf(Btf.intFunction()).funcInfo(Btf.funcInfoAtZero(), 0).build())) {
            btfId = p.info().getKernel().getBtfId();
            assertTrue(btfId > 0, "the kernel attached our BTF to the program");
            assertTrue(btfExists(btfId));
        }
        assertFalse(btfExists(btfId), "the BTF object went with the program: the agent kept no fd of it");
    }

    static boolean btfExists(int id) {
        try (var fd = Bpf.getFdById(BpfCmd.BPF_BTF_GET_FD_BY_ID, id)) {
            return true;
        } catch (KernelException e) {
            assertEquals(Errno.ENOENT, e.errno());
            return false;
        }
    }

    @Test
    void simpleProgramAsTheSeedDoes() {
        try (ProgramHandle p = uds.simpleProgram(ProgramType.PROGRAM_TYPE_SOCKET_FILTER, Asm.returnImm(0), "simple")) {
            assertEquals(ProgramType.PROGRAM_TYPE_SOCKET_FILTER, p.type());
            assertEquals(0, p.testRun(TestPackets.tcp().build()).retval());
        }
    }
}
