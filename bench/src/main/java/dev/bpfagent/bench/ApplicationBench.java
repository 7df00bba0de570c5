package dev.bpfagent.bench;

import com.google.protobuf.ByteString;
import dev.bpfagent.client.Applications;
import dev.bpfagent.client.BpfClient;
import dev.bpfagent.it.AgentProcess;
import dev.bpfagent.proto.v1.ApplicationObject;
import dev.bpfagent.proto.v1.ApplicationProgram;
import dev.bpfagent.proto.v1.ApplicationSpec;
import dev.bpfagent.proto.v1.AttachRule;
import dev.bpfagent.proto.v1.Hook;
import dev.bpfagent.proto.v1.XdpHook;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * Applications as an orchestrator meets them, through the agent's Unix socket from this JVM: apply of an
 * unchanged spec (no-op), of a changed program (BPF_LINK_UPDATE on the same link), of a new application
 * (load and XDP attach on a veth), delete; beside xdp-loader load+unload of the same object on the same
 * veth. Then 1,000 applications held (each loads the firewall object; their rules match no interface):
 * a no-op re-apply of all of them, and the agent's start-up with all of them (held again from their
 * pins, and rebuilt after the pins are removed).
 */
final class ApplicationBench {
    private ApplicationBench() {
    }

    static final String IF = "bpfbench" + ProcessHandle.current().pid() % 10000;

