package dev.bpfagent.agent.bpf.elf;

/** A file is not the ELF object it should be, or is malformed: the message says where. */
public final class ElfException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public ElfException(String message) {
        super(message);
    }
}
