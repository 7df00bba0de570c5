package dev.bpfagent.it;

import static org.junit.jupiter.api.Assertions.*;

import dev.bpfagent.agent.bpf.Program;
import dev.bpfagent.client.AgentChannels;
import dev.bpfagent.client.BpfClient;
import dev.bpfagent.client.LoadOptions;
import dev.bpfagent.client.ProgramHandle;
import dev.bpfagent.proto.v1.ProgramType;
import io.grpc.reflection.v1.ServerReflectionGrpc;
import io.grpc.reflection.v1.ServerReflectionRequest;
import io.grpc.reflection.v1.ServerReflectionResponse;
import io.grpc.stub.StreamObserver;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Start and stop: what the agent leaves behind, and what it refuses. */
class AgentLifecycleTest {
    @BeforeEach
    void root() {
        Kernel.assumeRoot();
    }

    @Test
    void sigtermClosesUnpinnedProgramsAndKeepsPinnedOnes() throws Exception {
        int unpinnedId;
        int pinnedId;
        Path pin;
        try (AgentProcess agent = AgentProcess.start()) {
            try (BpfClient c = BpfClient.connect(agent.unixTarget())) {
                ProgramHandle a = c.load(LoadOptions.builder(ProgramType.PROGRAM_TYPE_XDP, Asm.returnImm(2)).build());
                ProgramHandle b = c.load(LoadOptions.builder(ProgramType.PROGRAM_TYPE_XDP, Asm.returnImm(1)).build());
                unpinnedId = a.id();
                pinnedId = b.id();
                pin = Path.of(b.pin("kept/prog"));
            }
            // 143 = 128 + SIGTERM: the JVM's exit status after its shutdown hooks ran (systemd: SuccessExitStatus=143)
            assertEquals(143, agent.stop(), agent.agentStderr());
            assertFalse(Files.exists(agent.socket), "socket removed at stop");
            assertTrue(Kernel.eventually(() -> !Program.existsInKernel(unpinnedId)), "unpinned program closed at stop");
            assertTrue(Program.existsInKernel(pinnedId), "pinned program kept at stop");
            assertTrue(Files.exists(pin));
            // a new agent on the same bpffs directory serves the pinned program again
            try (AgentProcess next = AgentProcess.start("--bpffs-dir", agent.bpffsDir.toString());
                 BpfClient c = BpfClient.connect(next.unixTarget())) {
                var adopted = c.listPrograms(false);
                assertEquals(1, adopted.size(), "the pinned program is held again at start: " + adopted);
                assertEquals(pinnedId, adopted.get(0).getId());
                assertEquals(List.of(pin.toString()), adopted.get(0).getAgent().getPinnedPathsList());
                assertEquals("pinned before this agent started", adopted.get(0).getAgent().getOwner().getAddress());
                ProgramHandle b = c.getPinned("kept/prog");
                assertEquals(pinnedId, b.id());
                b.close(); // unpins and frees it
            }
            assertFalse(Files.exists(pin));
            assertTrue(Kernel.eventually(() -> !Program.existsInKernel(pinnedId)), "program " + pinnedId + " freed");
        }
    }

    @Test
    void aPinnedLinkOutlivesTheAgentAndIsHeldAgainWithItsProgram() throws Exception {
        int progId;
        int linkId;
        Path pin;
        try (AgentProcess agent = AgentProcess.start()) {
            try (BpfClient c = BpfClient.connect(agent.unixTarget())) {
                ProgramHandle p = c.load(LoadOptions.builder(ProgramType.PROGRAM_TYPE_RAW_TRACEPOINT,
                        Asm.returnImm(0)).build());
                var link = p.attach(dev.bpfagent.client.Hooks.rawTracepoint("sys_enter"));
                progId = p.id();
                linkId = link.id();
                pin = Path.of(link.pin("kept/link")); // the link only: its program is not pinned
            }
            assertEquals(143, agent.stop(), agent.agentStderr());
            assertTrue(dev.bpfagent.agent.bpf.KernelObjects.linkIds().contains(linkId), "the pin keeps the link");
            assertTrue(Program.existsInKernel(progId), "and the link its program");
            try (AgentProcess next = AgentProcess.start("--bpffs-dir", agent.bpffsDir.toString());
                 BpfClient c = BpfClient.connect(next.unixTarget())) {
                var links = c.listLinks(dev.bpfagent.proto.v1.ListLinksRequest.getDefaultInstance()).getLinksList();
                assertEquals(1, links.size(), links.toString());
                assertEquals(linkId, links.get(0).getId());
                assertEquals(progId, links.get(0).getProgramId());
                assertEquals(List.of(pin.toString()), links.get(0).getAgent().getPinnedPathsList());
                assertEquals(List.of(progId), c.listPrograms(false).stream().map(x -> x.getId()).toList(),
                        "its program is held too");
                // closing the program detaches its link and removes the link's pin
                c.closeProgram(progId, false);
                assertFalse(Files.exists(pin));
            }
            // the kernel frees a link whose last reference was a pin from a work queue: give it a moment
            assertTrue(Kernel.eventually(() -> !dev.bpfagent.agent.bpf.KernelObjects.linkIds().contains(linkId)),
                    "link " + linkId + " freed");
            assertTrue(Kernel.eventually(() -> !Program.existsInKernel(progId)), "program " + progId + " freed");
        }
    }

