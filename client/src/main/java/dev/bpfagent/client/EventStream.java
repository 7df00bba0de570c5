package dev.bpfagent.client;

import dev.bpfagent.proto.v1.BpfServiceGrpc;
import dev.bpfagent.proto.v1.EventStreamStarted;
import dev.bpfagent.proto.v1.SubscribeEventsRequest;
import dev.bpfagent.proto.v1.SubscribeEventsResponse;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.Metadata;
import io.grpc.Status;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Iterator;
import java.util.NoSuchElementException;
import java.util.Optional;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A live event subscription read as a blocking iterator of {@link Event.Data} and {@link Event.Loss}.
 * Close it to unsubscribe (try-with-resources). The agent sends a message only when this iterator has
 * room for it (at most two messages wait here), so a consumer that falls behind makes the agent drop
 * and count records for it instead of filling this JVM.
 *
 * <p>The iterator ends (hasNext false) when the stream is closed here; when the agent ends it (the map
 * was closed: ABORTED, reason MAP_CLOSED; the agent stops: UNAVAILABLE) hasNext throws the
 * {@link BpfAgentException} after every record delivered before. One thread iterates at a time.
 */
public final class EventStream implements Iterator<Event>, Iterable<Event>, AutoCloseable {
    /** Messages asked for ahead of the one being iterated. */
    static final int AHEAD = 2;

    private record End(Status status, Metadata trailers) {
    }

    private final ClientCall<SubscribeEventsRequest, SubscribeEventsResponse> call;
    private final String target;
    /** Messages and the End, as the call delivers them; bounded by the requests made. */
    private final LinkedBlockingQueue<Object> inbox = new LinkedBlockingQueue<>();
    private final ArrayDeque<Event> ready = new ArrayDeque<>();
    private EventStreamStarted started;
    private End end;
    private volatile boolean closedHere;

    private EventStream(Channel channel, String target) {
        this.call = channel.newCall(BpfServiceGrpc.getSubscribeEventsMethod(), CallOptions.DEFAULT);
        this.target = target;
    }

    /** Subscribes and waits (up to startTimeout) until the agent says the subscription is live. */
    static EventStream open(Channel channel, String target, SubscribeEventsRequest request, Duration startTimeout) {
        EventStream s = new EventStream(channel, target);
        synchronized (s.call) {
            s.call.start(new ClientCall.Listener<>() {
                @Override
                public void onMessage(SubscribeEventsResponse message) {
                    s.inbox.add(message);
                }

                @Override
                public void onClose(Status status, Metadata trailers) {
                    s.inbox.add(new End(status, trailers));
                }
            }, new Metadata());
            s.call.sendMessage(request);
            s.call.halfClose();
            s.call.request(1);
        }
        Object first;
        try {
            first = s.inbox.poll(startTimeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            s.close();
            throw new BpfAgentException(Status.Code.CANCELLED, "", 0, null, "interrupted while subscribing", e);
        }
        if (first == null) {
            s.close();
            throw new BpfAgentException(Status.Code.DEADLINE_EXCEEDED, "", 0, null, "DEADLINE_EXCEEDED: the agent at "
                    + target + " did not start the subscription within " + startTimeout, null);
        }
        if (first instanceof End e) {
            throw Errors.map(e.status().asRuntimeException(e.trailers()), target);
        }
        SubscribeEventsResponse m = (SubscribeEventsResponse) first;
        if (!m.hasStarted()) {
            s.close();
            throw new IllegalStateException("the agent's first stream message was not `started`: " + m.getEventCase());
        }
        s.started = m.getStarted();
        synchronized (s.call) {
            s.call.request(AHEAD);
        }
        return s;
    }

    /** What the agent said when the subscription started: the map, the limits in force, the CPUs read. */
    public EventStreamStarted started() {
        return started;
    }

    @Override
    public Iterator<Event> iterator() {
        return this;
    }

    /** Blocks until an event is there (true), or the stream ended (false, or the agent's error thrown). */
    @Override
    public boolean hasNext() {
        try {
            return fill(-1);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new BpfAgentException(Status.Code.CANCELLED, "", 0, null, "interrupted while waiting for events", e);
        }
    }

    @Override
    public Event next() {
        if (!hasNext()) {
            throw new NoSuchElementException("the event stream ended");
        }
        return ready.poll();
    }

    /** The next event if one comes within timeout; empty on timeout or at the stream's end (closed here). */
    public Optional<Event> poll(Duration timeout) throws InterruptedException {
        return fill(timeout.toNanos()) ? Optional.of(ready.poll()) : Optional.empty();
    }

    /** true: an event is ready. false: none within timeoutNanos (-1: no limit) or the stream ended. */
    private boolean fill(long timeoutNanos) throws InterruptedException {
        long deadline = System.nanoTime() + timeoutNanos;
        while (ready.isEmpty()) {
            if (end != null) {
                if (end.status().isOk() || closedHere) {
                    return false;
                }
                throw Errors.map(end.status().asRuntimeException(end.trailers()), target);
            }
            Object o;
            if (timeoutNanos < 0) {
                o = inbox.take();
            } else {
                o = inbox.poll(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
                if (o == null) {
                    return false;
                }
            }
            if (o instanceof End e) {
                end = e;
                continue;
            }
            ready.addAll(Event.of((SubscribeEventsResponse) o));
            synchronized (call) {
                call.request(1); // room again for one message
            }
        }
        return true;
    }

    /** Whether the stream has ended (all its events taken). */
    public boolean isEnded() {
        return end != null && ready.isEmpty();
    }

    /** Unsubscribes: the agent drops this subscriber (and its reader when it was the last). */
    @Override
    public void close() {
        closedHere = true;
        synchronized (call) {
            call.cancel("the client closed the event stream", null);
        }
    }
}
