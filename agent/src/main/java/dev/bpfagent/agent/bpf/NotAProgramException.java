package dev.bpfagent.agent.bpf;

/** A bpffs pin holds another kind of BPF object (a map, a link) where a program was expected. */
public final class NotAProgramException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final String path;
    private final String kind;

    public NotAProgramException(String path, String kind) {
        super(path + " holds a " + (kind.isEmpty() ? "BPF object" : kind) + ", not a program");
        this.path = path;
        this.kind = kind;
    }

    public String path() {
        return path;
    }

    /** The object's kind as the kernel names it: "bpf-map", "bpf_link", ... */
    public String kind() {
        return kind;
    }
}
