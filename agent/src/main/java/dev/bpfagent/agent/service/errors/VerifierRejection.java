package dev.bpfagent.agent.service.errors;

import dev.bpfagent.agent.bpf.VerifierException;

/** A verifier rejection whose whole log the agent kept under logId (see GetVerifierLog). */
public final class VerifierRejection extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final VerifierException rejection;
    private final String logId;

    public VerifierRejection(VerifierException rejection, String logId) {
        super(rejection.getMessage(), rejection);
        this.rejection = rejection;
        this.logId = logId;
    }

    public VerifierException rejection() {
        return rejection;
    }

    public String logId() {
        return logId;
    }
}
