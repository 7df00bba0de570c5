package dev.bpfagent.client;

import com.google.protobuf.CodedInputStream;
import com.google.protobuf.CodedOutputStream;
import io.grpc.MethodDescriptor;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;

/**
 * The standard gRPC health check (grpc.health.v1.Health/Check), spoken directly: its two messages have
 * one field each, which spares the client grpc-services and what that pulls in (about 1.3 MB).
 */
public final class Health {
    private Health() {
    }

    /** grpc.health.v1.HealthCheckResponse.ServingStatus; numbers are the proto's. */
    public enum Status {
        UNKNOWN, SERVING, NOT_SERVING, SERVICE_UNKNOWN;

        static Status of(int number) {
            return number >= 0 && number < values().length ? values()[number] : UNKNOWN;
        }
    }

    private static final MethodDescriptor.Marshaller<byte[]> BYTES = new MethodDescriptor.Marshaller<>() {
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

    static final MethodDescriptor<byte[], byte[]> CHECK = MethodDescriptor.<byte[], byte[]>newBuilder()
            .setType(MethodDescriptor.MethodType.UNARY)
            .setFullMethodName("grpc.health.v1.Health/Check")
            .setRequestMarshaller(BYTES)
            .setResponseMarshaller(BYTES)
            .build();

    /** HealthCheckRequest{service}: field 1, a string. */
    static byte[] request(String service) {
        if (service.isEmpty()) {
            return new byte[0];
        }
        try {
            byte[] out = new byte[CodedOutputStream.computeStringSize(1, service)];
            CodedOutputStream o = CodedOutputStream.newInstance(out);
            o.writeString(1, service);
            o.checkNoSpaceLeft();
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** HealthCheckResponse{status}: field 1, an enum. */
    static Status response(byte[] bytes) {
        try {
            CodedInputStream in = CodedInputStream.newInstance(bytes);
            for (int tag = in.readTag(); tag != 0; tag = in.readTag()) {
                if (tag == 8) {
                    return Status.of(in.readEnum());
                }
                in.skipField(tag);
            }
            return Status.UNKNOWN;
        } catch (IOException e) {
            throw new UncheckedIOException("a health answer that does not parse", e);
        }
    }
}
