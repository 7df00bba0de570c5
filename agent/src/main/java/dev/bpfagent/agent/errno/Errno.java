package dev.bpfagent.agent.errno;

/**
 * The errno values the bpf(2), perf_event_open(2), ioctl(2) and mount(2) paths can answer, with the
 * kernel's names (asm-generic/errno-base.h, errno.h, include/linux/errno.h) and what they usually
 * mean for BPF.
 */
public enum Errno {
    EPERM(1, "operation not permitted: needs CAP_BPF/CAP_SYS_ADMIN (run as root), or the kernel is locked down"),
    ENOENT(2, "no such object: the id, path or name does not exist"),
    ESRCH(3, "no such process"),
    EINTR(4, "interrupted system call"),
    EIO(5, "I/O error"),
    E2BIG(7, "argument too big: too many instructions, or a structure larger than this kernel knows"),
    EBADF(9, "bad file descriptor: the object was already closed"),
    EAGAIN(11, "try again: the kernel was short of a resource for a moment"),
    ENOMEM(12, "out of memory: raise RLIMIT_MEMLOCK or the cgroup's memory limit"),
    EACCES(13, "permission denied; from BPF_PROG_LOAD: the verifier refused the program (read its log)"),
    EFAULT(14, "bad address passed to the kernel"),
    EBUSY(16, "busy: something is already attached or in use there"),
    EEXIST(17, "already exists: a pin or attachment is already at that place"),
    EXDEV(18, "cross-device link"),
    ENODEV(19, "no such device"),
    ENOTDIR(20, "not a directory"),
    EISDIR(21, "is a directory"),
    EINVAL(22, "invalid argument: a value this command or program type does not accept"),
    EMFILE(24, "too many open files in the agent: raise its RLIMIT_NOFILE"),
    ENOSPC(28, "no space: the output buffer (verifier log, test-run data) was too small"),
    EROFS(30, "read-only file system"),
    ERANGE(34, "result out of range"),
    ENAMETOOLONG(36, "file name too long: a bpffs path component is over 255 bytes"),
    ENOSYS(38, "function not implemented by this kernel"),
    ENOTEMPTY(39, "directory not empty"),
    ELOOP(40, "too many symbolic links, or a loop in a tail-call chain"),
    EOPNOTSUPP(95, "operation not supported for this program or object type"),
    ETIMEDOUT(110, "timed out"),
    ENOTSUPP(524, "operation not supported by this kernel for these arguments"),
    UNKNOWN(-1, "unknown error");

    private final int number;
    private final String hint;

    Errno(int number, String hint) {
        this.number = number;
        this.hint = hint;
    }

    public int number() {
        return number;
    }

    /** What this errno usually means for a BPF call, for error messages. */
    public String hint() {
        return hint;
    }

    public static Errno of(int number) {
        for (Errno e : values()) {
            if (e.number == number) {
                return e;
            }
        }
        return UNKNOWN;
    }
}
