package dev.bpfagent.agent.service.state;

import dev.bpfagent.agent.bpf.BpfObject;
import dev.bpfagent.agent.bpf.ObjectKind;
import java.util.Map;
import java.util.NavigableMap;
import java.util.concurrent.ConcurrentSkipListMap;

/**
 * A tail-call chain: the agent's own object, a prog array (held in the registry as a map) and the
 * programs at its indices. It holds no fd itself: closing it closes nothing in the kernel; the chain's
 * handler closes its programs and prog array as the close asks.
 *
 * <p>Concurrency: slots is a concurrent map; a slot changes only after the kernel's prog array did.
 */
public final class Chain implements BpfObject {
    private final int id;
    private final String name;
    private final Registry.Key progArray;
    private final int maxEntries;
    private final NavigableMap<Integer, Integer> slots = new ConcurrentSkipListMap<>();
    private volatile boolean closed;

    public Chain(int id, String name, Registry.Key progArray, int maxEntries) {
        this.id = id;
        this.name = name;
        this.progArray = progArray;
        this.maxEntries = maxEntries;
    }

    @Override
    public int id() {
        return id;
    }

    public String name() {
        return name;
    }

    public Registry.Key progArray() {
        return progArray;
    }

    public int maxEntries() {
        return maxEntries;
    }

    /** index to program id, ascending. */
    public Map<Integer, Integer> slots() {
        return Map.copyOf(slots);
    }

    public NavigableMap<Integer, Integer> slotsView() {
        return slots;
    }

    @Override
    public ObjectKind kind() {
        return ObjectKind.CHAIN;
    }

    /** A chain is not a kernel object: pin its prog array instead. */
    @Override
    public void pin(String path) {
        throw new UnsupportedOperationException("a chain is the agent's, not the kernel's: pin its prog array");
    }

    @Override
    public boolean isClosed() {
        return closed;
    }

    @Override
    public void close() {
        closed = true;
    }
}
