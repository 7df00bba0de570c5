package dev.bpfagent.it;

import static org.junit.jupiter.api.Assertions.*;

import dev.bpfagent.client.BpfAgentException;
import dev.bpfagent.client.BpfClient;
import dev.bpfagent.client.LoadOptions;
import dev.bpfagent.client.ProgramHandle;
import dev.bpfagent.proto.v1.ProgramType;
import io.grpc.Status;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * The policy file, enforced on a real agent: a non-root member of the socket group with ROLE_OPERATE
 * loads and runs its own XDP program but is refused SYSCALL programs, live-frame test runs and root's
 * objects, and its GetPinned of root's program is a reference of its own; the audit log has each call.
 * Over TCP, mutual TLS admits only the certificate subjects the policy names; SIGHUP reloads it.
 */
class AccessControlTest {
    @Test
    void aNonRootOperatorRunsItsOwnProgramsAndCannotTouchRoots() throws Exception {
        Kernel.assumeRoot();
        Assumptions.assumeTrue(Files.isExecutable(NonRootClientTest.RUNUSER), "needs runuser to run a client as nobody");
        Assumptions.assumeTrue(Files.readAllLines(Path.of("/etc/group")).stream().anyMatch(l -> l.startsWith("nogroup:")),
                "needs the nogroup group (nobody's)");
        Path cpDir = Files.createTempDirectory("bpf-agent-cp");
        Files.setPosixFilePermissions(cpDir, PosixFilePermissions.fromString("rwxr-xr-x"));
        Path runDir = Path.of("/run/bpf-agent-acl-" + ProcessHandle.current().pid());
        Path conf = Files.createTempDirectory("bpf-agent-policy");
        try {
            String cp = NonRootClientTest.readableClasspath(cpDir);
            Path policy = conf.resolve("policy.json");
            Files.writeString(policy, """
                    {"rules": [{"name": "ops", "match": {"gids": [65534]}, "role": "ROLE_OPERATE"}]}""");
            Path audit = conf.resolve("audit.log");
            try (AgentProcess agent = AgentProcess.start("--socket", runDir.resolve("agent.sock").toString(),
                    "--socket-group", "nogroup", "--policy", policy.toString(), "--audit-log", audit.toString());
                 BpfClient root = BpfClient.connect("unix:" + runDir.resolve("agent.sock"));
                 ProgramHandle rootProgram = root.load(LoadOptions.builder(ProgramType.PROGRAM_TYPE_XDP,
                         Asm.returnImm(2)).name("roots").build())) {
                String rootPin = rootProgram.pin("root/p");
                String out = NonRootClientTest.runAsNobody(cp, AccessControlClientMain.class, "unix:" + runDir.resolve("agent.sock"),
                        Integer.toString(rootProgram.id()), "root/p");
                Map<String, String> steps = out.lines().filter(l -> l.contains("="))
                        .collect(Collectors.toMap(l -> l.substring(0, l.indexOf('=')), l -> l.substring(l.indexOf('=') + 1),
                                (a, b) -> a));
                assertTrue(steps.get("load_xdp").startsWith("OK") && steps.get("load_xdp").contains("owner_uid=65534"), out);
                assertEquals("OK retval=1", steps.get("test_run"), out);
                for (String refused : List.of("load_syscall", "live_frames", "close_roots", "unpin_roots", "pin_outside")) {
                    assertTrue(steps.get(refused).startsWith("PERMISSION_DENIED POLICY_DENIED ops :: "), refused + ": " + out);
                }
                assertTrue(steps.get("load_syscall").contains("PROGRAM_TYPE_SYSCALL"), out);
                assertTrue(steps.get("live_frames").contains("LIVE_FRAMES"), out);
                assertTrue(steps.get("close_roots").contains("uid=0"), "names the owner: " + out);
                assertTrue(steps.get("close_roots").contains("uid=65534"), "names the caller: " + out);
                assertTrue(steps.get("pin_own").startsWith("OK"), out);
                assertEquals("OK id=" + rootProgram.id(), steps.get("get_pinned_roots"), out);
                assertEquals("OK closed", steps.get("close_own"), out);
                // root's program and pin are as they were: the GetPinned handle's close released a reference only
                assertTrue(root.programExists(rootProgram.id()));
                assertTrue(Files.exists(Path.of(rootPin)), rootPin);
                assertEquals(2, rootProgram.testRun(dev.bpfagent.client.TestPackets.udp().build()).retval());

                List<String> log = Files.readAllLines(audit);
                String nobody = "\"uid\":65534";
                assertTrue(log.stream().anyMatch(l -> l.contains(nobody) && l.contains("\"method\":\"LoadProgram\"")
                        && l.contains("\"result\":\"OK\"") && l.contains("made program")), String.join("\n", log));
                for (String method : List.of("LoadProgram", "TestRunProgram", "CloseProgram", "Unpin", "Pin")) {
                    assertTrue(log.stream().anyMatch(l -> l.contains(nobody) && l.contains("\"method\":\"" + method + "\"")
                            && l.contains("\"result\":\"PERMISSION_DENIED")), method + " refused in the audit log:\n"
                            + String.join("\n", log));
                }
                assertTrue(log.stream().anyMatch(l -> l.contains(nobody) && l.contains("\"method\":\"GetPinned\"")
                        && l.contains("\"result\":\"OK\"")), String.join("\n", log));
                assertTrue(log.stream().anyMatch(l -> l.contains("\"uid\":0") && l.contains("\"method\":\"Pin\"")),
                        "root's calls are audited too");
                assertFalse(log.stream().anyMatch(l -> l.contains("\"method\":\"GetProgram\"")), "reads are not");
            }
        } finally {
            AgentProcess.deleteTree(cpDir);
            AgentProcess.deleteTree(runDir);
            AgentProcess.deleteTree(conf);
        }
    }

