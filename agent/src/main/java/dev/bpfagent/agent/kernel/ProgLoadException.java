package dev.bpfagent.agent.kernel;

import dev.bpfagent.agent.errno.KernelException;
/**
 * BPF_PROG_LOAD failed. Carries what the verifier wrote into the log buffer and, on kernels 6.4+,
 * log_true_size: the buffer size the whole log would have needed.
 */
public final class ProgLoadException extends KernelException {
    private static final long serialVersionUID = 1L;

    private final String log;
    private final int logTrueSize;

    public ProgLoadException(int errno, String log, int logTrueSize) {
        super(BpfCmd.BPF_PROG_LOAD.name(), errno);
        this.log = log;
        this.logTrueSize = logTrueSize;
    }

    public String log() {
        return log;
    }

    public int logTrueSize() {
        return logTrueSize;
    }
}
