package dev.bpfagent.agent.service;

import dev.bpfagent.agent.bpf.BpfMap;
import dev.bpfagent.agent.bpf.MapType;
import dev.bpfagent.agent.service.errors.RequestException;
import dev.bpfagent.agent.service.events.EventHub;
import dev.bpfagent.agent.service.events.Subscription;
import dev.bpfagent.agent.service.state.Collection;
import dev.bpfagent.agent.service.state.Registry;
import dev.bpfagent.proto.v1.SubscribeEventsRequest;
import dev.bpfagent.proto.v1.SubscribeEventsResponse;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;

/** Event streams: resolves the map a subscription names, sets its limits, hands it to the {@link EventHub}. */
final class EventHandler {
    static final int DEFAULT_QUEUE_RECORDS = 8192, MAX_QUEUE_RECORDS = 1 << 20;
    /** Bytes of queued records (data plus a 64-byte overhead each); the agent's heap budget caps them all too. */
    static final long DEFAULT_QUEUE_BYTES = 4L << 20, MAX_QUEUE_BYTES = 32L << 20;
    static final int DEFAULT_BATCH_RECORDS = 256, MAX_BATCH_RECORDS = 8192;
    static final int DEFAULT_BATCH_DELAY_MS = 5, MAX_BATCH_DELAY_MS = 1000;
    static final int DEFAULT_PERF_PAGES = 64;

    private final Registry registry;
    private final Refs refs;
    private final EventHub hub;

    EventHandler(Registry registry, Refs refs, EventHub hub) {
        this.registry = registry;
        this.refs = refs;
        this.hub = hub;
    }

    void subscribe(SubscribeEventsRequest req, StreamObserver<SubscribeEventsResponse> out) {
        BpfMap map = map(req).object(BpfMap.class);
        String field = req.hasCollectionMap() ? "collection_map" : "map";
        if (map.type() != MapType.RINGBUF && map.type() != MapType.PERF_EVENT_ARRAY) {
            throw RequestException.invalid(field, "map " + map.id() + " is a " + map.type()
                    + " map, which carries no event records: subscribe to a RINGBUF or PERF_EVENT_ARRAY map");
        }
        int perfPages = req.getPerfBufferPages() == 0 ? DEFAULT_PERF_PAGES : req.getPerfBufferPages();
        if (Integer.bitCount(perfPages) != 1 || perfPages > 4096) {
            throw RequestException.invalid("perf_buffer_pages", perfPages + ": a power of two from 1 to 4096");
        }
        var limits = new Subscription.Limits(
                capped(req.getQueueRecords(), DEFAULT_QUEUE_RECORDS, MAX_QUEUE_RECORDS),
                req.getQueueBytes() == 0 ? DEFAULT_QUEUE_BYTES : Math.min(req.getQueueBytes(), MAX_QUEUE_BYTES),
                capped(req.getBatchRecords(), DEFAULT_BATCH_RECORDS, MAX_BATCH_RECORDS),
                req.hasBatchDelayMs() ? (int) Math.min(Integer.toUnsignedLong(req.getBatchDelayMs()), MAX_BATCH_DELAY_MS)
                        : DEFAULT_BATCH_DELAY_MS,
                req.getPacked());
        hub.subscribe(map, perfPages, limits, (ServerCallStreamObserver<SubscribeEventsResponse>) out);
    }

    private static int capped(int asked, int dflt, int max) {
        return asked == 0 ? dflt : (int) Math.min(Integer.toUnsignedLong(asked), max);
    }

    private Registry.Entry map(SubscribeEventsRequest req) {
        if (req.hasCollectionMap()) {
            var cm = req.getCollectionMap();
            Collection c = refs.held(cm.hasCollection(), cm.getCollection(), Registry.Kind.COLLECTION,
                    "collection_map.collection").object(Collection.class);
            if (cm.getName().isEmpty()) {
                throw RequestException.invalid("collection_map.name", "required: the map's name in the object");
            }
            for (Collection.Member m : c.maps()) {
                if (m.name().equals(cm.getName())) {
                    Registry.Entry e = registry.find(m.key());
                    if (e == null) {
                        throw RequestException.notFound("MAP_NOT_HELD", "collection_map.name: map '" + cm.getName()
                                + "' (" + m.key() + ") of collection " + c.id() + " was closed");
                    }
                    return e;
                }
            }
            throw RequestException.notFound("MAP_NOT_FOUND", "collection_map.name: collection " + c.id()
                    + " has no map named '" + cm.getName() + "'; it has " + c.maps().stream()
                    .map(Collection.Member::name).toList());
        }
        return refs.held(req.hasMap(), req.getMap(), Registry.Kind.MAP, "map");
    }
}
