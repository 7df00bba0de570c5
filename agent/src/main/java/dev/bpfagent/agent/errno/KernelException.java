package dev.bpfagent.agent.errno;

/**
 * A system call failed. Keeps the call's name (the kernel's: "BPF_PROG_LOAD", "perf_event_open") and
 * the raw errno, and says what the errno usually means. {@link #of} gives the errnos a caller acts on
 * a type of their own ({@link PermissionDenied}, {@link NotFound}, {@link TooBig}, {@link NoSpace},
 * {@link InvalidArgument}, ...); {@link #errno()} tells the rest apart.
 */
public class KernelException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final String syscall;
    private final int errno;

    public KernelException(String syscall, int errno) {
        this(syscall, errno, null);
    }

    public KernelException(String syscall, int errno, String context) {
        this(message(syscall, errno, context), syscall, errno);
    }

    /** For subtypes that say it better themselves: the whole message is theirs. */
    protected KernelException(String message, String syscall, int errno) {
        super(message);
        this.syscall = syscall;
        this.errno = errno;
    }

    /** The exception for this errno: one of the nested types where there is one. */
    public static KernelException of(String syscall, int errno, String context) {
        return switch (Errno.of(errno)) {
            case EPERM -> new PermissionDenied(syscall, errno, context);
            case ENOENT, ESRCH -> new NotFound(syscall, errno, context);
            case E2BIG -> new TooBig(syscall, errno, context);
            case ENOSPC -> new NoSpace(syscall, errno, context);
            case EINVAL -> new InvalidArgument(syscall, errno, context);
            case EEXIST -> new Exists(syscall, errno, context);
            case EBUSY -> new Busy(syscall, errno, context);
            case EBADF -> new Closed(syscall, errno, context);
            case EOPNOTSUPP, ENOTSUPP, ENOSYS -> new NotSupported(syscall, errno, context);
            default -> new KernelException(syscall, errno, context);
        };
    }

    /** The same failure with (other) context: which path, id or field it was about. Keeps the type. */
    public KernelException withContext(String context) {
        return of(syscall, errno, context);
    }

    /** EPERM: the agent lacks CAP_BPF/CAP_SYS_ADMIN (or CAP_PERFMON, CAP_NET_ADMIN), or lockdown forbids it. */
    public static final class PermissionDenied extends KernelException {
        private static final long serialVersionUID = 1L;

        PermissionDenied(String syscall, int errno, String context) {
            super(syscall, errno, context);
        }
    }

    /** ENOENT/ESRCH: no object with that id, path or name. */
    public static final class NotFound extends KernelException {
        private static final long serialVersionUID = 1L;

        NotFound(String syscall, int errno, String context) {
            super(syscall, errno, context);
        }
    }

    /** E2BIG: too many instructions, or a struct with non-zero bytes this kernel does not know. */
    public static final class TooBig extends KernelException {
        private static final long serialVersionUID = 1L;

        TooBig(String syscall, int errno, String context) {
            super(syscall, errno, context);
        }
    }

    /** ENOSPC: an output buffer (verifier log, test-run data) was too small. */
    public static final class NoSpace extends KernelException {
        private static final long serialVersionUID = 1L;

        NoSpace(String syscall, int errno, String context) {
            super(syscall, errno, context);
        }
    }

    /** EINVAL: a value the command or program type does not take. From a load, see the verifier log. */
    public static final class InvalidArgument extends KernelException {
        private static final long serialVersionUID = 1L;

        InvalidArgument(String syscall, int errno, String context) {
            super(syscall, errno, context);
        }
    }

    /** EEXIST: something is already pinned or attached there. */
    public static final class Exists extends KernelException {
        private static final long serialVersionUID = 1L;

        Exists(String syscall, int errno, String context) {
            super(syscall, errno, context);
        }
    }

    /** EBUSY: the hook is taken. */
    public static final class Busy extends KernelException {
        private static final long serialVersionUID = 1L;

        Busy(String syscall, int errno, String context) {
            super(syscall, errno, context);
        }
    }

    /** EBADF: the object's fd was closed (by a concurrent close). */
    public static final class Closed extends KernelException {
        private static final long serialVersionUID = 1L;

        Closed(String syscall, int errno, String context) {
            super(syscall, errno, context);
        }
    }

    /** EOPNOTSUPP/ENOTSUPP/ENOSYS: this kernel cannot do this for these arguments. */
    public static final class NotSupported extends KernelException {
        private static final long serialVersionUID = 1L;

        NotSupported(String syscall, int errno, String context) {
            super(syscall, errno, context);
        }
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
