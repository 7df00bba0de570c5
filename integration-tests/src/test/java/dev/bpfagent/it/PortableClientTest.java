package dev.bpfagent.it;

import static org.junit.jupiter.api.Assertions.*;

import java.io.File;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * The client where netty's native library is missing (as on macOS, other architectures, or locked-down
 * JVMs; here forced with -Dio.netty.transport.noNative=true): over the Unix socket and TCP it works
 * through netty's NIO transport, on the oldest JDK it supports when that JDK is installed. And a client
 * nobody closed does not keep its JVM alive.
 */
class PortableClientTest {
    /** The client's runtime classpath: everything on ours but the agent, bench and test classes. */
    static String clientClasspath() {
        return Arrays.stream(System.getProperty("java.class.path").split(File.pathSeparator))
                .filter(e -> !e.contains("integration-tests") && !e.matches(".*/agent/target/.*")
                        && !e.contains("bpf-agent-0.1") && !e.contains("junit") && !e.contains("opentest4j"))
                .collect(Collectors.joining(File.pathSeparator));
    }

    static String java() {
        return Files.isExecutable(Jdk17ClientTest.JAVA17) ? Jdk17ClientTest.JAVA17.toString()
                : System.getProperty("bpfagent.java", "java");
    }

    static Processes.Result cli(boolean natives, String target, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(java()));
        if (!natives) {
            cmd.add("-Dio.netty.transport.noNative=true");
        }
        cmd.addAll(List.of("-cp", clientClasspath(), "dev.bpfagent.cli.Main", "--target", target));
        cmd.addAll(List.of(args));
        return Processes.run(120, cmd);
    }

    @Test
    void withoutNettyNativesOverTheUnixSocketAndTcp() throws Exception {
        Kernel.assumeRoot();
        try (AgentProcess agent = AgentProcess.start()) {
            for (String target : List.of(agent.unixTarget(), agent.tcpTarget)) {
                Processes.Result nio = cli(false, target, "info");
                assertEquals(0, nio.exit(), target + ": " + nio);
                assertTrue(nio.output().matches("(?s).*client_transport +nio.*"), nio.output());
                Processes.Result list = cli(false, target, "program", "list", "--all");
                assertEquals(0, list.exit(), target + ": " + list);

                Processes.Result epoll = cli(true, target, "info");
                assertEquals(0, epoll.exit(), target + ": " + epoll);
                assertTrue(epoll.output().matches("(?s).*client_transport +epoll.*"), epoll.output());
            }
        }
    }

    @Test
    void aClientNobodyClosedDoesNotKeepItsJvmAlive() throws Exception {
        Kernel.assumeRoot();
        try (AgentProcess agent = AgentProcess.start()) {
            for (boolean natives : new boolean[] {true, false}) {
                List<String> cmd = new ArrayList<>(List.of(System.getProperty("bpfagent.java", "java")));
                if (!natives) {
                    cmd.add("-Dio.netty.transport.noNative=true");
                }
                cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), UnclosedClientMain.class.getName(),
                        agent.unixTarget()));
                // Processes.run fails the test if the JVM has not exited within 60 s.
                Processes.Result r = Processes.run(60, cmd);
                assertEquals(0, r.exit(), r.toString());
                assertTrue(r.output().contains("health SERVING"), r.output());
            }
        }
    }
}
