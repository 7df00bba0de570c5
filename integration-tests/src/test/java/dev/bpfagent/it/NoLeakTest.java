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
            exerciseMaps(c);
            System.gc();
            long fdsBefore = openFds(agent.process);
            java.util.Set<Integer> mapsBefore = kernelMapIds(c);
            for (int i = 0; i < 20; i++) {
                exercise(c, agent);
                exerciseMaps(c);
            }
            long fdsAfter = openFds(agent.process);
            // Asked of the kernel, not the agent: no program of ours is loaded any more.
            assertEquals(List.of(), c.listPrograms(true).stream()
                    .filter(i -> i.getKernel().getName().equals(NAME)).map(i -> i.getId()).toList());
            assertEquals(0, c.agentInfo().getProgramsHeld());
            assertEquals(0, c.agentInfo().getMapsHeld());
            // the kernel frees maps with deferred work: give it a moment before counting
            long end = System.nanoTime() + 20_000_000_000L;
            while (!kernelMapIds(c).equals(mapsBefore) && System.nanoTime() < end) {
                Thread.sleep(100);
            }
            assertEquals(mapsBefore, kernelMapIds(c), "the kernel's maps");
            assertTrue(fdsAfter <= fdsBefore + 2, "agent fds grew from " + fdsBefore + " to " + fdsAfter);
            try (Stream<Path> s = Files.list(agent.bpffsDir)) {
                assertEquals(List.of(), s.toList(), "pins left in the agent's bpffs directory");
            }
        }
    }

    static java.util.Set<Integer> kernelMapIds(BpfClient c) {
        return java.util.Set.copyOf(c.listMaps(dev.bpfagent.proto.v1.ListMapsRequest.newBuilder().setIncludeKernel(true)
                .setPageSize(1000).build()).getMapsList().stream().map(dev.bpfagent.proto.v1.Map::getId).toList());
    }

    /** Every map failure path: bad shapes, wrong sizes, NOEXIST on a present key, a full map, gone maps. */
    private static void exerciseMaps(BpfClient c) {
        var type = dev.bpfagent.proto.v1.MapType.MAP_TYPE_HASH;
        assertThrows(BpfAgentException.InvalidArgument.class,
                () -> c.createMap(dev.bpfagent.proto.v1.MapType.MAP_TYPE_RINGBUF, 0, 0, 5000, "x"));
        assertThrows(BpfAgentException.InvalidArgument.class, () -> c.createMap(type, 4, 8, 0, "x"));
        dev.bpfagent.client.MapHandle m = c.createMap(type, 4, 8, 2, NAME.substring(0, 12));
        int id = m.id();
        m.put(dev.bpfagent.client.MapCodec.u32(1), dev.bpfagent.client.MapCodec.u64(1));
        assertThrows(BpfAgentException.InvalidArgument.class,
                () -> m.put(dev.bpfagent.client.MapCodec.u32(1), new byte[3]));
        assertThrows(BpfAgentException.AlreadyExists.class, () -> m.update(dev.bpfagent.client.MapCodec.u32(1),
                dev.bpfagent.client.MapCodec.u64(2), dev.bpfagent.proto.v1.UpdateMode.UPDATE_MODE_NOEXIST));
        m.put(dev.bpfagent.client.MapCodec.u32(2), dev.bpfagent.client.MapCodec.u64(2));
        assertThrows(BpfAgentException.class,
                () -> m.put(dev.bpfagent.client.MapCodec.u32(3), dev.bpfagent.client.MapCodec.u64(3)), "full");
        // a program naming a map index it does not give, and one whose verifier rejects it while naming the map
        assertThrows(BpfAgentException.InvalidArgument.class, () -> c.load(LoadOptions.builder(
                ProgramType.PROGRAM_TYPE_XDP, MapsOverAgentTest.perCpuCounter()).build()));
        try (dev.bpfagent.client.MapHandle narrow = c.createMap(type, 4, 4, 2, "narrow")) {
            // the program adds a u64 into the value: 8 bytes into a 4-byte value, which the verifier refuses
            assertThrows(BpfAgentException.VerifierRejected.class, () -> c.load(LoadOptions.builder(
                    ProgramType.PROGRAM_TYPE_XDP, MapsOverAgentTest.perCpuCounter()).map(narrow.id()).build()));
        }
        m.close();
        assertThrows(BpfAgentException.NotFound.class, () -> m.lookup(dev.bpfagent.client.MapCodec.u32(1)));
        assertThrows(BpfAgentException.NotFound.class, () -> c.map(Integer.MAX_VALUE - 9));
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
