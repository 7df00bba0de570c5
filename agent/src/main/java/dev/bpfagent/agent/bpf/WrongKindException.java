package dev.bpfagent.agent.bpf;

/** A bpffs pin holds another kind of BPF object than the one asked for (a map where a program was expected). */
public final class WrongKindException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final String path;
    private final ObjectKind expected;
    private final ObjectKind actual;

    public WrongKindException(String path, ObjectKind expected, ObjectKind actual) {
        super(path + " holds a " + (actual == ObjectKind.OTHER ? "BPF object of another kind" : actual.toString())
                + ", not a " + expected);
        this.path = path;
        this.expected = expected;
        this.actual = actual;
    }

    public String path() {
        return path;
    }

    public ObjectKind expected() {
        return expected;
    }

    public ObjectKind actual() {
        return actual;
    }
}
