package dev.bpfagent.client;

import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.rpc.BadRequest;
import com.google.rpc.ErrorInfo;
import dev.bpfagent.proto.v1.VerifierLog;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;

/** Turns a failed call's status and its details into a typed {@link BpfAgentException}. */
public final class Errors {
    private Errors() {
    }

    public static BpfAgentException map(Throwable t) {
        return map(t, null);
    }

    /** As {@link #map(Throwable)}; target names the agent in UNAVAILABLE messages. */
    public static BpfAgentException map(Throwable t, String target) {
        if (t instanceof BpfAgentException b) {
            return b;
        }
        if ((t instanceof ExecutionException || t instanceof CompletionException) && t.getCause() != null) {
            return map(t.getCause(), target);
        }
        Status status = Status.fromThrowable(t);
        com.google.rpc.Status rich = StatusProto.fromThrowable(t);
        String reason = "";
        int errno = 0;
        String field = null;
        VerifierLog log = null;
        if (rich != null) {
            for (Any d : rich.getDetailsList()) {
                try {
                    if (d.is(ErrorInfo.class)) {
                        ErrorInfo info = d.unpack(ErrorInfo.class);
                        reason = info.getReason();
                        errno = parseInt(info.getMetadataMap().get("errno"));
                        if (info.getMetadataMap().containsKey("field")) {
                            field = info.getMetadataMap().get("field");
                        }
                    } else if (d.is(BadRequest.class)) {
                        BadRequest br = d.unpack(BadRequest.class);
                        if (field == null && br.getFieldViolationsCount() > 0) {
                            field = br.getFieldViolations(0).getField();
                        }
                    } else if (d.is(VerifierLog.class)) {
                        log = d.unpack(VerifierLog.class);
                    }
                } catch (InvalidProtocolBufferException ignored) {
                    // a detail we cannot read is not worth hiding the error for
                }
            }
        }
        String message = status.getCode() + ": " + (status.getDescription() == null ? "" : status.getDescription());
        if (status.getCode() == Status.Code.RESOURCE_EXHAUSTED && reason.isEmpty() && status.getDescription() != null
                && status.getDescription().startsWith("gRPC message exceeds maximum size")) {
            // grpc-java's own refusal (the agent's 4 MiB request limit, or this client's response limit):
            // it carries no details, so the reason is named here
            reason = "MESSAGE_TOO_LARGE";
            message += " (send a large object by path on the agent's host, object.path; split batches)";
        }
        if (status.getCode() == Status.Code.UNAVAILABLE && target != null && reason.isEmpty()) {
            message += " (cannot reach the agent at " + target + ": is bpf-agent running there, and may this"
                    + " user open its socket?)";
        }
        if (log != null) {
            return new BpfAgentException.VerifierRejected(errno, message, log.getLog(), log.getTruncated(),
                    !log.getTailOnly(), log.getLogId(), log.getReason(), t);
        }
        return switch (status.getCode()) {
            case INVALID_ARGUMENT -> new BpfAgentException.InvalidArgument(reason, errno, field, message, t);
            case NOT_FOUND -> new BpfAgentException.NotFound(reason, errno, field, message, t);
            case PERMISSION_DENIED -> new BpfAgentException.PermissionDenied(reason, errno, message, t);
            case ALREADY_EXISTS -> new BpfAgentException.AlreadyExists(reason, errno, message, t);
            default -> new BpfAgentException(status.getCode(), reason, errno, field, message, t);
        };
    }

    private static int parseInt(String s) {
        if (s == null) {
            return 0;
        }
        try {
            return Integer.parseInt(s);
        } catch (NumberFormatException e) {
            return 0;
        }
    }

    /** Runs a blocking stub call, mapping its failure. */
    static <T> T call(String target, java.util.function.Supplier<T> rpc) {
        try {
            return rpc.get();
        } catch (StatusRuntimeException e) {
            throw map(e, target);
        }
    }
}