    @Test
    void aSecondAgentOnTheSameSocketRefusesToStart() throws Exception {
        try (AgentProcess agent = AgentProcess.start()) {
            var second = Processes.run(60, List.of(System.getProperty("bpfagent.java", "java"),
                    "--enable-native-access=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow", "-jar", AgentProcess.jar().toString(),
                    "--socket", agent.socket.toString(), "--bpffs-dir", agent.bpffsDir.toString()));
            String out = second.output();
            assertEquals(1, second.exit(), out);
            assertTrue(out.contains("another agent is serving on"), out);
            try (BpfClient c = BpfClient.connect(agent.unixTarget())) {
                assertEquals(0, c.agentInfo().getProgramsHeld(), "the first agent still serves");
            }
        }
    }

    @Test
    void noAgentOnTheSocketSaysSo() throws Exception {
        Path dir = Files.createTempDirectory("bpf-agent-none");
        try (BpfClient base = BpfClient.connect("unix:" + dir.resolve("agent.sock"));
             BpfClient c = base.withDeadline(10_000)) {
            var e = assertThrows(dev.bpfagent.client.BpfAgentException.class, c::agentInfo);
            assertEquals(io.grpc.Status.Code.UNAVAILABLE, e.code());
            assertTrue(e.getMessage().contains("cannot reach the agent at unix:" + dir.resolve("agent.sock")),
                    e.getMessage());
        } finally {
            AgentProcess.deleteTree(dir);
        }
    }

    @Test
    void withoutPrivilegesTheAgentRefusesToStartAndSaysWhy() throws Exception {
        Path runuser = Path.of("/usr/sbin/runuser");
        org.junit.jupiter.api.Assumptions.assumeTrue(Files.isExecutable(runuser), "needs runuser to drop to nobody");
        Path dir = Files.createTempDirectory("bpf-agent-nobody");
        try {
            var p = Processes.run(60, List.of(runuser.toString(), "-u", "nobody", "--",
                    System.getProperty("bpfagent.java", "java"), "--enable-native-access=ALL-UNNAMED",
                    "--sun-misc-unsafe-memory-access=allow", "-jar", AgentProcess.jar().toString(),
                    "--socket", dir.resolve("agent.sock").toString(), "--bpffs-dir", "/sys/fs/bpf/bpf-agent-nobody"));
            String out = p.output();
            assertEquals(1, p.exit(), out);
            assertTrue(out.contains("lacks CAP_BPF"), out);
            assertFalse(Files.exists(Path.of("/sys/fs/bpf/bpf-agent-nobody")), "created nothing in bpffs");
        } finally {
            AgentProcess.deleteTree(dir);
        }
    }

    @Test
    void badCommandLineExitsWithUsage() throws Exception {
        var p = Processes.run(60, List.of(System.getProperty("bpfagent.java", "java"), "-jar",
                AgentProcess.jar().toString(), "--tcp", "0.0.0.0:1234"));
        String out = p.output();
        assertEquals(2, p.exit(), out);
        assertTrue(out.contains("not a loopback address"), out);
        // plaintext even on loopback only when asked for by name
        var loopback = Processes.run(60, List.of(System.getProperty("bpfagent.java", "java"), "-jar",
                AgentProcess.jar().toString(), "--tcp", "127.0.0.1:0"));
        assertEquals(2, loopback.exit(), loopback.output());
        assertTrue(loopback.output().contains("--insecure-loopback"), loopback.output());
    }

