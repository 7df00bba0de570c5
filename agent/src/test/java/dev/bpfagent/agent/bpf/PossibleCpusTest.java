package dev.bpfagent.agent.bpf;

import static org.junit.jupiter.api.Assertions.*;

import org.junit.jupiter.api.Test;

class PossibleCpusTest {
    @Test
    void rangesAsTheKernelWritesThem() {
        assertEquals(1, PossibleCpus.parse("0"));
        assertEquals(2, PossibleCpus.parse("0-1"));
        assertEquals(8, PossibleCpus.parse("0-3,5-7"));
        assertEquals(64, PossibleCpus.parse("0-63\n"));
        assertThrows(IllegalArgumentException.class, () -> PossibleCpus.parse(""));
        assertTrue(PossibleCpus.count() >= Runtime.getRuntime().availableProcessors());
    }
}
