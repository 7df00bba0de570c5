package dev.bpfagent.client;

import static org.junit.jupiter.api.Assertions.*;

import com.google.protobuf.Any;
import com.google.rpc.BadRequest;
import com.google.rpc.ErrorInfo;
import dev.bpfagent.proto.v1.VerifierLog;
import io.grpc.Status;
import io.grpc.protobuf.StatusProto;
import org.junit.jupiter.api.Test;

class ErrorsTest {
    @Test
    void verifierLogBecomesVerifierRejected() {
        var status = com.google.rpc.Status.newBuilder().setCode(Status.Code.INVALID_ARGUMENT.value()).setMessage("no")
                .addDetails(Any.pack(ErrorInfo.newBuilder().setReason("VERIFIER_REJECTED").putMetadata("errno", "13").build()))
                .addDetails(Any.pack(VerifierLog.newBuilder().setLog("R0 !read_ok").build())).build();
        BpfAgentException e = Errors.map(StatusProto.toStatusRuntimeException(status));
        var v = assertInstanceOf(BpfAgentException.VerifierRejected.class, e);
        assertEquals("R0 !read_ok", v.verifierLog());
        assertEquals(13, v.errno());
    }

    @Test
    void fieldComesFromBadRequest() {
        var status = com.google.rpc.Status.newBuilder().setCode(Status.Code.INVALID_ARGUMENT.value()).setMessage("x")
                .addDetails(Any.pack(BadRequest.newBuilder().addFieldViolations(
                        BadRequest.FieldViolation.newBuilder().setField("name")).build())).build();
        var e = assertInstanceOf(BpfAgentException.InvalidArgument.class,
                Errors.map(StatusProto.toStatusRuntimeException(status)));
        assertEquals("name", e.field());
    }

    @Test
    void plainStatusWithoutDetails() {
        var e = Errors.map(Status.UNAVAILABLE.withDescription("down").asRuntimeException());
        assertEquals(Status.Code.UNAVAILABLE, e.code());
        assertEquals("", e.reason());
        assertTrue(e.getMessage().contains("down"));
        assertInstanceOf(BpfAgentException.NotFound.class, Errors.map(Status.NOT_FOUND.asRuntimeException()));
        var unreachable = Errors.map(Status.UNAVAILABLE.withDescription("io exception").asRuntimeException(),
                "unix:/run/x.sock");
        assertTrue(unreachable.getMessage().contains("cannot reach the agent at unix:/run/x.sock"),
                unreachable.getMessage());
    }
}
