package dev.bpfagent.agent.service.state;

import io.grpc.Context;

/**
 * A call's lease: the id of the connection that asked (header "bpf-agent-lease: true") to own what the
 * call makes only as long as it lasts. Set in the call's Context by the transport; the registry reads it
 * when an object is added.
 */
public final class Lease {
    /** The request header that asks for a lease. */
    public static final String HEADER = "bpf-agent-lease";
    /** The connection id the current call's objects are leased to; absent: no lease. */
    public static final Context.Key<Long> CONNECTION = Context.key("bpfagent.lease");

    private Lease() {
    }

    /** The current call's lease, or 0. */
    public static long current() {
        Long c = CONNECTION.get();
        return c == null ? 0 : c;
    }
}
