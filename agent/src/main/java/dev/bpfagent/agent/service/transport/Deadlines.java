package dev.bpfagent.agent.service.transport;

import io.grpc.Context;
import io.grpc.ForwardingServerCallListener;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;

/**
 * A call whose client gave up (cancelled, or its deadline passed) while it waited for a thread is not
 * started: its handler would do kernel work nobody will see. grpc-java runs a unary handler when the
 * request is complete whatever the call's context says.
 */
public final class Deadlines implements ServerInterceptor {
    @Override
    public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
                                                       ServerCallHandler<Q, R> next) {
        return new ForwardingServerCallListener.SimpleForwardingServerCallListener<>(next.startCall(call, headers)) {
            @Override
            public void onHalfClose() {
                if (Context.current().isCancelled()) {
                    return; // the call is already closed as CANCELLED or DEADLINE_EXCEEDED
                }
                super.onHalfClose();
            }
        };
    }

    /** The status a call the client gave up on ends with, for handlers that notice it mid-way. */
    public static io.grpc.Status statusOf(Context ctx) {
        Throwable cause = ctx.cancellationCause();
        return cause instanceof java.util.concurrent.TimeoutException
                ? io.grpc.Status.DEADLINE_EXCEEDED.withDescription("the call's deadline passed")
                : io.grpc.Status.CANCELLED.withDescription("the client cancelled the call");
    }
}
