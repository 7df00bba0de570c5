package dev.bpfagent.agent.bpf;

import dev.bpfagent.agent.kernel.Fd;

/** For tests of the kernel layer: a program's fd, which the bpf layer keeps to its own package. */
public final class ProgramFds {
    private ProgramFds() {
    }

    public static Fd fd(Program p) {
        return p.fd();
    }
}