    @Test
    void aMissingOrBrokenPolicyStopsTheStartNamingIt() throws Exception {
        Kernel.assumeRoot();
        Path dir = Files.createTempDirectory("bpf-agent-bad-policy");
        try {
            var missing = Processes.run(60, List.of(System.getProperty("bpfagent.java", "java"), "@"
                    + AgentProcess.jvmOptions(), "-jar", AgentProcess.jar().toString(), "--socket",
                    dir.resolve("a.sock").toString(), "--bpffs-dir", "/sys/fs/bpf/bpf-agent-never-made",
                    "--policy", dir.resolve("none.json").toString()));
            assertEquals(1, missing.exit(), missing.output());
            assertTrue(missing.output().contains("--policy " + dir.resolve("none.json") + ": no such file"),
                    missing.output());
            Files.writeString(dir.resolve("bad.json"), "{\"rules\":[{\"name\":\"x\",\"role\":\"ROLE_READ\"}]}");
            var bad = Processes.run(60, List.of(System.getProperty("bpfagent.java", "java"), "@"
                    + AgentProcess.jvmOptions(), "-jar", AgentProcess.jar().toString(), "--socket",
                    dir.resolve("a.sock").toString(), "--bpffs-dir", "/sys/fs/bpf/bpf-agent-never-made",
                    "--policy", dir.resolve("bad.json").toString()));
            assertEquals(1, bad.exit(), bad.output());
            assertTrue(bad.output().contains("rules[0].match"), bad.output());
            assertFalse(Files.exists(dir.resolve("a.sock")), "nothing served");
            assertFalse(Files.exists(Path.of("/sys/fs/bpf/bpf-agent-never-made")), "nothing made in bpffs");
        } finally {
            AgentProcess.deleteTree(dir);
        }
    }

    /** The agent's TLS handshake turns this client away: its calls end UNAVAILABLE. Closes it. */
    static void assertRefused(BpfClient client) {
        try (client; BpfClient c = client.withDeadline(5000)) {
            var e = assertThrows(dev.bpfagent.client.BpfAgentException.class, c::health);
            assertEquals(io.grpc.Status.Code.UNAVAILABLE, e.code(), e.getMessage());
        }
    }

    @Test
    void tcpWithTlsServesTlsClientsAndRefusesPlaintext() throws Exception {
        Path dir = Files.createTempDirectory("bpf-agent-tls");
        try {
            Certs certs = Certs.make(dir);
            try (AgentProcess agent = AgentProcess.start("--tls-cert", certs.serverCert().toString(),
                    "--tls-key", certs.serverKey().toString())) {
                try (BpfClient tls = BpfClient.connectTls(agent.tcpTarget, certs.ca().toFile())) {
                    assertEquals(dev.bpfagent.client.Health.Status.SERVING, tls.health());
                    try (ProgramHandle p = tls.load(LoadOptions.builder(ProgramType.PROGRAM_TYPE_XDP, Asm.xdpDropUdp())
                            .build())) {
                        assertEquals(1, p.testRun(dev.bpfagent.client.TestPackets.udp().build()).retval());
                    }
                }
                assertRefused(BpfClient.connect(agent.tcpTarget));
            }
        } finally {
            AgentProcess.deleteTree(dir);
        }
    }

    @Test
    void mutualTlsAdmitsOnlyClientsWithACertificateFromTheCa() throws Exception {
        Path dir = Files.createTempDirectory("bpf-agent-mtls");
        try {
            Certs certs = Certs.make(dir);
            try (AgentProcess agent = AgentProcess.start("--tls-cert", certs.serverCert().toString(),
                    "--tls-key", certs.serverKey().toString(), "--tls-client-ca", certs.ca().toString())) {
                try (BpfClient ok = BpfClient.connectTls(agent.tcpTarget, certs.ca().toFile(),
                        certs.clientCert().toFile(), certs.clientKey().toFile())) {
                    assertEquals(dev.bpfagent.client.Health.Status.SERVING, ok.health());
                    try (ProgramHandle p = ok.load(LoadOptions.builder(ProgramType.PROGRAM_TYPE_XDP, Asm.returnImm(2))
                            .build())) {
                        assertEquals("CN=client", p.owner().getTlsSubject(), "the owner is the certificate's subject");
                    }
                }
                assertRefused(BpfClient.connectTls(agent.tcpTarget, certs.ca().toFile()));
                assertRefused(BpfClient.connectTls(agent.tcpTarget, certs.ca().toFile(),
                        certs.strangerCert().toFile(), certs.strangerKey().toFile()));
                // The Unix socket is unaffected: its file mode is its access control.
                try (BpfClient local = BpfClient.connect(agent.unixTarget())) {
                    assertEquals(dev.bpfagent.client.Health.Status.SERVING, local.health());
                }
            }
        } finally {
            AgentProcess.deleteTree(dir);
        }
    }

