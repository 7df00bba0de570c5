package dev.bpfagent.agent.service.errors;

import com.google.protobuf.Any;
import com.google.rpc.BadRequest;
import com.google.rpc.ErrorInfo;
import dev.bpfagent.agent.bpf.HookException;
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
            com.google.rpc.Status s = withField(re.code(), re.reason(), re.field(), re.getMessage(), re.metadata());
            if (re.retryAfterMillis() >= 0) {
                s = s.toBuilder().addDetails(Any.pack(com.google.rpc.RetryInfo.newBuilder().setRetryDelay(
                        com.google.protobuf.Duration.newBuilder().setSeconds(re.retryAfterMillis() / 1000)
                                .setNanos((int) (re.retryAfterMillis() % 1000) * 1_000_000)).build())).build();
            }
            return s;
        }
        if (t instanceof MalformedRequestException mr) {
            return build(Status.Code.INVALID_ARGUMENT, mr.getMessage(), info("MALFORMED_REQUEST")
                    .putMetadata("message_type", mr.messageType()).build());
        }
        if (t instanceof dev.bpfagent.agent.bpf.object.ObjectLoader.StageException se) {
            com.google.rpc.Status s = toStatus(se.getCause());
            var b = s.toBuilder().clearDetails();
            for (Any d : s.getDetailsList()) {
                if (d.is(ErrorInfo.class)) {
                    try {
                        d = Any.pack(d.unpack(ErrorInfo.class).toBuilder().putMetadata("stage", se.stage())
                                .putMetadata("object", se.object()).build());
                    } catch (com.google.protobuf.InvalidProtocolBufferException e) {
                        // keep it as it was
                    }
                }
                b.addDetails(d);
            }
            return b.setMessage(se.stage() + " of '" + se.object() + "': " + s.getMessage()).build();
        }
        if (t instanceof InvalidSpecException ise) {
            return withField(Status.Code.INVALID_ARGUMENT, "INVALID_FIELD", ise.field(), ise.getMessage(), Map.of());
        }
        if (t instanceof VerifierRejection vr) {
            return verifier(vr.rejection(), vr.logId());
        }
        if (t instanceof VerifierException ve) {
            return verifier(ve, "");
        }
        if (t instanceof HookException he) {
            return withField(he.kind() == HookException.Kind.NOT_FOUND ? Status.Code.NOT_FOUND
                    : Status.Code.FAILED_PRECONDITION, he.reason(), he.field(), he.getMessage(), Map.of());
        }
        if (t instanceof dev.bpfagent.agent.bpf.BusyException be) {
            return withField(Status.Code.FAILED_PRECONDITION, be.reason(), be.field(), be.getMessage(), Map.of());
        }
        if (t instanceof dev.bpfagent.agent.bpf.btf.BtfException be) {
            return build(Status.Code.FAILED_PRECONDITION, be.getMessage(), info("BAD_KERNEL_BTF").build());
        }
        if (t instanceof dev.bpfagent.agent.bpf.elf.ElfException ee) {
            return build(Status.Code.INVALID_ARGUMENT, ee.getMessage(), info("MALFORMED_ELF").build());
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

    /** The most of a log's end a status carries: trailers are capped at 8 KiB by default clients. */
    static final int LOG_TAIL_BYTES = 4096;
    /** The reason line is cut to this many characters (it travels in the status message too). */
    static final int REASON_CHARS = 512;

    private static com.google.rpc.Status verifier(VerifierException ve, String logId) {
        String log = ve.log();
        String tail = tail(log, LOG_TAIL_BYTES);
        String reason = ve.reason().length() > REASON_CHARS ? ve.reason().substring(0, REASON_CHARS) + "..." : ve.reason();
        ErrorInfo.Builder info = kernelInfo(ve, "VERIFIER_REJECTED").toBuilder()
                .putMetadata("verifier_log_bytes", Integer.toString(log.getBytes(java.nio.charset.StandardCharsets.UTF_8).length));
        if (!logId.isEmpty()) {
            info.putMetadata("verifier_log_id", logId);
        }
        String message = "the verifier rejected program" + (ve.programName().isEmpty() ? "" : " '" + ve.programName() + "'")
                + " (" + ve.errno() + "): " + reason + (ve.truncated() ? " (log truncated at 16 MiB)" : "")
                + (logId.isEmpty() ? "" : "; the log's end is in the VerifierLog detail, all of it from GetVerifierLog");
        return com.google.rpc.Status.newBuilder()
                .setCode(Status.Code.INVALID_ARGUMENT.value())
                .setMessage(message)
                .addDetails(Any.pack(info.build()))
                .addDetails(Any.pack(VerifierLog.newBuilder().setLog(tail).setTruncated(ve.truncated())
                        .setTailOnly(tail.length() < log.length())
                        .setSize(log.getBytes(java.nio.charset.StandardCharsets.UTF_8).length)
                        .setLogId(logId).setReason(reason).build()))
                .build();
    }

    /** The last whole lines of log within maxBytes (UTF-8), or all of it when it fits. */
    static String tail(String log, int maxBytes) {
        byte[] b = log.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        if (b.length <= maxBytes) {
            return log;
        }
        int cut = b.length - maxBytes;
        int start = cut;
        while (start < b.length && b[start - 1] != '\n') {
            start++; // from a line's beginning, which is also a character's
        }
        if (start == b.length) { // one line longer than maxBytes: cut at a character's beginning
            start = cut;
            while (start < b.length && (b[start] & 0xC0) == 0x80) {
                start++;
            }
        }
        return new String(b, start, b.length - start, java.nio.charset.StandardCharsets.UTF_8);
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
