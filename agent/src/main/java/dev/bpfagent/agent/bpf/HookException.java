package dev.bpfagent.agent.bpf;

/**
 * What a hook names is not there (a tracepoint, interface, binary, symbol, cgroup), or this kernel
 * lacks what the hook needs (kprobes, tcx). Checked before any link is made: nothing is left behind.
 */
public final class HookException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** NOT_FOUND: the named thing does not exist; UNSUPPORTED: this kernel cannot attach there. */
    public enum Kind { NOT_FOUND, UNSUPPORTED }

    private final Kind kind;
    private final String field;
    private final String reason;

    public HookException(Kind kind, String field, String reason, String message) {
        super(field + ": " + message);
        this.kind = kind;
        this.field = field;
        this.reason = reason;
    }

    public static HookException notFound(String field, String reason, String message) {
        return new HookException(Kind.NOT_FOUND, field, reason, message);
    }

    public static HookException unsupported(String field, String reason, String message) {
        return new HookException(Kind.UNSUPPORTED, field, reason, message);
    }

    public Kind kind() {
        return kind;
    }

    /** The request field naming the missing piece ("hook.uprobe.symbol"). */
    public String field() {
        return field;
    }

    /** A machine-readable reason: TRACEPOINT_NOT_FOUND, SYMBOL_NOT_FOUND, KPROBES_UNAVAILABLE, ... */
    public String reason() {
        return reason;
    }
}
