package dev.bpfagent.agent.service.transport;

import dev.bpfagent.agent.service.auth.Caller;
import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;

/** Puts the call's {@link Caller} in the gRPC Context, where the service and the call log read it. */
public final class CallerInterceptor implements ServerInterceptor {
    @Override
    public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
                                                       ServerCallHandler<Q, R> next) {
        Context ctx = Context.current().withValue(Caller.CONTEXT_KEY, Caller.of(call.getAttributes()));
        return Contexts.interceptCall(ctx, call, headers, next);
    }
}
