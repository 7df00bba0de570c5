package dev.bpfagent.it;

import static org.junit.jupiter.api.Assertions.*;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * An operator JVM that is not root: with --socket-group, members of that group call the agent, and
 * the agent records the caller's real uid (SO_PEERCRED). Without the group, such a caller is refused.
 */
class NonRootClientTest {
    static final Path RUNUSER = Path.of("/usr/sbin/runuser");

    /** The test classpath, copied where user nobody can read it (~/.m2 is root's). */
    static String readableClasspath(Path dir) throws Exception {
        List<String> out = new ArrayList<>();
        int i = 0;
        for (String entry : System.getProperty("java.class.path").split(File.pathSeparator)) {
            Path src = Path.of(entry);
            if (!Files.exists(src)) {
                continue;
            }
            Path dst = dir.resolve((i++) + "-" + src.getFileName());
            if (Files.isDirectory(src)) {
                try (Stream<Path> walk = Files.walk(src)) {
                    for (Path p : walk.toList()) {
                        Path t = dst.resolve(src.relativize(p).toString());
                        if (Files.isDirectory(p)) {
                            Files.createDirectories(t);
                        } else {
                            Files.copy(p, t, StandardCopyOption.REPLACE_EXISTING);
                        }
                    }
                }
            } else {
                Files.copy(src, dst);
            }
            out.add(dst.toString());
        }
        try (Stream<Path> walk = Files.walk(dir)) {
            for (Path p : walk.toList()) {
                Files.setPosixFilePermissions(p, PosixFilePermissions.fromString(Files.isDirectory(p) ? "rwxr-xr-x" : "rw-r--r--"));
            }
        }
        return String.join(File.pathSeparator, out);
    }

    static String runAsNobody(String classpath, String target) throws Exception {
        return runAsNobody(classpath, NonRootClientMain.class, target);
    }

    /** main of mainClass run as user nobody with these arguments: "exit=N" and what it printed. */
    static String runAsNobody(String classpath, Class<?> mainClass, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(RUNUSER.toString(), "-u", "nobody", "--",
                System.getProperty("bpfagent.java", "java"), "--enable-native-access=ALL-UNNAMED",
                "--sun-misc-unsafe-memory-access=allow", "-cp", classpath, mainClass.getName()));
        cmd.addAll(List.of(args));
        return Processes.run(120, cmd).toString();
    }

    /** Skips unless user nobody can run a client here; a directory nobody can read, for its classpath. */
    static Path nobodysDirectory() throws Exception {
        Kernel.assumeRoot();
        Assumptions.assumeTrue(Files.isExecutable(RUNUSER), "needs runuser to run a client as nobody");
        Assumptions.assumeTrue(Files.readAllLines(Path.of("/etc/group")).stream().anyMatch(l -> l.startsWith("nogroup:")),
                "needs the nogroup group (nobody's)");
        Path dir = Files.createTempDirectory("bpf-agent-cp");
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        return dir;
    }

    @Test
    void socketGroupMembersMayCallAndAreRecordedByUid() throws Exception {
        Path cpDir = nobodysDirectory();
        Path runDir = Path.of("/run/bpf-agent-it-" + ProcessHandle.current().pid());
        try {
            String cp = readableClasspath(cpDir);
            try (AgentProcess agent = AgentProcess.start("--socket", runDir.resolve("agent.sock").toString(),
                    "--socket-group", "nogroup")) {
                String out = runAsNobody(cp, "unix:" + runDir.resolve("agent.sock"));
                assertTrue(out.startsWith("exit=0"), out);
                assertTrue(out.contains("owner_uid=65534 retval=1"), out);
            }
            try (AgentProcess agent = AgentProcess.start("--socket", runDir.resolve("agent.sock").toString())) {
                String out = runAsNobody(cp, "unix:" + runDir.resolve("agent.sock"));
                assertFalse(out.startsWith("exit=0"), out);
                assertTrue(out.contains("cannot reach the agent"), out);
            }
        } finally {
            AgentProcess.deleteTree(cpDir);
            AgentProcess.deleteTree(runDir);
        }
    }

    /**
     * Under a policy, a caller without readOthers sees only its own applications: not another user's in a
     * list, a watch's replay, or its live changes.
     */
    @Test
    void anotherUsersApplicationsAreNotListedOrWatched() throws Exception {
        Path cpDir = nobodysDirectory();
        Path runDir = Path.of("/run/bpf-agent-it-" + ProcessHandle.current().pid() + "-apps");
        try {
            String cp = readableClasspath(cpDir);
            Path policy = cpDir.resolve("policy.json");
            Files.writeString(policy, """
                    {"rules": [{"name": "ops", "match": {"gids": [65534]}, "role": "ROLE_OPERATE"}]}""");
            try (AgentProcess agent = AgentProcess.start("--socket", runDir.resolve("agent.sock").toString(),
                    "--socket-group", "nogroup", "--policy", policy.toString());
                 dev.bpfagent.client.BpfClient root = dev.bpfagent.client.BpfClient.connect(
                         "unix:" + runDir.resolve("agent.sock"))) {
                var spec = ApplicationsRestartTest.spec("nomatch-nonroot", 1);
                root.applications().apply("root-before", spec);
                var rootWatch = root.applications().watch(0);
                Process nobody = new ProcessBuilder(RUNUSER.toString(), "-u", "nobody", "--",
                        System.getProperty("bpfagent.java", "java"), "--enable-native-access=ALL-UNNAMED",
                        "--sun-misc-unsafe-memory-access=allow", "-cp", cp, ApplicationWatchClientMain.class.getName(),
                        "unix:" + runDir.resolve("agent.sock")).redirectErrorStream(true).start();
                var out = new java.io.BufferedReader(new java.io.InputStreamReader(nobody.getInputStream()));
                StringBuilder seen = new StringBuilder();
                String line;
                while ((line = out.readLine()) != null && !line.equals("synced")) {
                    seen.append(line).append('\n');
                }
                assertEquals("synced", line, "nobody's watch reached SYNCED: " + seen);
                root.applications().apply("root-after", spec); // while nobody watches
                while ((line = out.readLine()) != null) {
                    seen.append(line).append('\n');
                }
                assertTrue(nobody.waitFor(60, TimeUnit.SECONDS));
                assertEquals(0, nobody.exitValue(), seen.toString());
                // root's own watch saw both: the live change was published
                List<String> rootSaw = new ArrayList<>();
                while (rootSaw.size() < 3) {
                    var r = rootWatch.next();
                    rootSaw.add(r.getType() + ":" + r.getApplication().getName());
                }
                assertEquals(List.of("TYPE_ADDED:root-before", "TYPE_SYNCED:", "TYPE_ADDED:root-after"), rootSaw);
                String s = seen.toString();
                assertTrue(s.contains("listed=[]"), s);
                assertTrue(s.contains("event=TYPE_SYNCED:"), s);
                assertFalse(s.contains("root-"), "nobody saw root's applications: " + s);
                root.applications().delete("root-before");
                root.applications().delete("root-after");
            }
        } finally {
            AgentProcess.deleteTree(cpDir);
            AgentProcess.deleteTree(runDir);
        }
    }
}
