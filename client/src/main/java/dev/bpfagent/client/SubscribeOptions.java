package dev.bpfagent.client;

import dev.bpfagent.proto.v1.CollectionMapRef;
import dev.bpfagent.proto.v1.ObjectKind;
import dev.bpfagent.proto.v1.ObjectRef;
import dev.bpfagent.proto.v1.SubscribeEventsRequest;
import java.util.Objects;

/**
 * Which ring buffer or perf event array to subscribe to, and the subscription's limits: a thin builder
 * over the proto's {@link SubscribeEventsRequest}. Unset limits take the agent's defaults (see the proto).
 */
public final class SubscribeOptions {
    private final SubscribeEventsRequest.Builder request;

    private SubscribeOptions(SubscribeEventsRequest.Builder request) {
        this.request = request;
    }

    /** New options ask for packed batches (the client unpacks them; see EventBatch in the proto). */
    private static SubscribeOptions packedByDefault(SubscribeEventsRequest.Builder request) {
        return new SubscribeOptions(request.setPacked(true));
    }

    /** A map the agent holds, by id. */
    public static SubscribeOptions map(int mapId) {
        return packedByDefault(SubscribeEventsRequest.newBuilder().setMap(
                ObjectRef.newBuilder().setKind(ObjectKind.OBJECT_KIND_MAP).setId(mapId)));
    }

    public static SubscribeOptions map(MapHandle map) {
        return map(map.id());
    }

    /** A map of a loaded collection, by its name in the object. */
    public static SubscribeOptions collectionMap(int collectionId, String name) {
        return packedByDefault(SubscribeEventsRequest.newBuilder().setCollectionMap(CollectionMapRef.newBuilder()
                .setCollection(ObjectRef.newBuilder().setKind(ObjectKind.OBJECT_KIND_COLLECTION).setId(collectionId))
                .setName(Objects.requireNonNull(name, "name"))));
    }

    /** Wraps a request built with the generated builder. */
    public static SubscribeOptions of(SubscribeEventsRequest request) {
        return new SubscribeOptions(request.toBuilder());
    }

    /** Records the agent queues for this subscriber while it does not keep up (then drops and counts). */
    public SubscribeOptions queueRecords(int n) {
        request.setQueueRecords(n);
        return this;
    }

    public SubscribeOptions queueBytes(long n) {
        request.setQueueBytes(n);
        return this;
    }

    /** At most this many records per stream message. */
    public SubscribeOptions batchRecords(int n) {
        request.setBatchRecords(n);
        return this;
    }

    /** How long a record may wait for its batch to fill; 0 sends at once. */
    public SubscribeOptions batchDelayMillis(int ms) {
        request.setBatchDelayMs(ms);
        return this;
    }

    /** Perf event arrays: pages per CPU buffer, when this subscription starts the map's reader. */
    public SubscribeOptions perfBufferPages(int pages) {
        request.setPerfBufferPages(pages);
        return this;
    }

    /** Batches as one bytes field (default) or as a message per record (what a client of the proto alone may prefer). */
    public SubscribeOptions packed(boolean packed) {
        request.setPacked(packed);
        return this;
    }

    public SubscribeEventsRequest request() {
        return request.build();
    }
}
