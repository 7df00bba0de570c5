package dev.bpfagent.it;

import static org.junit.jupiter.api.Assertions.*;

import dev.bpfagent.client.BpfClient;
import dev.bpfagent.client.LoadOptions;
import dev.bpfagent.client.ProgramHandle;
import dev.bpfagent.client.TestPackets;
import dev.bpfagent.client.XdpAction;
import dev.bpfagent.proto.v1.ProgramType;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The image deploy/image/build makes (Debian minbase by mmdebstrap, a jlink runtime, the jars; an OCI
 * layout by umoci), unpacked as a runtime would unpack it and run against this kernel: the agent in a
 * chroot of the image's root file system in its own mount namespace (host /sys, so bpffs and tracefs are
 * the host's), its socket on a host directory as the DaemonSet's hostPath gives it. Health SERVING,
 * through the client and through the DaemonSet's own probe command run inside the image; an XDP program
 * loaded and test-run; the controllers' jar runs on the image's runtime.
 */
class AgentImageTest {
    static final Path OUT = Path.of("target", "image").toAbsolutePath();
    static final String TAG = "0.1.0-test";
    static Path bundle;

    @BeforeAll
    static void build() throws Exception {
        Kernel.assumeRoot();
        for (String tool : List.of("/usr/bin/mmdebstrap", "/usr/bin/umoci", "/usr/bin/unshare", "/usr/bin/nsenter")) {
            Assumptions.assumeTrue(Files.isExecutable(Path.of(tool)), "needs " + tool + " to build and run the image");
        }
        var r = Processes.run(900, List.of("bash", "../deploy/image/build", OUT.toString(), TAG));
        assertEquals(0, r.exit(), "deploy/image/build: " + r.output());
        System.out.println(Files.readString(OUT.resolve("contents.txt")));
        bundle = OUT.resolve("unpacked");
        var u = Processes.run(300, List.of("umoci", "unpack", "--image", OUT.resolve("oci") + ":" + TAG, bundle.toString()));
        assertEquals(0, u.exit(), "umoci unpack: " + u.output());
    }

    @AfterAll
    static void clean() throws Exception {
        if (bundle != null) {
            AgentProcess.deleteTree(bundle);
        }
    }

    @Test
    void theImageRunsTheAgentAgainstThisKernel() throws Exception {
        Path root = bundle.resolve("rootfs").toAbsolutePath();
        assertTrue(Files.isExecutable(root.resolve("opt/bpf-agent/jre/bin/java")));
        String config = Files.readString(bundle.resolve("config.json"));
        assertTrue(config.contains("/opt/bpf-agent/bpf-agent.jar"), "the image's entrypoint runs the agent");
        Path run = Files.createTempDirectory("bpf-agent-image-run");
        String bpffs = "/sys/fs/bpf/bpf-agent-image-" + UUID.randomUUID().toString().substring(0, 8);
        String script = String.join(" && ",
                "mount --make-rprivate /",
                "mount -t proc proc " + root + "/proc",
                "mount --rbind /sys " + root + "/sys",
                "mount --rbind /dev " + root + "/dev",
                "mount --bind " + run + " " + root + "/run/bpf-agent",
                "exec chroot " + root + " /opt/bpf-agent/jre/bin/java @/opt/bpf-agent/jvm.options -jar"
                        + " /opt/bpf-agent/bpf-agent.jar --socket /run/bpf-agent/agent.sock --state-dir /var/lib/bpf-agent"
                        + " --bpffs-dir " + bpffs);
        Process p = new ProcessBuilder("unshare", "--mount", "--fork", "--kill-child=SIGTERM", "sh", "-c", script)
                .redirectErrorStream(true).start();
        LinkedBlockingQueue<String> lines = new LinkedBlockingQueue<>();
        Thread reader = new Thread(() -> {
            try (BufferedReader in = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                String l;
                while ((l = in.readLine()) != null) {
                    lines.add(l);
                }
            } catch (Exception e) {
                // the process ended
            }
        });
        reader.setDaemon(true);
        reader.start();
        try {
            StringBuilder seen = new StringBuilder();
            long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
            boolean ready = false;
            while (!ready && System.nanoTime() < end && (p.isAlive() || !lines.isEmpty())) {
                String l = lines.poll(200, TimeUnit.MILLISECONDS);
                if (l != null) {
                    seen.append(l).append('\n');
                    ready = l.contains("ready: unix:");
                }
            }
            assertTrue(ready, "the agent in the image did not say ready: " + seen);
            try (BpfClient c = BpfClient.connect("unix:" + run.resolve("agent.sock"))) {
                assertEquals("SERVING", String.valueOf(c.health()));
                try (ProgramHandle prog = c.load(LoadOptions.builder(ProgramType.PROGRAM_TYPE_XDP, Asm.xdpDropUdp())
                        .name("image_xdp").build())) {
                    assertEquals(XdpAction.DROP, XdpAction.of(prog.testRun(TestPackets.udp().dstPort(53).build()).retval()));
                }
            }
            // the DaemonSet's readiness probe, run as the kubelet runs it: inside the container
            long pid = p.descendants().filter(h -> h.info().command().orElse("").endsWith("/java")).findFirst()
                    .orElseThrow().pid();
            var probe = Processes.run(120, List.of("nsenter", "-t", String.valueOf(pid), "-m", "chroot", root.toString(),
                    "sh", "-c", "/opt/bpf-agent/jre/bin/java -jar /opt/bpf-agent/bpf-agent-cli.jar"
                            + " --target unix:/run/bpf-agent/agent.sock health | grep -qx SERVING"));
            assertEquals(0, probe.exit(), "the probe inside the image: " + probe.output());
            // the controllers' jar runs on the image's runtime (fabric8, the JDK's HTTP client, the CRDs); in the
            // container's mount namespace, which has /proc as every container has (the JDK's launcher finds
            // its libraries through /proc/self/exe)
            var crds = Processes.run(120, List.of("nsenter", "-t", String.valueOf(pid), "-m", "chroot", root.toString(),
                    "/opt/bpf-agent/jre/bin/java", "-jar",
                    "/opt/bpf-agent/bpf-agent-kubernetes.jar", "crds", "/tmp/crds"));
            assertEquals(0, crds.exit(), crds.output());
            assertTrue(Files.exists(root.resolve("tmp/crds/bpfapplications.yaml")));
        } finally {
            p.destroy();
            if (!p.waitFor(30, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                p.waitFor();
            }
            AgentProcess.deleteTree(Path.of(bpffs));
            AgentProcess.deleteTree(run);
        }
    }
}
