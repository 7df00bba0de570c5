package dev.bpfagent.agent.service.events;

import dev.bpfagent.agent.bpf.EventReader;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.logging.Logger;

/**
 * One map's reader and its subscribers. A platform thread polls the reader and hands each poll's
 * records (copied once out of the kernel's buffer, then shared) to every subscriber. The thread owns the
 * reader: it closes it when it ends, which is when the last subscriber leaves, the map is closed, or
 * the agent stops. {@code this} guards the subscriber set's membership against the end.
 */
final class MapStream {
    private static final Logger LOG = Logger.getLogger(MapStream.class.getName());
    /** How long a poll waits for records before looking at its flags again. */
    static final int POLL_MILLIS = 500;

    private final EventHub hub;
    private final EventReader reader;
    private final int mapId;
    private final List<Subscription> subs = new CopyOnWriteArrayList<>();
    private final Thread thread;
    /** Set (under this) once the stream takes no more subscribers. */
    private boolean ending;
    /** Why the hub stopped it: null while it runs, or when the map was closed under it. */
    private volatile io.grpc.Status stopStatus;

    MapStream(EventHub hub, EventReader reader, int mapId) {
        this.hub = hub;
        this.reader = reader;
        this.mapId = mapId;
        this.thread = Thread.ofPlatform().daemon().name("bpf-agent-events-map-" + mapId).unstarted(this::run);
    }

    int mapId() {
        return mapId;
    }

    EventReader reader() {
        return reader;
    }

    void start() {
        thread.start();
    }

    /** Adds a subscriber; false when the stream is ending (the caller starts a new one). */
    synchronized boolean add(Subscription s) {
        if (ending) {
            return false;
        }
        subs.add(s);
        return true;
    }

    synchronized int subscribers() {
        return subs.size();
    }

    /** A subscriber's sender is done; the last one out stops the reader. */
    void leave(Subscription s) {
        boolean last;
        synchronized (this) {
            last = subs.remove(s) && subs.isEmpty() && !ending;
            if (last) {
                ending = true;
            }
        }
        if (last) {
            stop(null);
        }
    }

    /**
     * Ends the stream: the reader thread reads what is there once more (when status is given: the agent
     * stops), hands it over, closes the reader and ends every subscriber with status; then returns.
     */
    void stop(io.grpc.Status status) {
        synchronized (this) {
            ending = true;
            stopStatus = status != null ? status : io.grpc.Status.CANCELLED;
        }
        reader.wakeup();
        join();
    }

    /** Waits for the reader thread to have ended. */
    void join() {
        if (Thread.currentThread() == thread) {
            return;
        }
        boolean interrupted = false;
        while (thread.isAlive()) {
            try {
                thread.join();
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    List<Subscription> subscriptions() {
        return List.copyOf(subs);
    }

    private void run() {
        List<Object> items = new ArrayList<>(EventReader.MAX_PER_POLL * 2); // a poll never grows it
        EventReader.Sink sink = new EventReader.Sink() {
            @Override
            public void record(int cpu, byte[] data) {
                items.add(new Subscription.Rec(data, cpu));
            }

            @Override
            public void lost(int cpu, long count) {
                items.add(count);
            }
        };
        io.grpc.Status end;
        io.grpc.Status failed = null;
        try {
            while (stopStatus == null) {
                int n = reader.poll(POLL_MILLIS, sink);
                deliver(items);
                if (n < 0) {
                    break;
                }
            }
            if (stopStatus != null && stopStatus.getCode() == io.grpc.Status.Code.UNAVAILABLE) {
                while (reader.poll(0, sink) > 0) { // the agent stops: hand over what was read
                    deliver(items);
                }
                deliver(items);
            }
        } catch (RuntimeException e) {
            LOG.log(java.util.logging.Level.WARNING, "event reader of map " + mapId + " failed", e);
            failed = io.grpc.Status.INTERNAL.withDescription("the agent's reader of map " + mapId + " failed: " + e
                    + " (see the agent's log); subscribe again");
        } finally {
            synchronized (this) {
                ending = true;
                end = failed != null ? failed : stopStatus != null ? stopStatus : io.grpc.Status.ABORTED
                        .withDescription("map " + mapId + " was closed; its records up to then were delivered");
            }
            try {
                reader.close();
            } catch (RuntimeException e) {
                LOG.log(java.util.logging.Level.WARNING, "closing the event reader of map " + mapId, e);
            }
            for (Subscription s : subs) { // whatever happened above: no subscriber is left waiting
                s.end(end);
            }
            hub.ended(this);
        }
    }

    private void deliver(List<Object> items) {
        if (items.isEmpty()) {
            return;
        }
        for (Subscription s : subs) {
            s.offer(items);
        }
        items.clear();
    }
}
