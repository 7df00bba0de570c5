package dev.bpfagent.it;

import static org.junit.jupiter.api.Assertions.*;

import dev.bpfagent.agent.bpf.KernelObjects;
import dev.bpfagent.client.BpfAgentException;
import dev.bpfagent.client.CollectionHandle;
import dev.bpfagent.client.MapCodec;
import dev.bpfagent.client.MapHandle;
import dev.bpfagent.client.TailCallChain;
import dev.bpfagent.client.TestPackets;
import dev.bpfagent.client.TestRunOptions;
import dev.bpfagent.proto.v1.*;
import io.grpc.Status;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * Maps shared between a caller and the objects it loads (pinned by name under pin_dir): a collection
 * borrows what it found held and never closes, unpins or drops it, on its close or on a failed load;
 * maps a collection made that something else still uses are closed with the last user, whichever of
 * the two is closed first. shared.o's counts and jmp_table are pinned by name; own_hits is its own.
 */
class SharedMapsTest extends OneAgentPerClass {
    static LoadObjectRequest.Builder shared(String pinDir) throws Exception {
        return LoadObjectRequest.newBuilder().setObject(ObjectSource.newBuilder().setElf(
                com.google.protobuf.ByteString.copyFrom(ObjectsOverAgentTest.object("shared"))).setName("shared.o"))
                .setPinDir(pinDir).addPrograms("shared_xdp");
    }

    static Set<Integer> heldMaps() {
        Set<Integer> ids = new HashSet<>();
        c.listMaps(ListMapsRequest.newBuilder().setPageSize(1000).build()).getMapsList().forEach(m -> ids.add(m.getId()));
        return ids;
    }

    static int run(CollectionHandle h) {
        return h.program("shared_xdp").orElseThrow().testRun(TestRunOptions.ofData(TestPackets.udp().build())).retval();
    }

    static boolean borrowed(CollectionHandle h, String map) {
        return h.collection().getMapsList().stream().anyMatch(m -> m.getName().equals(map) && m.getBorrowed());
    }

    @Test
    void closingACollectionNeverClosesOrUnpinsTheCallersMap() throws Exception {
        try (MapHandle counts = c.createMap(MapType.MAP_TYPE_HASH, 4, 8, 16, "counts")) {
            Path pin = Path.of(counts.pin("borrow1/counts"));
            counts.put(MapCodec.u32(0), MapCodec.u64(40));
            CloseCollectionResponse closed;
            {
                CollectionHandle h = c.loadObject(shared("borrow1").build());
                assertEquals(counts.id(), h.map("counts").orElseThrow().id(), "the load reused the caller's map");
                assertTrue(borrowed(h, "counts"), h.collection().toString());
                assertFalse(borrowed(h, "own_hits"));
                assertEquals(2, run(h), "XDP_PASS: the empty jmp_table slot falls through");
                // the caller's map is in use: its own close is refused while the program needs it
                var refused = assertThrows(BpfAgentException.class, counts::close);
                assertEquals("HAS_DEPENDENTS", refused.reason(), refused.getMessage());
                closed = c.closeCollection(CloseCollectionRequest.newBuilder().setCollection(ObjectRef.newBuilder()
                        .setKind(ObjectKind.OBJECT_KIND_COLLECTION).setId(h.id())).build());
            }
            assertTrue(closed.getClosedList().stream().noneMatch(r -> r.getKind() == ObjectKind.OBJECT_KIND_MAP
                    && r.getId() == counts.id()), "the borrowed map is not among what was closed: " + closed);
            assertTrue(Files.exists(pin), "the caller's pin stays");
            assertTrue(c.map(counts.id()).getAgent().getHeld(), "and the agent still holds the caller's map");
            assertEquals(41, MapCodec.asU64(counts.lookup(MapCodec.u32(0)).orElseThrow()), "with its contents");
            // the jmp_table the load made itself and pinned by name outlives the collection, as with libbpf
            Path jmp = pin.resolveSibling("jmp_table");
            assertTrue(Files.exists(jmp));
            c.unpin(jmp.toString());
        }
        assertEquals(Set.of(), heldMaps());
        assertEquals(0, c.agentInfo().getUnheld());
    }

    @Test
    void aFailedLoadLeavesTheMapItBorrowedAsItWas() throws Exception {
        Set<Integer> progsBefore = new HashSet<>(KernelObjects.programIds());
        try (MapHandle counts = c.createMap(MapType.MAP_TYPE_HASH, 4, 8, 16, "counts")) {
            Path pin = Path.of(counts.pin("borrow2/counts"));
            counts.put(MapCodec.u32(0), MapCodec.u64(7));
            var e = assertThrows(BpfAgentException.NotFound.class, () -> c.loadObject(shared("borrow2")
                    .clearPrograms().addPrograms("bad_tp").setAttach(true).build()));
            assertEquals("hook.tracepoint.category", e.field(), e.getMessage());
            var held = c.map(counts.id());
            assertTrue(held.getAgent().getHeld(), "the caller's map is still held: " + held);
            assertEquals(List.of(pin.toString()), held.getAgent().getPinnedPathsList());
            assertEquals(7, MapCodec.asU64(counts.lookup(MapCodec.u32(0)).orElseThrow()), "contents unchanged");
            assertEquals(Set.of(counts.id()), heldMaps(), "nothing the failed load made is held");
            // the load pinned its new jmp_table by name before it failed, and took that pin back (as libbpf)
            assertFalse(Files.exists(pin.resolveSibling("jmp_table")), "the failed load's own pin is gone");
        }
        assertEquals(Set.of(), heldMaps());
        assertTrue(Kernel.eventually(() -> progsBefore.containsAll(KernelObjects.programIds())), "programs left");
    }

    /** A chain's prog array is the object's jmp_table; a collection program is put in the chain. */
    void chainAndCollection(boolean collectionFirst) throws Exception {
        String dir = "borrow3" + (collectionFirst ? "a" : "b");
        Set<Integer> mapsBefore = new HashSet<>(KernelObjects.mapIds());
        TailCallChain chain = c.createChain("shared_chain", 4);
        String pin = c.pin(ObjectRef.newBuilder().setKind(ObjectKind.OBJECT_KIND_MAP).setId(chain.progArrayId()).build(),
                dir + "/jmp_table").getPath();
        CollectionHandle h = c.loadObject(shared(dir).build());
        assertEquals(chain.progArrayId(), h.map("jmp_table").orElseThrow().id(), "the chain's prog array, reused");
        assertTrue(borrowed(h, "jmp_table"));
        int prog = h.program("shared_xdp").orElseThrow().id();
        chain.set(0, prog);
        if (collectionFirst) {
            h.close();
            assertTrue(c.programExists(prog), "the chain still runs the collection's program");
            chain.close();
        } else {
            chain.close();
            h.close();
        }
        assertEquals(0, c.agentInfo().getUnheld());
        Path counts = Path.of(pin).resolveSibling("counts");
        if (Files.exists(counts)) {
            c.unpin(counts.toString()); // the object's own pin-by-name counter outlives it, as with libbpf
        }
        assertEquals(Set.of(), heldMaps(), "nothing held that nobody can name ("
                + (collectionFirst ? "collection" : "chain") + " closed first)");
        assertEquals(0, c.agentInfo().getProgramsHeld());
        assertTrue(Kernel.eventually(() -> mapsBefore.containsAll(KernelObjects.mapIds())), "maps left in the kernel");
    }

    @Test
    void closingACollectionAndAChainInEitherOrderLeavesNothingHeld() throws Exception {
        chainAndCollection(true);
        chainAndCollection(false);
    }
}
