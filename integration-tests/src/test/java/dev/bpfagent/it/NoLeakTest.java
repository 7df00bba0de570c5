package dev.bpfagent.it;

import static org.junit.jupiter.api.Assertions.*;

import dev.bpfagent.client.BpfAgentException;
import dev.bpfagent.client.BpfClient;
import dev.bpfagent.client.LoadOptions;
import dev.bpfagent.client.ProgramHandle;
import dev.bpfagent.client.TestPackets;
import dev.bpfagent.client.TestRunOptions;
import dev.bpfagent.proto.v1.ProgramType;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Every failure path, many times over, then a count of what is left: the agent's open fds, the
 * kernel's programs, the agent's bpffs directory. Nothing may have grown.
 */
class NoLeakTest {
    static long openFds(Process p) throws IOException {
        try (Stream<Path> s = Files.list(Path.of("/proc/" + p.pid() + "/fd"))) {
            return s.count();
        }
    }

    static final String NAME = "noleak_" + Long.toHexString(System.nanoTime() & 0xffffff);

    @Test
    void failuresLeaveNoFdProgramOrPinBehind() throws Exception {
        Kernel.assumeRoot();
        try (AgentProcess agent = AgentProcess.start(); BpfClient c = BpfClient.connect(agent.unixTarget())) {
            exercise(c, agent); // warm up: connections, thread pools, lazily opened files
            System.gc();
            long fdsBefore = openFds(agent.process);
            for (int i = 0; i < 20; i++) {
                exercise(c, agent);
            }
            long fdsAfter = openFds(agent.process);
            // Asked of the kernel, not the agent: no program of ours is loaded any more.
            assertEquals(List.of(), c.listPrograms(true).stream()
                    .filter(i -> i.getKernel().getName().equals(NAME)).map(i -> i.getId()).toList());
            assertEquals(0, c.agentInfo().getProgramsHeld());
            assertTrue(fdsAfter <= fdsBefore + 2, "agent fds grew from " + fdsBefore + " to " + fdsAfter);
            try (Stream<Path> s = Files.list(agent.bpffsDir)) {
                assertEquals(List.of(), s.toList(), "pins left in the agent's bpffs directory");
            }
        }
    }

    private static void exercise(BpfClient c, AgentProcess agent) {
        // verifier rejection, with and without a requested log
        assertThrows(BpfAgentException.VerifierRejected.class,
                () -> c.load(LoadOptions.builder(ProgramType.PROGRAM_TYPE_XDP, Asm.invalid()).name(NAME).build()));
        assertThrows(BpfAgentException.VerifierRejected.class,
                () -> c.load(LoadOptions.builder(ProgramType.PROGRAM_TYPE_XDP, Asm.invalid()).logLevel(2).logSize(128).build()));
        // bad BTF: the BTF fd opened for the load must be closed
        assertThrows(BpfAgentException.class, () -> c.load(LoadOptions.builder(ProgramType.PROGRAM_TYPE_XDP,
                Asm.returnImm(2)).btf(new byte[100]).build()));
        // a bad attach target id
        assertThrows(BpfAgentException.NotFound.class, () -> c.load(LoadOptions.builder(ProgramType.PROGRAM_TYPE_XDP,
                Asm.returnImm(2)).attachProgram(Integer.MAX_VALUE - 1, 1).build()));
        ProgramHandle p = c.load(LoadOptions.builder(ProgramType.PROGRAM_TYPE_XDP, Asm.xdpDropUdp()).name(NAME).build());
        String pin = p.pin("leak/a/b");
        assertThrows(BpfAgentException.AlreadyExists.class, () -> p.pin("leak/a/b"));
        // fetching our own pin again returns the same entry; the second fd is closed
        assertEquals(p.id(), c.getPinned(pin).id());
        // getPinned of a directory: not a program
        var dir = assertThrows(BpfAgentException.class, () -> c.getPinned("leak/a"));
        assertEquals("IS_A_DIRECTORY", dir.reason());
        assertThrows(BpfAgentException.class,
                () -> c.getPinned(pin, ProgramType.PROGRAM_TYPE_KPROBE, ""));
        assertThrows(BpfAgentException.class, () -> p.testRun(new TestRunOptions(TestPackets.udp().build(), 4, null,
                0, 1, 0, 0, 0)));
        p.testRun(TestPackets.tcp().build());
        p.close();
        assertFalse(Files.exists(agent.bpffsDir.resolve("leak")));
    }
}
