package dev.bpfagent.it;

import static org.junit.jupiter.api.Assertions.*;

import dev.bpfagent.client.BpfClient;
import dev.bpfagent.client.Health;
import dev.bpfagent.client.LoadOptions;
import dev.bpfagent.client.ProgramHandle;
import dev.bpfagent.client.TestPackets;
import dev.bpfagent.client.TestRunOptions;
import dev.bpfagent.proto.v1.ProgramType;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * systemd socket activation, with systemd-socket-activate (what systemd does for a .socket unit): it
 * listens on the socket, the first connection starts the agent with that socket as fd 3 (LISTEN_FDS),
 * and the agent serves it as it is. Calls made before the agent ran wait in the backlog and are all
 * served; readiness and stopping are told on NOTIFY_SOCKET; the socket, which the agent did not make,
 * is left where it is.
 */
class SocketActivationTest {
    static final Path ACTIVATE = Path.of("/usr/bin/systemd-socket-activate");
    static final String PYTHON = "python3";

    /** A NOTIFY_SOCKET: a Unix datagram socket (python's; the JDK has none) printing each message on a line. */
    static Process notifyListener(Path socket, Path out) throws Exception {
        String script = "import socket,sys\n"
                + "s=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM); s.bind(sys.argv[1]); s.settimeout(120)\n"
                + "while True:\n"
                + "  m=s.recv(4096).decode(); print(m.replace('\\n','|'), flush=True)\n"
                + "  if 'STOPPING=1' in m: break\n";
        Process p = new ProcessBuilder(PYTHON, "-c", script, socket.toString()).redirectErrorStream(true)
                .redirectOutput(out.toFile()).start();
        assertTrue(Kernel.eventually(() -> Files.exists(socket), 10), "the notify listener is up");
        return p;
    }

    static List<String> agentCommand(Path dir, Path bpffs) {
        return new ArrayList<>(List.of(System.getProperty("bpfagent.java", "java"), "@" + AgentProcess.jvmOptions(),
                "-jar", AgentProcess.jar().toString(), "--state-dir", dir.resolve("state").toString(),
                "--bpffs-dir", bpffs.toString()));
    }

    @Test
    void theFirstConnectionStartsTheAgentAndNoCallIsLost(@TempDir Path dir) throws Exception {
        Kernel.assumeRoot();
        Assumptions.assumeTrue(Files.isExecutable(ACTIVATE), "needs systemd-socket-activate (Debian's systemd)");
        Path sock = dir.resolve("agent.sock");
        Path notify = dir.resolve("notify.sock");
        Path notified = dir.resolve("notify.out");
        Path log = dir.resolve("agent.log");
        Path bpffs = Path.of("/sys/fs/bpf/bpf-agent-it-sa-" + UUID.randomUUID().toString().substring(0, 8));
        Process listener = notifyListener(notify, notified);
        List<String> cmd = new ArrayList<>(List.of(ACTIVATE.toString(), "-l", sock.toString(), "--fdname=bpf-agent",
                "-E", "NOTIFY_SOCKET=" + notify));
        cmd.addAll(agentCommand(dir, bpffs)); // no --socket: the agent serves what it is given
        Process activator = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        ExecutorService callers = Executors.newFixedThreadPool(8);
        try {
            assertTrue(Kernel.eventually(() -> Files.exists(sock), 10), "systemd-socket-activate listens");
            Thread.sleep(500);
            assertTrue(activator.isAlive());
            assertTrue(activator.info().command().orElse("").endsWith("systemd-socket-activate"),
                    "no agent before the first connection: " + activator.info().command());
            assertFalse(Files.readString(log).contains("ready:"), "the agent has not started");

            // eight callers at once, before any agent runs: all are served once it does
            List<Future<Health.Status>> first = new ArrayList<>();
            for (int i = 0; i < 8; i++) {
                first.add(callers.submit(() -> {
                    try (BpfClient c = BpfClient.connect("unix:" + sock).withDeadline(90_000)) {
                        return c.health();
                    }
                }));
            }
            for (Future<Health.Status> f : first) {
                assertEquals(Health.Status.SERVING, f.get(120, TimeUnit.SECONDS));
            }
            String out = Files.readString(log);
            assertTrue(out.contains("ready: unix:" + sock), out);
            assertTrue(activator.info().command().orElse("").endsWith("java"), "the same process, exec'd: the agent");
            assertTrue(Kernel.eventually(() -> read(notified).contains("READY=1"), 10), "sd_notify READY=1: "
                    + read(notified));
            assertTrue(read(notified).contains("STATUS=serving " + sock + " (socket-activated)"), read(notified));

            int id;
            try (BpfClient c = BpfClient.connect("unix:" + sock);
                 ProgramHandle p = c.load(LoadOptions.builder(ProgramType.PROGRAM_TYPE_XDP, Asm.returnImm(1))
                         .name("activated").build())) {
                assertEquals(1, p.testRun(TestRunOptions.ofData(TestPackets.udp().build())).retval(), "XDP_DROP");
                id = p.id();
            }

            activator.destroy(); // SIGTERM to the agent, the graceful stop
            assertTrue(activator.waitFor(30, TimeUnit.SECONDS), "the agent stopped");
            assertTrue(Kernel.eventually(() -> read(notified).contains("STOPPING=1"), 10), read(notified));
            assertTrue(Files.exists(sock), "the socket systemd made is left for systemd");
            assertTrue(Kernel.eventually(() -> !dev.bpfagent.agent.bpf.Program.existsInKernel(id)),
                    "its programs are closed");
        } finally {
            callers.shutdownNow();
            activator.destroyForcibly();
            activator.waitFor(10, TimeUnit.SECONDS);
            listener.destroyForcibly();
            AgentProcess.deleteTree(bpffs);
        }
    }

    @Test
    void aPassedFdThatIsNotAListeningUnixSocketIsRefused(@TempDir Path dir) throws Exception {
        Kernel.assumeRoot();
        Path bpffs = Path.of("/sys/fs/bpf/bpf-agent-it-sa-" + UUID.randomUUID().toString().substring(0, 8));
        try {
            // fd 3 is a regular file, LISTEN_PID is the agent's own pid ($$ survives exec)
            String agent = String.join(" ", agentCommand(dir, bpffs).stream().map(a -> "'" + a + "'").toList());
            var r = Processes.run(60, List.of("sh", "-c", "export LISTEN_FDS=1 LISTEN_PID=$$; exec " + agent
                    + " 3</etc/hostname"));
            assertEquals(1, r.exit(), r.toString());
            assertTrue(r.output().contains("cannot start: fd 3 (LISTEN_FDS) is /etc/hostname, not a socket"), r.toString());
        } finally {
            AgentProcess.deleteTree(bpffs);
        }
    }

    static String read(Path p) {
        try {
            return Files.exists(p) ? Files.readString(p, StandardCharsets.UTF_8) : "";
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