    @Test
    void mutualTlsAdmitsOnlyTheSubjectsThePolicyNamesAndSighupReloadsIt() throws Exception {
        Kernel.assumeRoot();
        Path dir = Files.createTempDirectory("bpf-agent-mtls-policy");
        try {
            Certs certs = Certs.make(dir);
            Path policy = dir.resolve("policy.json");
            Files.writeString(policy, """
                    {"rules": [{"name": "remote-ops", "match": {"tlsSubjects": ["CN=client"]}, "role": "ROLE_OPERATE"}]}""");
            try (AgentProcess agent = AgentProcess.start("--tls-cert", certs.serverCert().toString(),
                    "--tls-key", certs.serverKey().toString(), "--tls-client-ca", certs.ca().toString(),
                    "--policy", policy.toString());
                 BpfClient ok = BpfClient.connectTls(agent.tcpTarget, certs.ca().toFile(), certs.clientCert().toFile(),
                         certs.clientKey().toFile());
                 BpfClient intruder = BpfClient.connectTls(agent.tcpTarget, certs.ca().toFile(),
                         certs.intruderCert().toFile(), certs.intruderKey().toFile())) {
                try (ProgramHandle p = ok.load(LoadOptions.builder(ProgramType.PROGRAM_TYPE_XDP, Asm.returnImm(2)).build())) {
                    assertEquals("CN=client", p.owner().getTlsSubject());
                    var denied = assertThrows(BpfAgentException.PermissionDenied.class, intruder::agentInfo,
                            "a certificate the CA signed, a subject the policy does not name");
                    assertTrue(denied.getMessage().contains("CN=intruder") && denied.getMessage().contains("no rule"),
                            denied.getMessage());
                    // SIGHUP: the intruder may now look, still not touch
                    Files.writeString(policy, """
                            {"rules": [{"name": "remote-ops", "match": {"tlsSubjects": ["CN=client"]}, "role": "ROLE_OPERATE"},
                                       {"name": "viewer", "match": {"tlsSubjects": ["CN=intruder"]}, "role": "ROLE_READ"}]}""");
                    org.junit.jupiter.api.Assumptions.assumeFalse(agent.agentStderr().contains("SIGHUP is ignored"),
                            "the tests were started with SIGHUP ignored (nohup): the agent inherits that and can"
                                    + " reload its policy only by restart (it says so at start)");
                    new ProcessBuilder("kill", "-HUP", Long.toString(agent.process.pid())).start().waitFor();
                    // the agent says when its signal thread has read the file (bounded: a loaded 2-core
                    // machine can be slow to run it); then the new policy answers every call
                    long end = System.nanoTime() + 30_000_000_000L;
                    while (!agent.agentStderr().contains("policy reloaded") && System.nanoTime() < end) {
                        Thread.sleep(50);
                    }
                    assertTrue(agent.agentStderr().contains("policy reloaded"), "no reload after SIGHUP in 30 s;"
                            + " the agent's log:\n" + agent.agentStderr());
                    String[] last = {""};
                    assertTrue(Kernel.eventually(() -> {
                        try {
                            intruder.agentInfo();
                            return true;
                        } catch (BpfAgentException e) {
                            last[0] = e.getMessage();
                            return false;
                        }
                    }), "the reloaded policy lets CN=intruder read; the last refusal: " + last[0]);
                    var close = assertThrows(BpfAgentException.PermissionDenied.class, () -> intruder.closeProgram(p.id(),
                            false));
                    assertTrue(close.getMessage().contains("ROLE_READ"), close.getMessage());
                    // a broken file leaves the policy in force
                    Files.writeString(policy, "{not json");
                    new ProcessBuilder("kill", "-HUP", Long.toString(agent.process.pid())).start().waitFor();
                    Thread.sleep(300);
                    assertNotNull(intruder.agentInfo());
                    assertEquals(Status.Code.PERMISSION_DENIED, assertThrows(BpfAgentException.class,
                            () -> intruder.closeProgram(p.id(), false)).code());
                }
            }
        } finally {
            AgentProcess.deleteTree(dir);
        }
    }
}
