package dev.bpfagent.client;

import io.grpc.Status;

/**
 * A call to the agent failed. {@link #code()} is the gRPC status code; {@link #reason()} the
 * ErrorInfo reason (an errno name such as "EPERM", or "VERIFIER_REJECTED", "INVALID_FIELD", ...);
 * {@link #errno()} the kernel's errno when a system call failed, else 0.
 */
public class BpfAgentException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final Status.Code code;
    private final String reason;
    private final int errno;
    private final String field;

    public BpfAgentException(Status.Code code, String reason, int errno, String field, String message,
                             Throwable cause) {
        super(message, cause);
        this.code = code;
        this.reason = reason;
        this.errno = errno;
        this.field = field;
    }

    public Status.Code code() {
        return code;
    }

    public String reason() {
        return reason;
    }

    public int errno() {
        return errno;
    }

    /**
     * The ErrorInfo metadata the agent sent: "errno_name", "syscall", and for LoadObject "stage" and
     * "object" (the map or program it failed on). Empty when there was none.
     */
    public java.util.Map<String, String> metadata() {
        com.google.rpc.Status s = getCause() == null ? null : io.grpc.protobuf.StatusProto.fromThrowable(getCause());
        if (s != null) {
            for (com.google.protobuf.Any d : s.getDetailsList()) {
                if (d.is(com.google.rpc.ErrorInfo.class)) {
                    try {
                        return d.unpack(com.google.rpc.ErrorInfo.class).getMetadataMap();
                    } catch (com.google.protobuf.InvalidProtocolBufferException e) {
                        return java.util.Map.of();
                    }
                }
            }
        }
        return java.util.Map.of();
    }

    /** The request field the agent refused, or null. */
    public String field() {
        return field;
    }

    /** INVALID_ARGUMENT on a named request field. */
    public static final class InvalidArgument extends BpfAgentException {
        private static final long serialVersionUID = 1L;

        InvalidArgument(String reason, int errno, String field, String message, Throwable cause) {
            super(Status.Code.INVALID_ARGUMENT, reason, errno, field, message, cause);
        }
    }

    /**
     * The verifier refused the program; {@link #verifierReason()} says why in a line, {@link #verifierLog()} in
     * full. The client's load calls fetch the whole log (GetVerifierLog) before throwing this, so
     * {@link #isWholeLog()} is false only when that fetch failed, or for a status mapped by hand.
     */
    public static final class VerifierRejected extends BpfAgentException {
        private static final long serialVersionUID = 1L;
        private final String verifierLog;
        private final boolean truncated;
        private final boolean wholeLog;
        private final String logId;
        private final String reasonLine;

        VerifierRejected(int errno, String message, String verifierLog, boolean truncated, boolean wholeLog,
                         String logId, String reasonLine, Throwable cause) {
            super(Status.Code.INVALID_ARGUMENT, "VERIFIER_REJECTED", errno, null, message, cause);
            this.verifierLog = verifierLog;
            this.truncated = truncated;
            this.wholeLog = wholeLog;
            this.logId = logId;
            this.reasonLine = reasonLine;
        }

        /** The same rejection with the whole log in place of its end. */
        VerifierRejected withWholeLog(String log) {
            VerifierRejected r = new VerifierRejected(errno(), getMessage(), log, truncated, true, logId, reasonLine,
                    getCause());
            r.setStackTrace(getStackTrace());
            return r;
        }

        /** The verifier's log: whole when {@link #isWholeLog()}, else its last lines. */
        public String verifierLog() {
            return verifierLog;
        }

        public boolean isWholeLog() {
            return wholeLog;
        }

        /** The verifier's reason: the log's last meaningful line. ({@link #reason()} is VERIFIER_REJECTED.) */
        public String verifierReason() {
            return reasonLine;
        }

        /** Names the whole log in GetVerifierLog (for 10 minutes); empty when the agent kept none. */
        public String logId() {
            return logId;
        }

        /** The verifier wrote more than the agent's 16 MiB buffer: the log is its first 16 MiB. */
        public boolean truncated() {
            return truncated;
        }
    }

    /** NOT_FOUND: no such program, pin or id. */
    public static final class NotFound extends BpfAgentException {
        private static final long serialVersionUID = 1L;

        NotFound(String reason, int errno, String field, String message, Throwable cause) {
            super(Status.Code.NOT_FOUND, reason, errno, field, message, cause);
        }
    }

    /** PERMISSION_DENIED: the agent (or kernel) lacks a privilege. */
    public static final class PermissionDenied extends BpfAgentException {
        private static final long serialVersionUID = 1L;

        PermissionDenied(String reason, int errno, String message, Throwable cause) {
            super(Status.Code.PERMISSION_DENIED, reason, errno, null, message, cause);
        }
    }

    /** ALREADY_EXISTS: e.g. a pin at that path. */
    public static final class AlreadyExists extends BpfAgentException {
        private static final long serialVersionUID = 1L;

        AlreadyExists(String reason, int errno, String message, Throwable cause) {
            super(Status.Code.ALREADY_EXISTS, reason, errno, null, message, cause);
        }
    }
}
