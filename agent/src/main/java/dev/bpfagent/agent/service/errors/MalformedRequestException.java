package dev.bpfagent.agent.service.errors;

/** Bytes that do not parse as the method's request message: the client's fault, INVALID_ARGUMENT. */
public final class MalformedRequestException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final String messageType;

    public MalformedRequestException(String messageType, String parserWords, Throwable cause) {
        super("the request is not a valid " + messageType + " message: " + parserWords, cause);
        this.messageType = messageType;
    }

    /** The request message's full proto name, "bpfagent.v1.LoadProgramRequest". */
    public String messageType() {
        return messageType;
    }
}
