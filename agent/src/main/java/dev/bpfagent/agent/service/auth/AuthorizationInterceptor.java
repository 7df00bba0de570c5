package dev.bpfagent.agent.service.auth;

import com.google.protobuf.Message;
import io.grpc.ForwardingServerCallListener;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;

/**
 * The single authorization point: installed on the whole server, it hands each request message, with
 * the caller, the method and the objects the request names, to the {@link Authorizer} before the
 * handler sees it. A refusal is thrown to the error interceptor outside this one, which closes the
 * call. Must run inside the caller interceptor (it reads {@link Caller#current()}).
 */
public final class AuthorizationInterceptor implements ServerInterceptor {
    private final Authorizer authorizer;

    public AuthorizationInterceptor(Authorizer authorizer) {
        this.authorizer = authorizer;
    }

    @Override
    public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
                                                       ServerCallHandler<Q, R> next) {
        String method = call.getMethodDescriptor().getFullMethodName();
        return new ForwardingServerCallListener.SimpleForwardingServerCallListener<>(next.startCall(call, headers)) {
            @Override
            public void onMessage(Q message) {
                Message m = (Message) message;
                authorizer.authorize(new Authorizer.Call(Caller.current(), method, m, ObjectRefs.in(m)));
                super.onMessage(message);
            }
        };
    }
}
