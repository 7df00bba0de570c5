package dev.bpfagent.agent.bpf;

import dev.bpfagent.agent.kernel.Fd;

/** For tests of the kernel layer: a program's or map's fd, which the bpf layer keeps to its own package. */
public final class ProgramFds {
    private ProgramFds() {
    }

    public static Fd fd(Program p) {
        return p.fd();
    }

    /** A map's fd, for tests that write instructions referring to it (BPF_PSEUDO_MAP_FD). */
    public static Fd fd(BpfMap m) {
        return m.fd();
    }
}
