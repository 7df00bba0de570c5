package dev.bpfagent.agent.kernel;

import dev.bpfagent.agent.errno.KernelException;

/**
 * Directories worked on through their fds: opened without following symlinks, names created and
 * removed relative to them (openat, mkdirat, unlinkat), and an exclusive flock. Nothing here resolves
 * a path from the root again, so a symlink swapped in between two calls is never followed.
 */
public final class Dirs {
    private Dirs() {
    }

    private static final int DIR_FLAGS = LibC.O_RDONLY | LibC.O_DIRECTORY | LibC.O_NOFOLLOW;

    /** Opens a directory by absolute path; its last component may not be a symlink (ELOOP). */
    public static Fd open(String path) {
        return LibC.open(path, DIR_FLAGS);
    }

    /** Opens the directory name inside dir; a symlink there fails with ELOOP, a file with ENOTDIR. */
    public static Fd openAt(Fd dir, String name) {
        return LibC.openat(dir, name, DIR_FLAGS);
    }

    /** mkdirat(dir, name, mode). */
    public static void mkdirAt(Fd dir, String name, int mode) {
        LibC.mkdirat(dir, name, mode);
    }

    /** Removes the entry name in dir (a pin or another file; EISDIR for a directory). */
    public static void unlinkAt(Fd dir, String name) {
        LibC.unlinkat(dir, name, 0);
    }

    /** Removes the empty directory name in dir (ENOTEMPTY when it is not empty). */
    public static void rmdirAt(Fd dir, String name) {
        LibC.unlinkat(dir, name, LibC.AT_REMOVEDIR);
    }

    /**
     * A path naming name inside dir through the fd's magic link, for calls that take only a path
     * (BPF_OBJ_PIN): the kernel resolves it to the directory dir refers to, whatever its path now.
     * Valid while the caller holds dir.
     */
    public static String pathAt(Fd.Held dir, String name) {
        return "/proc/self/fd/" + dir.fd() + "/" + name;
    }

    /** An exclusive, non-blocking flock, held until the fd is closed. */
    public static void lockExclusive(Fd dir) {
        LibC.flock(dir, LibC.LOCK_EX | LibC.LOCK_NB);
    }

    /** Opens a directory and takes an exclusive flock on it, waiting for it (libxdp's lock); closing releases it. */
    public static Fd lockExclusiveWaiting(String path) {
        Fd fd = open(path);
        try {
            LibC.flock(fd, LibC.LOCK_EX);
            return fd;
        } catch (RuntimeException e) {
            fd.close();
            throw e;
        }
    }

    /**
     * Opens a directory without following a symlink at its last component and takes an exclusive,
     * non-blocking flock on it; closing the fd releases the lock.
     *
     * @throws KernelException EWOULDBLOCK (EAGAIN) when another process holds the lock
     */
    public static Fd lockExclusive(String path) {
        Fd fd = open(path);
        try {
            lockExclusive(fd);
            return fd;
        } catch (RuntimeException e) {
            fd.close();
            throw e;
        }
    }
}
