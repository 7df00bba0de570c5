package dev.bpfagent.agent.service.auth;

import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.ForwardingServerCall;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import java.util.ArrayList;
import java.util.List;

/**
 * Writes the {@link AuditLog} line of each call that makes or changes something, and of each refusal,
 * when the call closes (so the result is the status the client got). Installed outside the error
 * interceptor; the objects come from {@link AuthorizationInterceptor} (what the request named, and the
 * ids of what the response made) through the call's {@link Context}.
 */
public final class AuditInterceptor implements ServerInterceptor {
    /** The objects of the current call, filled by the authorization interceptor. */
    static final Context.Key<List<String>> OBJECTS = Context.key("bpfagent.audit.objects");

    private final AuditLog log;

    public AuditInterceptor(AuditLog log) {
        this.log = log;
    }

    @Override
    public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
                                                       ServerCallHandler<Q, R> next) {
        String method = call.getMethodDescriptor().getFullMethodName();
        boolean mutating = Methods.of(method) != Methods.Action.READ;
        List<String> objects = java.util.Collections.synchronizedList(new ArrayList<>());
        Caller caller = Caller.of(call.getAttributes());
        ServerCall<Q, R> audited = new ForwardingServerCall.SimpleForwardingServerCall<>(call) {
            @Override
            public void close(Status status, Metadata trailers) {
                if (mutating || status.getCode() == Status.Code.PERMISSION_DENIED) {
                    log.record(caller, Methods.shortName(method), List.copyOf(objects), status.getCode().name()
                            + (status.getDescription() == null || status.isOk() ? "" : ": " + status.getDescription()));
                }
                super.close(status, trailers);
            }
        };
        return Contexts.interceptCall(Context.current().withValue(OBJECTS, objects), audited, headers, next);
    }
}
