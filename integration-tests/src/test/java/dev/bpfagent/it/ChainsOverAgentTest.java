package dev.bpfagent.it;

import static org.junit.jupiter.api.Assertions.*;

import dev.bpfagent.client.BpfAgentException;
import dev.bpfagent.client.BpfClient;
import dev.bpfagent.client.LoadOptions;
import dev.bpfagent.client.ProgramHandle;
import dev.bpfagent.client.TailCallChain;
import dev.bpfagent.client.TestPackets;
import dev.bpfagent.proto.v1.*;
import io.grpc.Status;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/**
 * Tail-call chains as a resource (the seed's create-tail-call-chain, register/unregister-tail-call,
 * get-tail-call-program, tail-call-chain-size, close-tail-call-chain), proven by the kernel running
 * the chain: the seed's own register-tail-call fails, ours is shown working here.
 */
class ChainsOverAgentTest extends OneAgentPerClass {
    static ProgramHandle caller(TailCallChain chain, int index, int fallback) {
        return c.load(LoadOptions.builder(ProgramType.PROGRAM_TYPE_XDP, MapsOverAgentTest.tailCaller(index, fallback))
                .map(chain.progArrayId()).build());
    }

    static ProgramHandle returning(int value) {
        return c.load(LoadOptions.builder(ProgramType.PROGRAM_TYPE_XDP, Asm.returnImm(value)).build());
    }

    @Test
    void aChainRunsChangesAndClosesWithEverythingItHeld() throws Exception {
        byte[] packet = TestPackets.udp().build();
        TailCallChain chain = c.createChain("seed_chain", 8);
        ProgramHandle entry = caller(chain, 1, 100);
        ProgramHandle middle = caller(chain, 2, 101);
        ProgramHandle last = returning(42);
        ProgramHandle other = returning(7);
        chain.set(0, entry.id()).set(1, middle.id()).set(2, last.id());
        assertEquals(3, chain.size());
        assertEquals(Optional.of(middle.id()), chain.programAt(1));
        assertEquals(Optional.empty(), chain.programAt(5));
        assertEquals(42, entry.testRun(packet).retval(), "index 0 -> 1 -> 2");

        chain.clear(2);
        assertEquals(101, entry.testRun(packet).retval(), "2 unregistered: 1 falls through");
        chain.set(2, other.id());
        assertEquals(7, entry.testRun(packet).retval(), "2 replaced, nothing reloaded");

        // a member program cannot be closed from under the chain
        BpfAgentException refused = assertThrows(BpfAgentException.class, () -> c.closeProgram(middle.id(), false));
        assertEquals("HAS_DEPENDENTS", refused.reason());
        assertTrue(refused.getMessage().contains("chain " + chain.id()), refused.getMessage());
        // nor its prog array while programs name it
        assertThrows(BpfAgentException.class, () -> c.closeMap(CloseMapRequest.newBuilder()
                .setMap(ObjectRef.newBuilder().setKind(ObjectKind.OBJECT_KIND_MAP).setId(chain.progArrayId())).build()));

        assertTrue(c.listChains(ListChainsRequest.getDefaultInstance()).getChainsList().stream()
                .anyMatch(ch -> ch.getId() == chain.id() && ch.getSlotsCount() == 3));
        int arrayId = chain.progArrayId();
        CloseChainResponse closed = chain.close(false);
        // the chain first, then its programs (entry, middle, other) and its prog array; `last` was
        // unregistered, so the chain no longer held it and it stays
        assertEquals(ObjectKind.OBJECT_KIND_CHAIN, closed.getClosed(0).getKind());
        List<Integer> programs = closed.getClosedList().stream()
                .filter(r -> r.getKind() == ObjectKind.OBJECT_KIND_PROGRAM).map(ObjectRef::getId).sorted().toList();
        assertEquals(List.of(entry.id(), middle.id(), other.id()).stream().sorted().toList(), programs);
        assertTrue(closed.getClosedList().stream().anyMatch(r -> r.getKind() == ObjectKind.OBJECT_KIND_MAP
                && r.getId() == arrayId), closed.toString());
        // a prog array drops its programs from deferred work (prog_array_map_clear_deferred): wait for it
        for (int id : programs) {
            assertTrue(Kernel.eventually(() -> !c.programExists(id)), "program " + id + " is gone from the kernel");
        }
        assertTrue(c.programExists(last.id()));
        last.close();
        assertEquals(0, c.listChains(ListChainsRequest.getDefaultInstance()).getChainsCount());
        assertEquals(0, c.agentInfo().getProgramsHeld());
        assertEquals(0, c.agentInfo().getMapsHeld());
    }

    @Test
    void chainsMadeWithEntriesAndBadEntries() throws InterruptedException {
        ProgramHandle p = returning(3);
        try (TailCallChain chain = c.createChain(CreateChainRequest.newBuilder().setName("made").setMaxEntries(4)
                .addEntries(ChainEntry.newBuilder().setIndex(3).setProgram(ObjectRef.newBuilder().setId(p.id())))
                .build())) {
            assertEquals(Optional.of(p.id()), chain.programAt(3));
            var out = assertThrows(BpfAgentException.InvalidArgument.class, () -> chain.set(4, p.id()));
            assertEquals("index", out.field());
            var notHeld = assertThrows(BpfAgentException.NotFound.class, () -> chain.set(1, Integer.MAX_VALUE - 4));
            assertEquals("PROGRAM_NOT_HELD", notHeld.reason());
            // a chain has no kernel object to pin: the refusal says what to pin instead
            var noPin = assertThrows(BpfAgentException.InvalidArgument.class, () -> c.pin(ObjectRef.newBuilder()
                    .setKind(ObjectKind.OBJECT_KIND_CHAIN).setId(chain.id()).build(), "chain_made"));
            assertEquals("object.kind", noPin.field());
            assertTrue(noPin.getMessage().contains("prog_array_id"), noPin.getMessage());
        }
        assertTrue(Kernel.eventually(() -> !c.programExists(p.id())), "closed with the chain (its prog array lets go from deferred work)");
        // nothing is half-made: a bad entry leaves no chain and no prog array
        long maps = c.agentInfo().getMapsHeld();
        var bad = assertThrows(BpfAgentException.class, () -> c.createChain(CreateChainRequest.newBuilder()
                .addEntries(ChainEntry.newBuilder().setIndex(0).setProgram(ObjectRef.newBuilder().setId(Integer.MAX_VALUE - 4)))
                .build()));
        assertEquals(Status.Code.NOT_FOUND, bad.code());
        var twice = assertThrows(BpfAgentException.InvalidArgument.class, () -> c.createChain(CreateChainRequest
                .newBuilder().setMaxEntries(70_000).build()));
        assertEquals("max_entries", twice.field());
        assertEquals(maps, c.agentInfo().getMapsHeld());
        assertEquals(0, c.listChains(ListChainsRequest.getDefaultInstance()).getChainsCount());
    }
}
