package dev.bpfagent.agent.service.transport;

import dev.bpfagent.agent.service.auth.Caller;
import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;

/**
 * Puts the call's {@link Caller} in the gRPC Context, where the service and the call log read it, and
 * its lease (the connection's id) when the request asks for one.
 */
public final class CallerInterceptor implements ServerInterceptor {
    private static final Metadata.Key<String> LEASE = Metadata.Key.of(dev.bpfagent.agent.service.state.Lease.HEADER,
            Metadata.ASCII_STRING_MARSHALLER);

    @Override
    public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
                                                       ServerCallHandler<Q, R> next) {
        Context ctx = Context.current().withValue(Caller.CONTEXT_KEY, Caller.of(call.getAttributes()));
        Long connection = call.getAttributes().get(Connections.ID);
        if (connection != null && "true".equalsIgnoreCase(headers.get(LEASE))) {
            ctx = ctx.withValue(dev.bpfagent.agent.service.state.Lease.CONNECTION, connection);
        }
        return Contexts.interceptCall(ctx, call, headers, next);
    }
}
