package dev.bpfagent.agent.service.events;

import dev.bpfagent.agent.bpf.BpfMap;
import dev.bpfagent.agent.bpf.EventReader;
import dev.bpfagent.proto.v1.EventStreamStarted;
import dev.bpfagent.proto.v1.SubscribeEventsResponse;
import io.grpc.stub.ServerCallStreamObserver;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * The agent's event streams: at most one {@link MapStream} (one reader) per map, made by its first
 * subscriber and ended when its last one leaves. Thread-safe; {@code this} guards making a stream, so
 * two first subscribers of a map share one.
 */
public final class EventHub {
    /** Subscriptions the agent serves at once, over every map (each has a sender thread). */
    public static final int MAX_SUBSCRIPTIONS = 256;

    private final ConcurrentHashMap<Integer, MapStream> streams = new ConcurrentHashMap<>();
    private volatile boolean stopping;
    private final MemoryBudget budget = MemoryBudget.ofHeap();
    private final EventCounters counters = new EventCounters();

    /** What the streams delivered and lost since the agent started. */
    public EventCounters counters() {
        return counters;
    }

    /**
     * Subscribes out to map's events with these limits; perfPages sizes a perf event array's buffers
     * when this subscription starts the map's reader. The stream's messages then flow from the
     * subscription's own thread. Throws (and sends nothing) when the map cannot be read.
     */
    public void subscribe(BpfMap map, int perfPages, Subscription.Limits limits,
                          ServerCallStreamObserver<SubscribeEventsResponse> out) {
        if (stopping) {
            throw dev.bpfagent.agent.service.errors.RequestException.of(io.grpc.Status.Code.UNAVAILABLE,
                    "AGENT_STOPPING", "", "the agent is stopping");
        }
        if (subscriptions() >= MAX_SUBSCRIPTIONS) {
            throw dev.bpfagent.agent.service.errors.RequestException.of(io.grpc.Status.Code.RESOURCE_EXHAUSTED,
                    "TOO_MANY_SUBSCRIPTIONS", "", "the agent serves " + MAX_SUBSCRIPTIONS
                            + " event subscriptions at most; end one first");
        }
        Subscription sub = new Subscription(limits, budget, out, counters);
        while (true) {
            MapStream s;
            boolean fresh = false;
            synchronized (this) {
                s = streams.get(map.id());
                if (s == null) {
                    s = new MapStream(this, EventReader.open(map, perfPages), map.id());
                    streams.put(map.id(), s);
                    fresh = true;
                }
            }
            if (s.add(sub)) {
                sub.start(s, started(map, s, limits));
                if (fresh) {
                    s.start(); // after its first subscriber is in: what waits in the buffer goes to it
                }
                return;
            }
            s.join(); // it is ending: wait for its reader to let go of the map, then start another
            streams.remove(map.id(), s);
        }
    }

    private static EventStreamStarted started(BpfMap map, MapStream s, Subscription.Limits limits) {
        EventReader r = s.reader();
        EventStreamStarted.Builder started = EventStreamStarted.newBuilder().setMapId(map.id())
                .setMapTypeValue(map.type().value).setQueueRecords(limits.queueRecords())
                .setQueueBytes(limits.queueBytes()).setBatchRecords(limits.batchRecords())
                .setBatchDelayMs(limits.batchDelayMs()).setPacked(limits.packed()).setSubscribers(s.subscribers());
        if (!r.cpus().isEmpty()) {
            started.addAllCpus(r.cpus()).setPerfBufferPages(r.perfPages());
        }
        return started.build();
    }

    /** A stream's reader thread ended. */
    void ended(MapStream s) {
        streams.remove(s.mapId(), s);
    }

    /** Subscriptions being served now. */
    public int subscriptions() {
        int n = 0;
        for (MapStream s : streams.values()) {
            n += s.subscribers();
        }
        return n;
    }

    /**
     * At agent stop: every stream hands over what its reader still finds, then its subscribers get what
     * is queued and UNAVAILABLE; waits up to drainMillis for them.
     */
    public void shutdown(long drainMillis) {
        stopping = true;
        List<Subscription> subs = new ArrayList<>();
        io.grpc.Status status = io.grpc.Status.UNAVAILABLE.withDescription(
                "the agent is stopping; records read before it stopped were delivered");
        for (MapStream s : List.copyOf(streams.values())) {
            subs.addAll(s.subscriptions());
            s.stop(status);
        }
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(drainMillis);
        try {
            for (Subscription sub : subs) {
                sub.awaitDone(TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime()));
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
