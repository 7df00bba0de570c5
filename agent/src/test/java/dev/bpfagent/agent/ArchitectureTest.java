package dev.bpfagent.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The layers point one way: service → bpf → kernel. Only bpf may use the kernel package, only kernel
 * touches java.lang.foreign, and bpf, kernel and errno know nothing of gRPC or the proto. Read from
 * the sources' imports (and fully qualified uses), so a new file cannot slip by.
 */
class ArchitectureTest {
    static final Path MAIN = Path.of("src/main/java/dev/bpfagent/agent");

    record Rule(String packagePrefix, String forbidden) {
    }

    static final List<Rule> RULES = List.of(
            new Rule("service", "dev.bpfagent.agent.kernel"),
            new Rule("Agent", "dev.bpfagent.agent.kernel"),
            new Rule("Main", "dev.bpfagent.agent.kernel"),
            new Rule("AgentConfig", "dev.bpfagent.agent.kernel"),
            new Rule("service", "java.lang.foreign"),
            new Rule("bpf", "java.lang.foreign"),
            new Rule("errno", "java.lang.foreign"),
            new Rule("bpf", "dev.bpfagent.agent.service"),
            new Rule("bpf", "dev.bpfagent.proto"),
            new Rule("bpf", "io.grpc"),
            new Rule("kernel", "dev.bpfagent.agent.bpf"),
            new Rule("kernel", "dev.bpfagent.agent.service"),
            new Rule("kernel", "dev.bpfagent.proto"),
            new Rule("kernel", "io.grpc"),
            new Rule("errno", "dev.bpfagent.agent.kernel"),
            new Rule("errno", "dev.bpfagent.agent.bpf"),
            new Rule("errno", "io.grpc"),
            new Rule("service/state", "dev.bpfagent.agent.service.transport"),
            new Rule("service/auth", "dev.bpfagent.agent.service.state"));

    @Test
    void layersPointOneWay() throws IOException {
        List<String> violations = new ArrayList<>();
        try (Stream<Path> files = Files.walk(MAIN)) {
            for (Path f : files.filter(p -> p.toString().endsWith(".java")).toList()) {
                String rel = MAIN.relativize(f).toString();
                String src = Files.readString(f);
                for (Rule r : RULES) {
                    if (rel.startsWith(r.packagePrefix()) && src.contains(r.forbidden() + ".")) {
                        violations.add(rel + " uses " + r.forbidden());
                    }
                }
            }
        }
        assertEquals(List.of(), violations);
    }
}
