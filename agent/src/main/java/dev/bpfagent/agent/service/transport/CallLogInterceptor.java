package dev.bpfagent.agent.service.transport;

import dev.bpfagent.agent.service.auth.Caller;
import io.grpc.ForwardingServerCall;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * One log line per call: method, caller address, status, duration. Failures the caller caused are
 * logged at FINE, the agent's own (INTERNAL, UNKNOWN) at WARNING, successes at FINE.
 */
public final class CallLogInterceptor implements ServerInterceptor {
    private static final Logger LOG = Logger.getLogger(CallLogInterceptor.class.getName());

    @Override
    public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
                                                       ServerCallHandler<Q, R> next) {
        long start = System.nanoTime();
        ServerCall<Q, R> logged = new ForwardingServerCall.SimpleForwardingServerCall<>(call) {
            @Override
            public void close(Status status, Metadata trailers) {
                Level level = status.getCode() == Status.Code.INTERNAL || status.getCode() == Status.Code.UNKNOWN
                        ? Level.WARNING : Level.FINE;
                if (LOG.isLoggable(level)) {
                    LOG.log(level, String.format("%s from %s: %s%s in %d us", call.getMethodDescriptor().getFullMethodName(),
                            Caller.of(call.getAttributes()), status.getCode(),
                            status.getDescription() == null ? "" : " (" + status.getDescription() + ")",
                            (System.nanoTime() - start) / 1000));
                }
                super.close(status, trailers);
            }
        };
        return next.startCall(logged, headers);
    }
}
