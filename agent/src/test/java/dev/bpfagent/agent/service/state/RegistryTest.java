package dev.bpfagent.agent.service.state;

import static org.junit.jupiter.api.Assertions.*;

import dev.bpfagent.agent.bpf.BpfObject;
import dev.bpfagent.agent.bpf.ObjectKind;
import dev.bpfagent.agent.service.auth.Caller;
import dev.bpfagent.agent.service.errors.RequestException;
import io.grpc.Status;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The registry's rules without a kernel: dependencies, close order, pages, pins against close. */
class RegistryTest {
    /** Stands in for a kernel object: an id, and whether it was closed (exactly once). */
    static final class Fake implements BpfObject {
        final int id;
        int closes;

        Fake(int id) {
            this.id = id;
        }

        @Override public int id() { return id; }
        @Override public ObjectKind kind() { return ObjectKind.PROGRAM; }
        @Override public void pin(String path) { }
        @Override public boolean isClosed() { return closes > 0; }
        @Override public void close() { closes++; }
    }

    final Registry r = new Registry();

    Registry.Entry add(int id, Registry.Key... deps) {
        return r.add(Registry.Kind.PROGRAM, new Fake(id), Caller.UNKNOWN, Map.of("n", "" + id), Set.of(deps));
    }

    static Registry.Key prog(int id) {
        return new Registry.Key(Registry.Kind.PROGRAM, id);
    }

    @Test
    void closingWhatOthersDependOnIsRefusedNamingThem() {
        add(1);
        add(2, prog(1));
        add(3, prog(2));
        RequestException e = assertThrows(RequestException.class, () -> r.beginClose(prog(1), false));
        assertEquals(Status.Code.FAILED_PRECONDITION, e.code());
        assertEquals("HAS_DEPENDENTS", e.reason());
        assertTrue(e.getMessage().contains("program 2 depends on it"), e.getMessage());
        assertEquals("program 2", e.metadata().get("dependents"));
        // refused: nothing was marked, everything is still held and closable in order
        assertEquals(3, r.size(Registry.Kind.PROGRAM));
        List<Registry.Entry> leaf = r.beginClose(prog(3), false);
        assertEquals(List.of(prog(3)), leaf.stream().map(Registry.Entry::key).toList());
        r.abortClose(leaf);
    }

    @Test
    void cascadeClosesDependentsFirst() {
        add(1);
        add(2, prog(1));
        add(3, prog(2));
        add(4, prog(1));
        List<Registry.Key> order = r.beginClose(prog(1), true).stream().map(Registry.Entry::key).toList();
        assertEquals(prog(1), order.get(order.size() - 1));
        assertTrue(order.indexOf(prog(3)) < order.indexOf(prog(2)), order.toString());
        assertEquals(Set.of(prog(1), prog(2), prog(3), prog(4)), Set.copyOf(order));
    }

    @Test
    void aSecondCloseOfTheSameObjectIsNotHeld() {
        add(1);
        List<Registry.Entry> first = r.beginClose(prog(1), false);
        RequestException e = assertThrows(RequestException.class, () -> r.beginClose(prog(1), false));
        assertEquals(Status.Code.NOT_FOUND, e.code());
        assertEquals("PROGRAM_NOT_HELD", e.reason());
        first.forEach(r::remove);
        assertNull(r.find(prog(1)));
    }

    @Test
    void aPinAfterACloseStartedIsRefusedAndNotRecorded() {
        Registry.Entry e = add(1);
        r.beginClose(prog(1), false);
        boolean[] pinned = {false};
        assertThrows(RequestException.class, () -> e.pinWhileOpen(Path.of("/x"), () -> pinned[0] = true));
        assertFalse(pinned[0], "the kernel pin was not even tried");
        assertEquals(List.of(), e.pins());
    }

    @Test
    void addingADependentOfAnObjectBeingClosedFails() {
        add(1);
        r.beginClose(prog(1), false);
        Fake f = new Fake(2);
        RequestException e = assertThrows(RequestException.class,
                () -> r.add(Registry.Kind.PROGRAM, f, Caller.UNKNOWN, Map.of(), Set.of(prog(1))));
        assertEquals("DEPENDENCY_CLOSED", e.reason());
        assertEquals(1, f.closes, "the new object was closed, not leaked");
    }

    @Test
    void addingTheSameObjectTwiceKeepsOneEntryAndClosesTheSecondFd() {
        Registry.Entry a = add(7);
        Fake again = new Fake(7);
        assertSame(a, r.add(Registry.Kind.PROGRAM, again, Caller.UNKNOWN, Map.of(), Set.of()));
        assertEquals(1, again.closes);
    }

    @Test
    void pagesFollowIdsIncludingUnsignedOnes() {
        for (int id : new int[] {5, 1, 9, -2, 3}) {
            add(id);
        }
        assertEquals(List.of(1, 3), ids(r.page(Registry.Kind.PROGRAM, 0, 2, e -> true)));
        assertEquals(List.of(5, 9), ids(r.page(Registry.Kind.PROGRAM, 3, 2, e -> true)));
        assertEquals(List.of(-2), ids(r.page(Registry.Kind.PROGRAM, 9, 2, e -> true)));
        assertEquals(List.of(), ids(r.page(Registry.Kind.PROGRAM, -2, 2, e -> true)));
        assertEquals(List.of(9), ids(r.page(Registry.Kind.PROGRAM, 0, 5, e -> e.labels().get("n").equals("9"))));
        assertEquals(5, r.size(Registry.Kind.PROGRAM));
        assertEquals(0, r.size(Registry.Kind.MAP));
    }

    static List<Integer> ids(List<Registry.Entry> es) {
        return es.stream().map(e -> e.key().id()).toList();
    }

    @Test
    void closeAllClosesEachOnce() {
        Registry.Entry a = add(1);
        Registry.Entry b = add(2, prog(1));
        r.closeAll();
        assertEquals(1, ((Fake) a.object()).closes);
        assertEquals(1, ((Fake) b.object()).closes);
        assertEquals(0, r.size(Registry.Kind.PROGRAM));
    }
}
