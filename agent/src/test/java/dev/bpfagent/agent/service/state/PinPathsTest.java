package dev.bpfagent.agent.service.state;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Path;
import dev.bpfagent.agent.service.errors.RequestException;
import org.junit.jupiter.api.Test;

class PinPathsTest {
    final PinPaths pins = new PinPaths(Path.of("/sys/fs/bpf/bpf-agent"));

    @Test
    void ownPathsStayInsideTheAgentsDirectory() {
        assertEquals(Path.of("/sys/fs/bpf/bpf-agent/team/prog"), pins.own("team/prog", "path"));
        assertEquals(Path.of("/sys/fs/bpf/bpf-agent/x"), pins.own("/sys/fs/bpf/bpf-agent/x", "path"));
        assertEquals(Path.of("/sys/fs/bpf/bpf-agent/a/b"), pins.own("a//b/", "path"));
        for (String bad : new String[] {"", " ", "..", "a/../../b", "./x", "/sys/fs/bpf/other", "/sys/fs/bpf/bpf-agent",
                "/sys/fs/bpf/bpf-agent-evil/x", "a\0b"}) {
            RequestException e = assertThrows(RequestException.class, () -> pins.own(bad, "path"), bad);
            assertEquals("path", e.field());
        }
    }

    @Test
    void relativeReadPathsResolveUnderRoot() {
        assertEquals(Path.of("/sys/fs/bpf/bpf-agent/p"), pins.any("p", "path"));
        assertThrows(RequestException.class, () -> pins.any("/etc/passwd", "path"));
    }
}
