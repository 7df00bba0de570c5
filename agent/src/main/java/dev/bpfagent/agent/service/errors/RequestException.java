package dev.bpfagent.agent.service.errors;

import io.grpc.Status;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A request the agent refuses before or without asking the kernel: a bad field, an unknown id, a path
 * outside the agent's directory, a close that others depend on. {@link ErrorMapper} turns it into a
 * status with ErrorInfo (its reason and metadata), and a BadRequest naming the field when there is one.
 */
public final class RequestException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final Status.Code code;
    private final String reason;
    private final String field;
    private final Map<String, String> metadata = new LinkedHashMap<>();
    private long retryAfterMillis = -1;

    private RequestException(Status.Code code, String reason, String field, String message) {
        super(message);
        this.code = code;
        this.reason = reason;
        this.field = field;
    }

    /** INVALID_ARGUMENT naming the request field (its proto path, e.g. "log.size"). */
    public static RequestException invalid(String field, String message) {
        return new RequestException(Status.Code.INVALID_ARGUMENT, "INVALID_FIELD", field, field + ": " + message);
    }

    public static RequestException notFound(String reason, String message) {
        return new RequestException(Status.Code.NOT_FOUND, reason, null, message);
    }

    public static RequestException failedPrecondition(String reason, String message) {
        return new RequestException(Status.Code.FAILED_PRECONDITION, reason, null, message);
    }

    public static RequestException alreadyExists(String reason, String message) {
        return new RequestException(Status.Code.ALREADY_EXISTS, reason, null, message);
    }

    public static RequestException permissionDenied(String reason, String message) {
        return new RequestException(Status.Code.PERMISSION_DENIED, reason, null, message);
    }

    /** Any code, with a reason and optionally the request field at fault. */
    public static RequestException of(Status.Code code, String reason, String field, String message) {
        return new RequestException(code, reason, field, message);
    }

    /** UNIMPLEMENTED naming the request field whose feature this agent does not have yet. */
    public static RequestException unimplemented(String field, String message) {
        return new RequestException(Status.Code.UNIMPLEMENTED, "NOT_IMPLEMENTED", field, field + ": " + message);
    }

    /** Adds ErrorInfo metadata. */
    public RequestException with(String key, String value) {
        metadata.put(key, value);
        return this;
    }

    /** Asks the client to try again after this long (a google.rpc.RetryInfo detail). */
    public RequestException retryAfter(long millis) {
        retryAfterMillis = millis;
        return this;
    }

    /** The retry delay, or -1 when the request should not simply be retried. */
    public long retryAfterMillis() {
        return retryAfterMillis;
    }

    public Status.Code code() {
        return code;
    }

    public String reason() {
        return reason;
    }

    /** The request field at fault, or null. */
    public String field() {
        return field;
    }

    public Map<String, String> metadata() {
        return metadata;
    }
}
