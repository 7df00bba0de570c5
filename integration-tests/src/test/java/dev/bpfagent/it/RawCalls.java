package dev.bpfagent.it;

import dev.bpfagent.proto.v1.BpfServiceGrpc;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.MethodDescriptor;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCalls;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Calls of the agent's methods with raw bytes as the request, as a broken or hostile client sends them. */
final class RawCalls {
    private RawCalls() {
    }

    static final MethodDescriptor.Marshaller<byte[]> BYTES = new MethodDescriptor.Marshaller<>() {
        @Override
        public InputStream stream(byte[] value) {
            return new ByteArrayInputStream(value);
        }

        @Override
        public byte[] parse(InputStream stream) {
            try {
                return stream.readAllBytes();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    };

    /** Every method of BpfService (unary, and SubscribeEvents' server stream), taking and returning bytes. */
    static List<MethodDescriptor<byte[], byte[]>> methods() {
        return BpfServiceGrpc.getServiceDescriptor().getMethods().stream()
                .map(m -> MethodDescriptor.<byte[], byte[]>newBuilder().setType(m.getType())
                        .setFullMethodName(m.getFullMethodName()).setRequestMarshaller(BYTES)
                        .setResponseMarshaller(BYTES).build())
                .toList();
    }

    /**
     * Sends the bytes; returns the answer (a stream's first message, after which the stream is cancelled),
     * or throws the call's StatusRuntimeException.
     */
    static byte[] call(Channel ch, MethodDescriptor<byte[], byte[]> m, byte[] request) throws StatusRuntimeException {
        CallOptions options = CallOptions.DEFAULT.withDeadlineAfter(30, TimeUnit.SECONDS);
        if (m.getType() != MethodDescriptor.MethodType.SERVER_STREAMING) {
            return ClientCalls.blockingUnaryCall(ch, m, options, request);
        }
        io.grpc.Context.CancellableContext ctx = io.grpc.Context.current().withCancellation();
        try {
            return ctx.call(() -> {
                var it = ClientCalls.blockingServerStreamingCall(ch, m, options, request);
                return it.hasNext() ? it.next() : new byte[0];
            });
        } catch (StatusRuntimeException e) {
            throw e;
        } catch (Exception e) {
            throw new IllegalStateException(e);
        } finally {
            ctx.cancel(null);
        }
    }
}
