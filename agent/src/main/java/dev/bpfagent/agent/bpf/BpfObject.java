package dev.bpfagent.agent.bpf;

/**
 * A live BPF object held through an fd: a program today; maps, links and chains share this shape.
 * Closing it closes the fd exactly once.
 */
public interface BpfObject extends AutoCloseable {
    /** The kernel's id of the object. */
    int id();

    ObjectKind kind();

    /** BPF_OBJ_PIN at an absolute bpffs path; the parent directory must exist. */
    void pin(String path);

    boolean isClosed();

    @Override
    void close();
}
