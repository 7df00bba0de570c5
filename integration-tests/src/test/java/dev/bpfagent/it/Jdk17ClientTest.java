package dev.bpfagent.it;

import static org.junit.jupiter.api.Assertions.*;

import dev.bpfagent.client.BpfClient;
import dev.bpfagent.client.LoadOptions;
import dev.bpfagent.client.ProgramHandle;
import dev.bpfagent.proto.v1.ProgramType;
import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/** The client library on a JDK 17 runtime (it is compiled with --release 17), through its Cli. */
class Jdk17ClientTest {
    static final Path JAVA17 = Path.of("/usr/lib/jvm/java-17-openjdk-amd64/bin/java");

    @Test
    void clientRunsOnJdk17() throws Exception {
        Kernel.assumeRoot();
        Assumptions.assumeTrue(Files.isExecutable(JAVA17), "needs a JDK 17 at " + JAVA17);
        // The client's runtime classpath: everything on ours but the agent, bench and test classes.
        String cp = Arrays.stream(System.getProperty("java.class.path").split(File.pathSeparator))
                .filter(e -> !e.contains("integration-tests") && !e.matches(".*/agent/target/.*")
                        && !e.contains("bpf-agent-0.1") && !e.contains("junit") && !e.contains("opentest4j"))
                .collect(Collectors.joining(File.pathSeparator));
        try (AgentProcess agent = AgentProcess.start(); BpfClient c = BpfClient.connect(agent.unixTarget());
             ProgramHandle p = c.load(LoadOptions.builder(ProgramType.PROGRAM_TYPE_XDP, Asm.returnImm(2))
                     .name("seen_by_17").build())) {
            var proc = Processes.run(120, java.util.List.of(JAVA17.toString(), "-cp", cp, "dev.bpfagent.cli.Main",
                    "--target", agent.unixTarget(), "program", "list"));
            String out = proc.output();
            assertEquals(0, proc.exit(), out);
            assertTrue(out.contains(" seen_by_17 ") && out.contains(Integer.toString(p.id())), out);

            var bad = Processes.run(120, java.util.List.of(JAVA17.toString(), "-cp", cp, "dev.bpfagent.cli.Main",
                    "--target", agent.unixTarget(), "program", "close", "999999999"));
            String badOut = bad.output();
            assertEquals(1, bad.exit(), badOut);
            assertTrue(badOut.contains("NOT_FOUND"), badOut);
        }
    }
}
