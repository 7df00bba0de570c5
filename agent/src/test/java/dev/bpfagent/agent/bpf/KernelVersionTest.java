package dev.bpfagent.agent.bpf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class KernelVersionTest {
    @Test
    void versionCode() {
        assertEquals((6 << 16) + (18 << 8) + 44, KernelVersion.code("6.18.44-fc-v669"));
        assertEquals((6 << 16) + (1 << 8), KernelVersion.code("6.1-rc3"));
        assertEquals((4 << 16) + (19 << 8) + 255, KernelVersion.code("4.19.300"), "patch level saturates");
        assertThrows(IllegalArgumentException.class, () -> KernelVersion.code("linux"));
    }

    @Test
    void enumsMatchTheKernel() {
        assertEquals(6, ProgramType.XDP.value);
        assertEquals(26, ProgramType.TRACING.value);
        assertEquals(32, ProgramType.NETFILTER.value);
        assertEquals(37, AttachType.XDP.value);
        assertEquals(46, AttachType.TCX_INGRESS.value);
        assertEquals(ProgramType.values().length, ProgramType.NETFILTER.value + 1);
        assertEquals(AttachType.values().length, AttachType.TRACE_UPROBE_SESSION.value + 1);
    }
}
