package dev.bpfagent.agent.kernel;

/** Directories held open: for an exclusive lock that lasts as long as the fd (flock(2)). */
public final class Dirs {
    private Dirs() {
    }

    /**
     * Opens a directory without following a symlink at its last component (O_NOFOLLOW | O_DIRECTORY)
     * and takes an exclusive, non-blocking flock on it. Closing the fd releases the lock (as does
     * the process' death).
     *
     * @throws dev.bpfagent.agent.errno.KernelException EWOULDBLOCK (EAGAIN) when another process holds
     *         the lock; ELOOP when the path is a symlink; ENOTDIR when it is not a directory
     */
    public static Fd lockExclusive(String path) {
        Fd fd = LibC.open(path, LibC.O_RDONLY | LibC.O_DIRECTORY | LibC.O_NOFOLLOW);
        try {
            LibC.flock(fd, LibC.LOCK_EX | LibC.LOCK_NB);
            return fd;
        } catch (RuntimeException e) {
            fd.close();
            throw e;
        }
    }
}
