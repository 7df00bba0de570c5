package dev.bpfagent.agent.service.errors;

import com.google.protobuf.Any;
import com.google.rpc.BadRequest;
import com.google.rpc.ErrorInfo;
import dev.bpfagent.agent.bpf.InvalidSpecException;
import dev.bpfagent.agent.bpf.VerifierException;
import dev.bpfagent.agent.bpf.WrongKindException;
import dev.bpfagent.agent.errno.Errno;
import dev.bpfagent.agent.errno.KernelException;
import dev.bpfagent.proto.v1.VerifierLog;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.util.Map;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The one place where exceptions become gRPC statuses. Every status carries a google.rpc.ErrorInfo;
 * a bad field adds a BadRequest; a verifier rejection adds a bpfagent.v1.VerifierLog.
 */
public final class ErrorMapper {
    private static final Logger LOG = Logger.getLogger(ErrorMapper.class.getName());

    /** ErrorInfo.domain of every error the agent returns. */
    public static final String DOMAIN = "bpf-agent.dev";

    private ErrorMapper() {
    }

    public static com.google.rpc.Status toStatus(Throwable t) {
        if (t instanceof StatusRuntimeException sre) {
            com.google.rpc.Status s = io.grpc.protobuf.StatusProto.fromThrowable(sre);
            return s != null ? s : build(sre.getStatus().getCode(), String.valueOf(sre.getMessage()),
                    info("GRPC_" + sre.getStatus().getCode().name()).build());
        }
        if (t instanceof RequestException re) {
            return withField(re.code(), re.reason(), re.field(), re.getMessage(), re.metadata());
        }
        if (t instanceof MalformedRequestException mr) {
            return build(Status.Code.INVALID_ARGUMENT, mr.getMessage(), info("MALFORMED_REQUEST")
                    .putMetadata("message_type", mr.messageType()).build());
        }
        if (t instanceof InvalidSpecException ise) {
            return withField(Status.Code.INVALID_ARGUMENT, "INVALID_FIELD", ise.field(), ise.getMessage(), Map.of());
        }
        if (t instanceof VerifierException ve) {
            ErrorInfo info = kernelInfo(ve, "VERIFIER_REJECTED");
            return com.google.rpc.Status.newBuilder()
                    .setCode(Status.Code.INVALID_ARGUMENT.value())
                    .setMessage(ve.getMessage())
                    .addDetails(Any.pack(info))
                    .addDetails(Any.pack(VerifierLog.newBuilder().setLog(ve.log()).setTruncated(ve.truncated()).build()))
                    .build();
        }
        if (t instanceof WrongKindException wk) {
            return build(Status.Code.FAILED_PRECONDITION, wk.getMessage(), info("KIND_MISMATCH")
                    .putMetadata("expected_kind", wk.expected().toString())
                    .putMetadata("kind", wk.actual().toString()).build());
        }
        if (t instanceof KernelException ke) {
            return build(codeFor(ke.errno()), ke.getMessage(), kernelInfo(ke, errnoName(ke)));
        }
        if (t instanceof IllegalArgumentException iae) {
            return build(Status.Code.INVALID_ARGUMENT, iae.getMessage(), info("INVALID_ARGUMENT").build());
        }
        LOG.log(Level.WARNING, "unexpected error in a call", t);
        return build(Status.Code.INTERNAL, "internal error in the agent: " + t + " (see the agent's log)",
                info("INTERNAL").build());
    }

    /** A status whose ErrorInfo has the reason and metadata, plus a BadRequest when a field is named. */
    private static com.google.rpc.Status withField(Status.Code code, String reason, String field, String message,
                                                   Map<String, String> metadata) {
        ErrorInfo.Builder info = info(reason).putAllMetadata(metadata);
        com.google.rpc.Status.Builder b = com.google.rpc.Status.newBuilder().setCode(code.value()).setMessage(message);
        if (field == null) {
            return b.addDetails(Any.pack(info.build())).build();
        }
        info.putMetadata("field", field);
        return b.addDetails(Any.pack(info.build()))
                .addDetails(Any.pack(BadRequest.newBuilder().addFieldViolations(
                        BadRequest.FieldViolation.newBuilder().setField(field).setDescription(message)).build()))
                .build();
    }

    public static StatusRuntimeException toException(Throwable t) {
        return io.grpc.protobuf.StatusProto.toStatusRuntimeException(toStatus(t));
    }

    /** errno to status code: what a caller can do about it decides the code. */
    static Status.Code codeFor(Errno errno) {
        return switch (errno) {
            case EPERM, EACCES -> Status.Code.PERMISSION_DENIED;
            case ENOENT, ESRCH, ENODEV, EBADF -> Status.Code.NOT_FOUND;
            case EEXIST -> Status.Code.ALREADY_EXISTS;
            case EINVAL, E2BIG, ERANGE, EFAULT, ENOTDIR, EISDIR, ELOOP, ENAMETOOLONG -> Status.Code.INVALID_ARGUMENT;
            case ENOSPC, ENOMEM, EMFILE -> Status.Code.RESOURCE_EXHAUSTED;
            case EBUSY, ENOTEMPTY, EROFS, EXDEV -> Status.Code.FAILED_PRECONDITION;
            case EOPNOTSUPP, ENOTSUPP, ENOSYS -> Status.Code.UNIMPLEMENTED;
            case EAGAIN, EINTR, ETIMEDOUT -> Status.Code.UNAVAILABLE;
            // Any other errno (EIO, one this agent has no name for): the kernel refused in this
            // system's state. Not the agent's bug, so not INTERNAL; the errno travels in ErrorInfo.
            default -> Status.Code.FAILED_PRECONDITION;
        };
    }

    private static String errnoName(KernelException ke) {
        return ke.errno() == Errno.UNKNOWN ? "ERRNO_" + ke.errnoNumber() : ke.errno().name();
    }

    private static ErrorInfo kernelInfo(KernelException ke, String reason) {
        return info(reason)
                .putMetadata("errno", Integer.toString(ke.errnoNumber()))
                .putMetadata("errno_name", errnoName(ke))
                .putMetadata("syscall", ke.syscall())
                .build();
    }

    private static ErrorInfo.Builder info(String reason) {
        return ErrorInfo.newBuilder().setDomain(DOMAIN).setReason(reason);
    }

    private static com.google.rpc.Status build(Status.Code code, String message, ErrorInfo info) {
        return com.google.rpc.Status.newBuilder().setCode(code.value()).setMessage(message)
                .addDetails(Any.pack(info)).build();
    }
}
