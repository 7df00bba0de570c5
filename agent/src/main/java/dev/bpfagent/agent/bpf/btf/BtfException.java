package dev.bpfagent.agent.bpf.btf;

/** BTF that is not what it should be (bad magic, a table past its end): the message says where. */
public final class BtfException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public BtfException(String message) {
        super(message);
    }
}
