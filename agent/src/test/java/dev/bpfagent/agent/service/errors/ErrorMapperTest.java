package dev.bpfagent.agent.service.errors;

import static org.junit.jupiter.api.Assertions.*;

import com.google.rpc.BadRequest;
import com.google.rpc.ErrorInfo;
import dev.bpfagent.agent.bpf.VerifierException;
import dev.bpfagent.agent.errno.Errno;
import dev.bpfagent.agent.errno.KernelException;
import dev.bpfagent.proto.v1.VerifierLog;
import io.grpc.Status;
import org.junit.jupiter.api.Test;

class ErrorMapperTest {
    static <T extends com.google.protobuf.Message> T detail(com.google.rpc.Status s, Class<T> type) throws Exception {
        for (var d : s.getDetailsList()) {
            if (d.is(type)) {
                return d.unpack(type);
            }
        }
        return null;
    }

    @Test
    void verifierRejectionCarriesTheLog() throws Exception {
        var s = ErrorMapper.toStatus(new VerifierException(13, "p", "0: (95) exit\nR0 !read_ok\n", false));
        assertEquals(Status.Code.INVALID_ARGUMENT.value(), s.getCode());
        assertTrue(s.getMessage().contains("R0 !read_ok"), s.getMessage());
        assertEquals("0: (95) exit\nR0 !read_ok\n", detail(s, VerifierLog.class).getLog());
        ErrorInfo info = detail(s, ErrorInfo.class);
        assertEquals("VERIFIER_REJECTED", info.getReason());
        assertEquals("13", info.getMetadataOrThrow("errno"));
        assertEquals("BPF_PROG_LOAD", info.getMetadataOrThrow("syscall"));
    }

    @Test
    void invalidFieldNamesTheField() throws Exception {
        var s = ErrorMapper.toStatus(RequestException.invalid("instructions", "is required"));
        assertEquals(Status.Code.INVALID_ARGUMENT.value(), s.getCode());
        assertEquals("instructions", detail(s, BadRequest.class).getFieldViolations(0).getField());
        assertEquals("instructions", detail(s, ErrorInfo.class).getMetadataOrThrow("field"));
    }

    @Test
    void errnoDecidesTheCode() throws Exception {
        assertEquals(Status.Code.PERMISSION_DENIED, code(Errno.EPERM));
        assertEquals(Status.Code.NOT_FOUND, code(Errno.ENOENT));
        assertEquals(Status.Code.ALREADY_EXISTS, code(Errno.EEXIST));
        assertEquals(Status.Code.INVALID_ARGUMENT, code(Errno.E2BIG));
        assertEquals(Status.Code.RESOURCE_EXHAUSTED, code(Errno.ENOSPC));
        assertEquals(Status.Code.UNIMPLEMENTED, code(Errno.ENOTSUPP));
        var s = ErrorMapper.toStatus(new KernelException("BPF_OBJ_PIN", 17));
        assertEquals("EEXIST", detail(s, ErrorInfo.class).getReason());
        var unknown = ErrorMapper.toStatus(new KernelException("BPF_OBJ_PIN", 4242));
        assertEquals("ERRNO_4242", detail(unknown, ErrorInfo.class).getReason());
        assertEquals(Status.Code.FAILED_PRECONDITION.value(), unknown.getCode());
        assertEquals("4242", detail(unknown, ErrorInfo.class).getMetadataOrThrow("errno"));
    }

    @Test
    void unexpectedErrorsAreInternalNeverUnknown() throws Exception {
        var s = ErrorMapper.toStatus(new IllegalStateException("boom"));
        assertEquals(Status.Code.INTERNAL.value(), s.getCode());
        assertEquals("INTERNAL", detail(s, ErrorInfo.class).getReason());
    }

    static Status.Code code(Errno e) {
        return Status.fromCodeValue(ErrorMapper.toStatus(new KernelException("BPF_X", e.number())).getCode()).getCode();
    }
}
