package dev.bpfagent.it;

import static org.junit.jupiter.api.Assertions.*;

import dev.bpfagent.agent.bpf.KernelObjects;
import dev.bpfagent.client.BpfClient;
import dev.bpfagent.client.Hooks;
import dev.bpfagent.client.LinkHandle;
import dev.bpfagent.client.LoadOptions;
import dev.bpfagent.client.MapHandle;
import dev.bpfagent.client.ProgramHandle;
import dev.bpfagent.proto.v1.MapType;
import dev.bpfagent.proto.v1.ProgramType;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * Leases: what a call made with a lease is closed when its connection ends — by a client that closes,
 * or one whose process dies — with its links and pins; what was made without one stays.
 */
class LeaseTest extends OneAgentPerClass {
    @Test
    void aLeasedProgramMapLinkAndPinGoWithTheirConnection() throws Exception {
        int leasedProgram, leasedMap, link;
        String pin;
        try (ProgramHandle kept = c.load(LoadOptions.builder(ProgramType.PROGRAM_TYPE_XDP, Asm.returnImm(2))
                .name("kept").build())) {
            try (BpfClient tool = BpfClient.connect(agent.unixTarget())) {
                BpfClient leased = tool.withLease();
                ProgramHandle p = leased.load(LoadOptions.builder(ProgramType.PROGRAM_TYPE_XDP, Asm.returnImm(2))
                        .name("leased").build());
                MapHandle m = leased.createMap(MapType.MAP_TYPE_ARRAY, 4, 8, 4, "leased");
                LinkHandle l = leased.attach(p.id(), Hooks.xdp("lo"));
                pin = p.pin("lease-test/p");
                leasedProgram = p.id();
                leasedMap = m.id();
                link = l.id();
                assertTrue(c.program(leasedProgram, false).getAgent().getLeased(), "the agent shows the lease");
                assertFalse(c.program(kept.id(), false).getAgent().getLeased());
                assertTrue(Files.exists(Path.of(pin)));
            } // the tool's connection ends here, nothing closed by hand
            assertTrue(Kernel.eventually(() -> !KernelObjects.programIds().contains(leasedProgram)),
                    "the leased program is gone from the kernel");
            assertTrue(Kernel.eventually(() -> !KernelObjects.mapIds().contains(leasedMap)), "and its map");
            assertTrue(Kernel.eventually(() -> !KernelObjects.linkIds().contains(link)), "and its XDP link");
            assertFalse(Files.exists(Path.of(pin)), "and its pin");
            assertTrue(c.programExists(kept.id()), "what was made without a lease stays");
        }
    }

    @Test
    void aClientProcessThatDiesLeavesNothingBehind() throws Exception {
        var before = KernelObjects.programIds();
        // a JVM that loads with a lease and is killed before it closes anything
        Process p = new ProcessBuilder(System.getProperty("bpfagent.java", "java"), "--enable-native-access=ALL-UNNAMED",
                "--sun-misc-unsafe-memory-access=allow", "-cp", System.getProperty("java.class.path"),
                LeasedClientMain.class.getName(), agent.unixTarget()).redirectErrorStream(true).start();
        var out = new java.io.BufferedReader(new java.io.InputStreamReader(p.getInputStream()));
        String line = out.readLine();
        assertNotNull(line, "the client printed its program's id");
        int id = Integer.parseInt(line.replace("loaded ", "").trim());
        assertTrue(KernelObjects.programIds().contains(id));
        p.destroyForcibly().waitFor();
        assertTrue(Kernel.eventually(() -> !KernelObjects.programIds().contains(id)),
                "the dead client's leased program was closed");
        assertTrue(Kernel.eventually(() -> before.containsAll(KernelObjects.programIds())));
    }
}
