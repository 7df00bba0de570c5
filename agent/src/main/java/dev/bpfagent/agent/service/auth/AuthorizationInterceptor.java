package dev.bpfagent.agent.service.auth;

import com.google.protobuf.Message;
import io.grpc.ForwardingServerCall;
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
        // null without an audit log; reads are audited only when refused, and carry no "made" ids
        java.util.List<String> audit = AuditInterceptor.OBJECTS.get();
        boolean reads = Methods.of(method) == Methods.Action.READ;
        ServerCall<Q, R> seen = audit == null || reads ? call : new ForwardingServerCall.SimpleForwardingServerCall<>(call) {
            @Override
            public void sendMessage(R message) {
                made((Message) message, audit);
                super.sendMessage(message);
            }
        };
        return new ForwardingServerCallListener.SimpleForwardingServerCallListener<>(next.startCall(seen, headers)) {
            /** The call as authorized, until it ends (the authorizer counts calls in flight). */
            private final java.util.concurrent.atomic.AtomicReference<Authorizer.Call> admitted =
                    new java.util.concurrent.atomic.AtomicReference<>();

            @Override
            public void onMessage(Q message) {
                if (admitted.get() != null) {
                    super.onMessage(message); // a client stream's later messages: the call was admitted on its first
                    return;
                }
                Message m = (Message) message;
                java.util.List<ObjectRefs.Named> refs = ObjectRefs.named(m);
                if (audit != null) {
                    for (ObjectRefs.Named n : refs) {
                        audit.add(n.field() + " " + (n.ref().hasPath() ? n.ref().getPath() : n.ref().getId()));
                    }
                }
                Authorizer.Call c = new Authorizer.Call(Caller.current(), method, m,
                        refs.stream().map(ObjectRefs.Named::ref).toList());
                authorizer.authorize(c);
                admitted.set(c);
                super.onMessage(message);
            }

            @Override
            public void onComplete() {
                end();
                super.onComplete();
            }

            @Override
            public void onCancel() {
                end();
                super.onCancel();
            }

            private void end() {
                Authorizer.Call c = admitted.getAndSet(null);
                if (c != null) {
                    authorizer.ended(c);
                }
            }
        };
    }

    /** What a response describes that has an id (the program a load made, a link, a map...), for the audit. */
    private static void made(Message response, java.util.List<String> audit) {
        var d = response.getDescriptorForType();
        var id = d.findFieldByName("id");
        if (id != null && id.getJavaType() == com.google.protobuf.Descriptors.FieldDescriptor.JavaType.INT) {
            audit.add("made " + d.getName().toLowerCase() + " " + response.getField(id));
            return;
        }
        for (var f : d.getFields()) {
            if (!f.isRepeated() && f.getJavaType() == com.google.protobuf.Descriptors.FieldDescriptor.JavaType.MESSAGE
                    && response.hasField(f)) {
                Message inner = (Message) response.getField(f);
                var innerId = inner.getDescriptorForType().findFieldByName("id");
                if (innerId != null && innerId.getJavaType() == com.google.protobuf.Descriptors.FieldDescriptor.JavaType.INT) {
                    audit.add("made " + f.getName() + " " + inner.getField(innerId));
                }
            }
        }
    }
}
