package dev.bpfagent.agent.kernel;

/**
 * A system call failed. Keeps the call's name (the kernel's: "BPF_PROG_LOAD", "perf_event_open") and
 * the raw errno, and says what the errno usually means.
 */
public class KernelException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final String syscall;
    private final int errno;

    public KernelException(String syscall, int errno) {
        this(syscall, errno, null);
    }

    public KernelException(String syscall, int errno, String context) {
        super(message(syscall, errno, context));
        this.syscall = syscall;
        this.errno = errno;
    }

    private static String message(String syscall, int errno, String context) {
        Errno e = Errno.of(errno);
        String name = e == Errno.UNKNOWN ? "errno " + errno : e.name();
        return syscall + " failed with " + name + " (" + e.hint() + ")" + (context == null ? "" : ": " + context);
    }

    /** The call that failed, named as the kernel names it. */
    public String syscall() {
        return syscall;
    }

    /** The raw errno. */
    public int errnoNumber() {
        return errno;
    }

    public Errno errno() {
        return Errno.of(errno);
    }
}
