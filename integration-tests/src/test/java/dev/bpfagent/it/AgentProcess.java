package dev.bpfagent.it;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The real agent, started from its jar as a separate process on a private socket, TCP port and bpffs
 * directory, so a test touches nothing another agent (or another test run) owns. The bench uses it too.
 */
public final class AgentProcess implements AutoCloseable {
    private static final Pattern READY = Pattern.compile("ready: unix:(\\S+)(?: tcp:(\\S+))?");
    private static final Pattern METRICS = Pattern.compile(" metrics:(\\S+)");
    /** HOST:PORT of the agent's /metrics, when started with --metrics. */
    public String metricsAddress;

    final Path dir;
    /** The agent's Unix socket, its own bpffs directory, the process, and "127.0.0.1:PORT". */
    public final Path socket;
    public final Path bpffsDir;
    public final Process process;
    public final String tcpTarget;

    private AgentProcess(Path dir, Path bpffsDir, Process process, String tcpTarget) {
        this.dir = dir;
        this.socket = dir.resolve("agent.sock");
        this.bpffsDir = bpffsDir;
        this.process = process;
        this.tcpTarget = tcpTarget;
    }

    public static Path jar() {
        Path jar = Path.of(System.getProperty("bpfagent.jar", "../agent/target/bpf-agent.jar"));
        if (!Files.exists(jar)) {
            throw new IllegalStateException(jar + " is missing: build the agent first (mvn package)");
        }
        return jar;
    }

    /** deploy/jvm.options: the agent runs in tests with the options it runs with in production. */
    public static Path jvmOptions() {
        Path p = jar().toAbsolutePath().getParent().getParent().getParent().resolve("deploy/jvm.options");
        if (!Files.exists(p)) {
            throw new IllegalStateException(p + " is missing (expected beside agent/ in the checkout)");
        }
        return p;
    }

    public static AgentProcess start(String... extraArgs) throws IOException, InterruptedException {
        Path dir = Files.createTempDirectory("bpf-agent-it");
        Path bpffs = Path.of("/sys/fs/bpf/bpf-agent-it-" + UUID.randomUUID().toString().substring(0, 8));
        return startIn(List.of(), dir, bpffs, extraArgs);
    }

    /**
     * An agent run under a command prefix (e.g. {@code ip netns exec NS}: the agent in a network
     * namespace, as on a node of its own), with its socket and state in dir and its pins in bpffs. The
     * same dir and bpffs again is the same agent restarted: it holds again what it recorded.
     */
    public static AgentProcess startIn(List<String> prefix, Path dir, Path bpffs, String... extraArgs)
            throws IOException, InterruptedException {
        Files.createDirectories(dir);
        List<String> cmd = new ArrayList<>(prefix);
        cmd.addAll(List.of(System.getProperty("bpfagent.java", "java"), "@" + jvmOptions()));
        // more JVM flags for the agent (the kernel matrix's guests run it with C1 only: TCG is slow)
        for (String a : System.getProperty("bpfagent.agentJvmArgs", "").split(" ")) {
            if (!a.isBlank()) {
                cmd.add(a);
            }
        }
        cmd.addAll(List.of("-jar", jar().toString(),
                "--socket", dir.resolve("agent.sock").toString(), "--tcp", "127.0.0.1:0", "--insecure-loopback",
                "--state-dir", dir.resolve("state").toString(),
                "--bpffs-dir", bpffs.toString()));
        cmd.addAll(List.of(extraArgs));
        Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.appendTo(dir.resolve("agent.err").toFile()))
                .start();
        // Lines are read on their own thread, so the deadline holds even when the agent prints nothing.
        BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
        java.util.concurrent.BlockingQueue<String> lines = new java.util.concurrent.LinkedBlockingQueue<>();
        Thread reader = new Thread(() -> {
            try {
                String l;
                while ((l = out.readLine()) != null) {
                    lines.add(l);
                }
            } catch (IOException e) {
                // the agent is gone: the wait below ends on its deadline or on the process' exit
            }
        }, "agent-stdout");
        reader.setDaemon(true);
        reader.start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (System.nanoTime() < deadline) {
            String line = lines.poll(200, TimeUnit.MILLISECONDS);
            if (line != null) {
                Matcher m = READY.matcher(line);
                if (m.find()) {
                    AgentProcess agent = new AgentProcess(dir, bpffs, p, m.group(2));
                    Matcher metrics = METRICS.matcher(line);
                    agent.metricsAddress = metrics.find() ? metrics.group(1) : null;
                    return agent;
                }
            } else if (!p.isAlive() && lines.isEmpty()) {
                break;
            }
        }
        p.destroyForcibly();
        p.waitFor(10, TimeUnit.SECONDS);
        throw new IllegalStateException("the agent did not start within 60 s (exit " + (p.isAlive() ? "none" : p.exitValue())
                + "): " + Files.readString(dir.resolve("agent.err")));
    }

    /** The --state-dir this agent records its pins' owners in. */
    public Path stateDir() {
        return dir.resolve("state");
    }

    public String unixTarget() {
        return "unix:" + socket;
    }

    String agentStderr() {
        try {
            return Files.readString(dir.resolve("agent.err"));
        } catch (IOException e) {
            return "(no stderr: " + e + ")";
        }
    }

    /** SIGKILL and wait, leaving state, socket directory and pins where they are (a crash). */
    public void kill() throws InterruptedException {
        process.destroyForcibly();
        process.waitFor(30, TimeUnit.SECONDS);
    }

    /** SIGTERM and wait: the graceful stop. */
    public int stop() throws InterruptedException {
        process.destroy();
        if (!process.waitFor(30, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            process.waitFor();
        }
        return process.exitValue();
    }

    @Override
    public void close() throws Exception {
        if (process.isAlive()) {
            stop();
        }
        // Tests clean up only what they created: this run's bpffs directory and temp dir.
        deleteTree(bpffsDir);
        deleteTree(dir);
    }

    public static void deleteTree(Path root) throws IOException {
        if (!Files.exists(root)) {
            return;
        }
        try (Stream<Path> s = Files.walk(root)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }
}
