package dev.bpfagent.client;

import dev.bpfagent.proto.v1.CloseCollectionRequest;
import dev.bpfagent.proto.v1.Collection;
import dev.bpfagent.proto.v1.ObjectKind;
import dev.bpfagent.proto.v1.ObjectRef;
import java.util.Map;
import java.util.Optional;

/**
 * A loaded ELF object held by the agent: its maps and programs by name. Closing it closes the
 * collection, its programs (detaching their links) and its maps, except what something else holds.
 */
public final class CollectionHandle extends AgentHandle {
    private final BpfClient client;
    private final Collection collection;
    private final Map<String, String> verifierLogs;

    CollectionHandle(BpfClient client, Collection collection, Map<String, String> verifierLogs) {
        this.client = client;
        this.collection = collection;
        this.verifierLogs = Map.copyOf(verifierLogs);
    }

    /** A live subscription to the records of this collection's ring buffer or perf event array mapName. */
    public EventStream subscribe(String mapName) {
        return client.subscribe(SubscribeOptions.collectionMap(id(), mapName));
    }

    public int id() {
        return collection.getId();
    }

    public Collection collection() {
        return collection;
    }

    /** Verifier logs by program name (when loaded with a log level). */
    public Map<String, String> verifierLogs() {
        return verifierLogs;
    }

    /** The program of this name (its function's name in the object). */
    public Optional<ProgramHandle> program(String name) {
        return collection.getProgramsList().stream().filter(p -> p.getName().equals(name)).findFirst()
                .map(p -> client.programHandle(p.getProgramId()));
    }

    /** The map of this name ("by_len", or a data section's "obj.rodata"). */
    public Optional<MapHandle> map(String name) {
        return collection.getMapsList().stream().filter(m -> m.getName().equals(name)).findFirst()
                .map(m -> client.mapHandle(m.getMapId()));
    }

    /** Closes the collection, then its programs and maps unless something else needs them. */
    @Override
    void closeInAgent() {
        client.closeCollection(CloseCollectionRequest.newBuilder().setCollection(ObjectRef.newBuilder()
                .setKind(ObjectKind.OBJECT_KIND_COLLECTION).setId(collection.getId())).build());
    }
}
