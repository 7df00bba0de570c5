package dev.bpfagent.agent.service.transport;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.bpfagent.agent.service.errors.MalformedRequestException;
import io.grpc.ForwardingServerCallListener;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.ServerServiceDefinition;
import io.grpc.protobuf.ProtoMethodDescriptorSupplier;

/**
 * Requests are parsed where their failure can be answered. grpc-java parses a request before any
 * interceptor sees it and answers a parse failure with UNKNOWN ("Application error processing RPC").
 * Here the service takes raw bytes ({@link ServerInterceptors#useInputStreamMessages}), which are
 * parsed inside the listener this interceptor guards: truncated, mistyped, over-nested or non-UTF-8
 * input becomes a {@link MalformedRequestException}, which the error interceptor answers with
 * INVALID_ARGUMENT (MALFORMED_REQUEST), naming the message type and the parser's words.
 */
public final class RequestParsing implements ServerInterceptor {
    private RequestParsing() {
    }

    /** The service taking bytes, parsed under this guard. Interceptors inside it see typed messages. */
    public static ServerServiceDefinition guard(ServerServiceDefinition typed) {
        return ServerInterceptors.intercept(ServerInterceptors.useMarshalledMessages(typed, STREAMS), new RequestParsing());
    }

    /**
     * Streams passed through as they are: a request's stream is parsed (under the guard) while grpc-java
     * still holds it open, and a response's stream stays protobuf's own, which the transport writes
     * directly. (grpc-java's useInputStreamMessages would buffer each one through an 8 KiB copy.)
     */
    private static final io.grpc.MethodDescriptor.Marshaller<java.io.InputStream> STREAMS =
            new io.grpc.MethodDescriptor.Marshaller<>() {
                @Override
                public java.io.InputStream stream(java.io.InputStream value) {
                    return value;
                }

                @Override
                public java.io.InputStream parse(java.io.InputStream stream) {
                    return stream;
                }
            };

    @Override
    public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
                                                       ServerCallHandler<Q, R> next) {
        return new ForwardingServerCallListener.SimpleForwardingServerCallListener<>(next.startCall(call, headers)) {
            @Override
            public void onMessage(Q message) {
                try {
                    super.onMessage(message);
                } catch (RuntimeException | StackOverflowError e) {
                    Throwable parse = parseFailure(e);
                    if (parse == null) {
                        throw e;
                    }
                    throw new MalformedRequestException(requestType(call.getMethodDescriptor()),
                            parse instanceof StackOverflowError
                            ? "nested too deeply" : String.valueOf(parse.getMessage()), parse);
                }
            }
        };
    }

    /** The parser's own exception when e came from parsing the request, else null. */
    private static Throwable parseFailure(Throwable e) {
        if (e instanceof StackOverflowError) {
            return e; // only the parser recurses this deep before the handler runs
        }
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof InvalidProtocolBufferException) {
                return t;
            }
        }
        return null;
    }

    static String requestType(MethodDescriptor<?, ?> m) {
        if (m.getSchemaDescriptor() instanceof ProtoMethodDescriptorSupplier s) {
            return s.getMethodDescriptor().getInputType().getFullName();
        }
        return m.getFullMethodName() + " request";
    }
}
