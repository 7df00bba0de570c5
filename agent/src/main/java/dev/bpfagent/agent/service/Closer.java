package dev.bpfagent.agent.service;

import dev.bpfagent.agent.service.state.PinPaths;
import dev.bpfagent.agent.service.state.Registry;
import dev.bpfagent.proto.v1.ObjectRef;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Closing a held object of any kind, with its dependents when cascading, in one way for every resource. */
final class Closer {
    private Closer() {
    }

    /** What a close did: pins removed, objects closed (dependents first). */
    record Closed(List<String> unpinned, List<ObjectRef> closed) {
    }

    /**
     * Pins first, every entry still held: a pin that cannot be removed fails the close with nothing
     * closed, and the close can be retried. Then the objects, dependents first.
     */
    static Closed close(Registry registry, PinPaths pins, Registry.Entry target, boolean cascade, boolean keepPins,
                        String field) {
        // a caller holding a reference (GetPinned of another's object) releases it; the object stays its owner's
        if (target.removeReference(dev.bpfagent.agent.service.auth.Caller.current())) {
            return new Closed(List.of(), List.of());
        }
        List<Registry.Entry> order = registry.beginClose(target.key(), cascade);
        List<String> unpinned = new ArrayList<>();
        if (!keepPins) {
            try {
                for (Registry.Entry e : order) {
                    for (Path pin : e.pins()) {
                        if (pins.remove(pin, field)) {
                            unpinned.add(pin.toString());
                        }
                        e.forgetPin(pin);
                    }
                }
            } catch (RuntimeException ex) {
                registry.abortClose(order);
                throw ex;
            }
        }
        List<ObjectRef> closed = new ArrayList<>();
        java.util.Set<Registry.Key> used = new java.util.LinkedHashSet<>();
        for (Registry.Entry e : order) {
            registry.remove(e);
            e.object().close();
            closed.add(ProtoConvert.ref(e.key()));
            used.addAll(e.dependsOn());
        }
        // what these used and nobody holds any more (a closed collection's map its program kept) goes too
        for (Registry.Key k : used) {
            Registry.Entry u = registry.find(k);
            if (u != null && u.released() && registry.dependents(k).isEmpty()) {
                try {
                    Closed more = close(registry, pins, u, false, keepPins, field);
                    unpinned.addAll(more.unpinned());
                    closed.addAll(more.closed());
                } catch (RuntimeException raced) {
                    // another call closes it, or came to depend on it: it is not unheld then
                }
            }
        }
        return new Closed(unpinned, closed);
    }
}
