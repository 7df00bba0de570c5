package dev.bpfagent.cli;

import dev.bpfagent.client.BpfAgentException;
import io.grpc.Status;
import picocli.CommandLine;

/** The CLI's exit status, so that scripts tell failures apart. */
final class ExitCodes {
    private ExitCodes() {
    }

    static final int OK = 0;
    /** The agent answered and refused: its status, reason and field are on stderr. */
    static final int REFUSED = 1;
    /** The command line is wrong: nothing was sent. */
    static final int USAGE = 2;
    /** No agent answered at the target. */
    static final int UNREACHABLE = 3;

    static int of(Throwable e) {
        if (e instanceof CommandLine.ParameterException || e instanceof IllegalArgumentException) {
            return USAGE;
        }
        if (e instanceof BpfAgentException b) {
            return b.code() == Status.Code.UNAVAILABLE ? UNREACHABLE : REFUSED;
        }
        return REFUSED;
    }
}
