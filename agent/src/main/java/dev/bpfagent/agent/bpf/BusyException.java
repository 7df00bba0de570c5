package dev.bpfagent.agent.bpf;

/**
 * The object is in a state that refuses this use for now (a ring buffer another reader consumes, ...):
 * the service answers FAILED_PRECONDITION with the reason, naming the request field.
 */
public final class BusyException extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final String field;
    private final String reason;

    public BusyException(String field, String reason, String message) {
        super(message);
        this.field = field;
        this.reason = reason;
    }

    public String field() {
        return field;
    }

    public String reason() {
        return reason;
    }
}
