package dev.bpfagent.agent.bpf;

/**
 * A spec breaks one of the kernel's rules (or the agent's limits) before anything reached the kernel.
 * {@link #field()} names the spec's field the way the proto names it ("instructions", "log.size",
 * "btf.func_info"), so a caller can point at what to change.
 */
public final class InvalidSpecException extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;

    private final String field;

    public InvalidSpecException(String field, String message) {
        super(field + ": " + message);
        this.field = field;
    }

    public String field() {
        return field;
    }
}
