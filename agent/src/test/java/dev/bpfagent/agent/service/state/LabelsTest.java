package dev.bpfagent.agent.service.state;

import static org.junit.jupiter.api.Assertions.*;

import dev.bpfagent.agent.service.errors.RequestException;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

class LabelsTest {
    @Test
    void rules() {
        Labels.check(Map.of("team", "net", "app.kubernetes.io/name", "x", "k", ""), "labels");
        for (Map<String, String> bad : java.util.List.of(Map.of("", "v"), Map.of("-x", "v"), Map.of("a b", "v"),
                Map.of("k".repeat(64), "v"), Map.of("k", "v".repeat(256)), Map.of("k", "a\nb"))) {
            RequestException e = assertThrows(RequestException.class, () -> Labels.check(bad, "labels"), bad.toString());
            assertEquals("labels", e.field());
        }
        Map<String, String> many = new HashMap<>();
        for (int i = 0; i < 33; i++) {
            many.put("k" + i, "v");
        }
        assertThrows(RequestException.class, () -> Labels.check(many, "labels"));
    }

    @Test
    void selectorsMatchSubsets() {
        assertTrue(Labels.matches(Map.of("a", "1", "b", "2"), Map.of("a", "1")));
        assertTrue(Labels.matches(Map.of("a", "1"), Map.of()));
        assertFalse(Labels.matches(Map.of("a", "1"), Map.of("a", "2")));
        assertFalse(Labels.matches(Map.of(), Map.of("a", "1")));
    }
}
