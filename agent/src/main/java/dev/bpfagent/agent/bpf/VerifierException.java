package dev.bpfagent.agent.bpf;

import dev.bpfagent.agent.kernel.BpfCmd;
import dev.bpfagent.agent.errno.Errno;
import dev.bpfagent.agent.errno.KernelException;

/** The verifier refused a program. The log says why; {@link #truncated} when it did not fit. */
public final class VerifierException extends KernelException {
    private static final long serialVersionUID = 1L;

    private final String log;
    private final boolean truncated;
    private final String programName;

    public VerifierException(int errno, String programName, String log, boolean truncated) {
        super("the verifier rejected program" + (programName.isEmpty() ? "" : " '" + programName + "'")
                + " (" + Errno.of(errno) + "): " + lastLine(log) + (truncated ? " (log truncated)" : ""),
                BpfCmd.BPF_PROG_LOAD.name(), errno);
        this.log = log;
        this.truncated = truncated;
        this.programName = programName;
    }

    /** The verifier's reason: the log's last meaningful line. */
    public String reason() {
        return lastLine(log);
    }

    public String programName() {
        return programName;
    }

    private static String lastLine(String log) {
        String[] lines = log.strip().split("\n");
        for (int i = lines.length - 1; i >= 0; i--) {
            String l = lines[i].strip();
            if (!l.isEmpty() && !l.startsWith("processed ")) {
                return l;
            }
        }
        return "(empty log)";
    }

    public String log() {
        return log;
    }

    public boolean truncated() {
        return truncated;
    }
}
