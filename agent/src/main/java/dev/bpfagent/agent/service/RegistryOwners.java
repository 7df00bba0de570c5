package dev.bpfagent.agent.service;

import dev.bpfagent.agent.service.auth.Caller;
import dev.bpfagent.agent.service.auth.OwnerLookup;
import dev.bpfagent.agent.service.state.PinPaths;
import dev.bpfagent.agent.service.state.Registry;
import dev.bpfagent.proto.v1.ObjectRef;
import java.util.Optional;

/** The policy's view of the registry: owners of held objects, by ref or pin, and counts per owner. */
final class RegistryOwners implements OwnerLookup {
    private final Registry registry;
    private final PinPaths pins;

    RegistryOwners(Registry registry, PinPaths pins) {
        this.registry = registry;
        this.pins = pins;
    }

    @Override
    public Optional<Caller> ownerOf(ObjectRef ref, String kindHint) {
        return entry(ref, kindHint).map(Registry.Entry::owner);
    }

    @Override
    public boolean referencedBy(ObjectRef ref, String kindHint, Caller caller) {
        return entry(ref, kindHint).map(e -> e.referencedBy(caller)).orElse(false);
    }

    private Optional<Registry.Entry> entry(ObjectRef ref, String kindHint) {
        if (ref.getRefCase() == ObjectRef.RefCase.PATH) {
            try {
                return Optional.ofNullable(registry.byPin(pins.any(ref.getPath(), "path")));
            } catch (RuntimeException badPath) {
                return Optional.empty(); // the call itself refuses the path, naming the field
            }
        }
        if (ref.getRefCase() != ObjectRef.RefCase.ID) {
            return Optional.empty();
        }
        for (Registry.Kind k : Registry.Kind.values()) {
            if (kindHint.isEmpty() || kindHint.equals("OBJECT_KIND_" + k.name())) {
                Registry.Entry e = registry.find(new Registry.Key(k, ref.getId()));
                if (e != null) {
                    return Optional.of(e);
                }
            }
        }
        return Optional.empty();
    }

    @Override
    public Optional<Caller> ownerOfPin(String path) {
        return entry(ObjectRef.newBuilder().setPath(path).build(), "").map(Registry.Entry::owner);
    }

    @Override
    public int heldBy(Caller caller) {
        return (int) registry.all().stream().filter(e -> e.owner().sameIdentity(caller)).count();
    }
}
