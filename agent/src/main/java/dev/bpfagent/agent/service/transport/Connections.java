package dev.bpfagent.agent.service.transport;

import io.grpc.Attributes;
import io.grpc.ServerTransportFilter;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongConsumer;

/**
 * Numbers each connection as it is made (an attribute its calls carry) and tells the agent when one
 * ends, so what was leased to it is closed.
 */
public final class Connections extends ServerTransportFilter {
    public static final Attributes.Key<Long> ID = Attributes.Key.create("bpfagent.connection");
    private final AtomicLong next = new AtomicLong();
    private final LongConsumer ended;

    /** @param ended called with a connection's id once it has ended (on a transport thread: keep it short) */
    public Connections(LongConsumer ended) {
        this.ended = ended;
    }

    @Override
    public Attributes transportReady(Attributes attrs) {
        return attrs.toBuilder().set(ID, next.incrementAndGet()).build();
    }

    @Override
    public void transportTerminated(Attributes attrs) {
        Long id = attrs == null ? null : attrs.get(ID);
        if (id != null) {
            ended.accept(id);
        }
    }
}