    @Test
    void reflectionListsBpfService() throws Exception {
        try (AgentProcess agent = AgentProcess.start();
             AgentChannels.Connection conn = AgentChannels.connect(agent.unixTarget())) {
            List<String> services = new ArrayList<>();
            CountDownLatch done = new CountDownLatch(1);
            StreamObserver<ServerReflectionRequest> req = ServerReflectionGrpc.newStub(conn.channel())
                    .serverReflectionInfo(new StreamObserver<>() {
                        @Override
                        public void onNext(ServerReflectionResponse r) {
                            r.getListServicesResponse().getServiceList().forEach(s -> services.add(s.getName()));
                        }

                        @Override
                        public void onError(Throwable t) {
                            done.countDown();
                        }

                        @Override
                        public void onCompleted() {
                            done.countDown();
                        }
                    });
            req.onNext(ServerReflectionRequest.newBuilder().setListServices("").build());
            req.onCompleted();
            assertTrue(done.await(30, TimeUnit.SECONDS));
            assertTrue(services.contains("bpfagent.v1.BpfService"), services.toString());
            assertTrue(services.contains("grpc.health.v1.Health"), services.toString());
        }
    }

    @Test
    void theBpffsDirectoryIsTheAgentsAlone() throws Exception {
        Kernel.assumeRoot();
        try (AgentProcess agent = AgentProcess.start()) {
            assertEquals("rwx------", java.nio.file.attribute.PosixFilePermissions.toString(
                    Files.getPosixFilePermissions(agent.bpffsDir)));
            assertEquals("rw-rw----", java.nio.file.attribute.PosixFilePermissions.toString(
                    Files.getPosixFilePermissions(agent.socket)));
            try (var s = Files.list(agent.socket.getParent())) {
                assertTrue(s.noneMatch(p -> p.getFileName().toString().startsWith(".bind-")), "no bind dir left");
            }
            // A second agent on the same bpffs directory (another socket) refuses to start.
            Path other = Files.createTempDirectory("bpf-agent-second");
            try {
                var second = Processes.run(60, List.of(System.getProperty("bpfagent.java", "java"),
                        "--enable-native-access=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow", "-jar",
                        AgentProcess.jar().toString(), "--socket", other.resolve("agent.sock").toString(),
                        "--bpffs-dir", agent.bpffsDir.toString()));
                assertEquals(1, second.exit(), second.output());
                assertTrue(second.output().contains("another agent uses the bpffs directory"), second.output());
            } finally {
                AgentProcess.deleteTree(other);
            }
        }
    }

    @Test
    void aBpffsDirectoryPreparedByAnotherUserOrASymlinkIsRefused() throws Exception {
        Kernel.assumeRoot();
        Path base = Path.of("/sys/fs/bpf/bpf-agent-it-prep-" + java.util.UUID.randomUUID().toString().substring(0, 8));
        Path socketDir = Files.createTempDirectory("bpf-agent-prep");
        try {
            Path foreign = base.resolve("foreign");
            Files.createDirectories(foreign);
            Files.setAttribute(foreign, "unix:uid", 65534); // nobody
            var r = Processes.run(60, List.of(System.getProperty("bpfagent.java", "java"),
                    "--enable-native-access=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow", "-jar",
                    AgentProcess.jar().toString(), "--socket", socketDir.resolve("a.sock").toString(),
                    "--bpffs-dir", foreign.toString()));
            assertEquals(1, r.exit(), r.output());
            assertTrue(r.output().contains("belongs to") && r.output().contains("not root"), r.output());

            Path real = base.resolve("real");
            Files.createDirectories(real);
            Path link = base.resolve("link");
            Files.createSymbolicLink(link, real);
            var s = Processes.run(60, List.of(System.getProperty("bpfagent.java", "java"),
                    "--enable-native-access=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow", "-jar",
                    AgentProcess.jar().toString(), "--socket", socketDir.resolve("b.sock").toString(),
                    "--bpffs-dir", link.resolve("agent").toString()));
            assertEquals(1, s.exit(), s.output());
            assertTrue(s.output().contains("is a symlink"), s.output());
            assertFalse(Files.exists(real.resolve("agent")), "nothing was made through the symlink");
        } finally {
            AgentProcess.deleteTree(base);
            AgentProcess.deleteTree(socketDir);
        }
    }
}
