package dev.bpfagent.it;

import static org.junit.jupiter.api.Assertions.*;

import dev.bpfagent.client.CollectionHandle;
import dev.bpfagent.client.Hooks;
import dev.bpfagent.client.LinkHandle;
import dev.bpfagent.client.LoadOptions;
import dev.bpfagent.client.MapHandle;
import dev.bpfagent.client.ProgramHandle;
import dev.bpfagent.client.TailCallChain;
import dev.bpfagent.proto.v1.*;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Every kind of handle closes the same way: once; a second close does nothing; a close of an object
 * someone else closed already (by id, through another call) counts as done, and the handle says closed.
 */
class HandlesTest extends OneAgentPerClass {
    static ProgramHandle tracepointProgram() {
        return c.load(LoadOptions.builder(ProgramType.PROGRAM_TYPE_TRACEPOINT, Asm.returnImm(0)).name("handles")
                .build());
    }

    @Test
    void everyHandleClosesOnceAndToleratesAnObjectClosedElsewhere() throws Exception {
        // closed through the handle, twice
        ProgramHandle p = tracepointProgram();
        MapHandle m = c.createMap(MapType.MAP_TYPE_ARRAY, 4, 8, 1, "handles");
        LinkHandle l = p.attach(Hooks.tracepoint("syscalls", "sys_enter_getppid"));
        TailCallChain chain = c.createChain("handles", 2);
        CollectionHandle col = c.loadObject(ObjectsOverAgentTest.object("globals"), "globals.o");
        List<AutoCloseable> all = List.of(l, col, chain, m, p);
        for (AutoCloseable h : all) {
            h.close();
            h.close();
        }
        assertTrue(p.isClosed() && m.isClosed() && l.isClosed() && chain.isClosed() && col.isClosed());
        assertEquals(0, c.agentInfo().getProgramsHeld());

        // closed elsewhere first: each handle's close finds it gone and is done
        ProgramHandle p2 = tracepointProgram();
        MapHandle m2 = c.createMap(MapType.MAP_TYPE_ARRAY, 4, 8, 1, "handles2");
        LinkHandle l2 = p2.attach(Hooks.tracepoint("syscalls", "sys_enter_getppid"));
        TailCallChain chain2 = c.createChain("handles2", 2);
        CollectionHandle col2 = c.loadObject(ObjectsOverAgentTest.object("globals"), "globals.o");
        c.detach(l2.id());
        c.closeCollection(CloseCollectionRequest.newBuilder().setCollection(ObjectRef.newBuilder()
                .setKind(ObjectKind.OBJECT_KIND_COLLECTION).setId(col2.id())).build());
        c.closeChain(CloseChainRequest.newBuilder().setChain(ObjectRef.newBuilder()
                .setKind(ObjectKind.OBJECT_KIND_CHAIN).setId(chain2.id())).build());
        c.closeMap(CloseMapRequest.newBuilder().setMap(ObjectRef.newBuilder().setKind(ObjectKind.OBJECT_KIND_MAP)
                .setId(m2.id())).build());
        c.closeProgram(p2.id(), false);
        for (AutoCloseable h : List.of(l2, col2, chain2, m2, p2)) {
            assertDoesNotThrow(h::close, h.toString());
        }
        assertTrue(p2.isClosed() && m2.isClosed() && l2.isClosed() && chain2.isClosed() && col2.isClosed());
        assertEquals(0, c.agentInfo().getProgramsHeld());
        assertEquals(0, c.listMaps(ListMapsRequest.getDefaultInstance()).getMapsCount());
    }
}