    static ApplicationSpec spec(byte[] elf, long version, String iface) {
        return ApplicationSpec.newBuilder().addObjects(ApplicationObject.newBuilder().setName("fw")
                .setSource(Applications.elf(elf))
                .putRodata("version", ByteString.copyFrom(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN)
                        .putLong(version).array()))
                .addPrograms(ApplicationProgram.newBuilder().setName("firewall").addAttach(AttachRule.newBuilder()
                        .setHook(Hook.newBuilder().setXdp(XdpHook.getDefaultInstance())).addInterfaces(iface))))
                .build();
    }

    static void sh(String... cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        if (p.waitFor() != 0) {
            throw new IllegalStateException(String.join(" ", cmd) + ": " + out);
        }
    }

    /** The rows, and the 1,000-application lines printed after them. */
    static List<String> run(AgentProcess agent, Path objects, int n, List<AgentBench.Row> rows) throws Exception {
        Path file = objects.resolve("firewall.o");
        List<String> lines = new ArrayList<>();
        if (!Files.exists(file)) {
            System.err.println("bench: no " + file + " (build the integration tests with clang): no application rows");
            return lines;
        }
        byte[] elf = Files.readAllBytes(file);
        int many = 1000;
        sh("ip", "link", "add", IF, "type", "veth", "peer", "name", IF + "p");
        try (BpfClient c = BpfClient.connect(agent.unixTarget())) {
            sh("ip", "link", "set", IF, "up");
            Applications apps = c.applications();
            List<AgentBench.Task> tasks = new ArrayList<>();
            apps.apply("bench", spec(elf, 1, IF));
            tasks.add(new AgentBench.Task("application apply, unchanged (no-op)", "uds", n,
                    () -> apps.apply("bench", spec(elf, 1, IF))));
            long[] v = {1};
            tasks.add(new AgentBench.Task("application apply, changed program (link update)", "uds", n,
                    () -> apps.apply("bench", spec(elf, ++v[0] % 2 + 1, IF))));
            for (AgentBench.Task t : tasks) {
                for (int i = 0; i < t.n(); i++) {
                    t.op().run(); // warm
                }
            }
            rows.addAll(AgentBench.bestOf(tasks));
            apps.delete("bench");
            // new + delete, each timed on its own
            long[] apply = new long[n];
            long[] delete = new long[n];
            long[] loader = new long[n];
            for (int round = 0; round < n * 2; round++) {
                int i = round % n;
                long s = System.nanoTime();
                apps.apply("bench-new", spec(elf, 1, IF));
                apply[i] = System.nanoTime() - s;
                s = System.nanoTime();
                apps.delete("bench-new");
                delete[i] = System.nanoTime() - s;
                s = System.nanoTime();
                sh("xdp-loader", "load", "-m", "native", IF, file.toString());
                sh("xdp-loader", "unload", "-a", IF);
                loader[i] = System.nanoTime() - s;
            }
            rows.add(row("application apply, new (load + XDP attach)", "uds", apply));
            rows.add(row("application delete", "uds", delete));
            rows.add(row("XDP load+unload of the same object", "xdp-loader (2 processes)", loader));
            rows.add(row("new interface matching a glob, to attached", "uds (rtnetlink wakes the loop)",
                    newInterface(apps, elf, Math.min(n, 20))));
            SharedHookBench.run(c, objects, IF, n, rows, lines);

            long s = System.nanoTime();
            for (int i = 0; i < many; i++) {
                apps.apply("many-" + i, spec(elf, 1, "nomatch-" + i));
            }
            long made = System.nanoTime() - s;
            s = System.nanoTime();
            for (int i = 0; i < many; i++) {
                apps.apply("many-" + i, spec(elf, 1, "nomatch-" + i));
            }
            long noop = System.nanoTime() - s;
            long rss = AgentBench.rssKiB(agent.process);
            lines.add(String.format(Locale.ROOT, "%,d applications: applied in %.1f s (%.1f ms each), a no-op re-apply"
                    + " of all in %.2f s (%.2f ms each); agent RSS holding them %d MiB", many, made / 1e9,
                    made / 1e6 / many, noop / 1e9, noop / 1e6 / many, rss / 1024));
        } finally {
            sh("ip", "link", "del", IF);
        }
        lines.addAll(startUp(agent, many));
        return lines;
    }

    /**
     * From `ip link add` returning to the application's status saying the new veth is attached (GetApplication
     * polled every millisecond), each round a new interface: how soon a node's new interface is covered.
     */
    static long[] newInterface(Applications apps, byte[] elf, int n) throws Exception {
        String iface = IF + "n";
        apps.apply("bench-glob", spec(elf, 1, iface));
        long[] out = new long[n];
        try {
            for (int i = 0; i < n; i++) {
                long s = System.nanoTime();
                sh("ip", "link", "add", iface, "type", "veth", "peer", "name", IF + "q");
                while (apps.get("bench-glob").getStatus().getAttachmentsList().stream().noneMatch(a -> a.getTarget()
                        .contains(iface) && a.getState() == dev.bpfagent.proto.v1.AttachmentStatus.State.STATE_ATTACHED)) {
                    Thread.sleep(1);
                }
                out[i] = System.nanoTime() - s;
                sh("ip", "link", "del", iface);
                while (apps.get("bench-glob").getStatus().getAttachmentsList().stream().anyMatch(a -> a.getTarget()
                        .contains(iface))) {
                    Thread.sleep(1);
                }
            }
        } finally {
            apps.delete("bench-glob");
        }
        return out;
    }

    /**
     * Stops the agent (it must be the bench's last use of it) and starts another on its state and bpffs
     * directories: start-up holding every application again from its pins; then again after the pins
     * were removed (as after a reboot): start-up rebuilding every application. The last agent deletes them.
     */
    static List<String> startUp(AgentProcess agent, int many) throws Exception {
        List<String> lines = new ArrayList<>();
        String[] dirs = {"--state-dir", agent.stateDir().toString(), "--bpffs-dir", agent.bpffsDir.toString()};
        agent.stop();
        long s = System.nanoTime();
        try (AgentProcess held = AgentProcess.start(dirs)) {
            long t = System.nanoTime() - s;
            lines.add(String.format(Locale.ROOT, "agent start-up holding %,d applications again from their pins: %.2f s"
                    + " to ready; RSS %d MiB", many, t / 1e9, AgentBench.rssKiB(held.process) / 1024));
            held.stop();
        }
        sh("rm", "-rf", agent.bpffsDir.resolve("_apps").toString());
        s = System.nanoTime();
        try (AgentProcess rebuilt = AgentProcess.start(dirs);
             BpfClient c = BpfClient.connect(rebuilt.unixTarget())) {
            long t = System.nanoTime() - s;
            lines.add(String.format(Locale.ROOT, "agent start-up rebuilding %,d applications (bpffs emptied): %.2f s to"
                    + " ready; RSS %d MiB", many, t / 1e9, AgentBench.rssKiB(rebuilt.process) / 1024));
            for (int i = 0; i < many; i++) {
                c.applications().delete("many-" + i);
            }
        }
        return lines;
    }

    static AgentBench.Row row(String name, String path, long[] t) {
        long[] s = t.clone();
        Arrays.sort(s);
        double mean = Arrays.stream(s).average().orElse(0);
        return new AgentBench.Row(name, path, s.length, s[s.length / 2] / 1e3, s[Math.min(s.length - 1,
                (int) (s.length * 0.99))] / 1e3, mean / 1e3, 1e9 / mean);
    }
}
