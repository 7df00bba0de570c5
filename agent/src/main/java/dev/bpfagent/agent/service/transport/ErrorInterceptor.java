package dev.bpfagent.agent.service.transport;

import dev.bpfagent.agent.service.errors.ErrorMapper;
import io.grpc.ForwardingServerCallListener;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;

/**
 * Catches what a service method throws and closes the call with {@link ErrorMapper}'s status, so
 * service code throws plain exceptions and no call ever ends as a bare UNKNOWN.
 */
public final class ErrorInterceptor implements ServerInterceptor {
    @Override
    public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
                                                       ServerCallHandler<Q, R> next) {
        ServerCall.Listener<Q> delegate = next.startCall(call, headers);
        return new ForwardingServerCallListener.SimpleForwardingServerCallListener<>(delegate) {
            /** Set when this interceptor closed the call: what follows (the half-close) is dropped. */
            private boolean closedHere;

            @Override
            public void onMessage(Q message) {
                guard(() -> super.onMessage(message));
            }

            @Override
            public void onHalfClose() {
                guard(super::onHalfClose);
            }

            private void guard(Runnable r) {
                if (closedHere) {
                    return;
                }
                try {
                    r.run();
                } catch (RuntimeException | Error e) { // StackOverflowError or OOM in a handler: still a status
                    closedHere = true;
                    StatusRuntimeException sre = ErrorMapper.toException(e);
                    Metadata trailers = sre.getTrailers() != null ? sre.getTrailers() : new Metadata();
                    Status status = sre.getStatus();
                    call.close(status, trailers);
                }
            }
        };
    }
}
