package dev.bpfagent.agent.bpf;

import dev.bpfagent.agent.kernel.Dirs;
import dev.bpfagent.agent.kernel.Fd;
import java.nio.file.Path;

/**
 * A bpffs directory held open, in which pins and subdirectories are made and removed by name,
 * relative to its fd and never through a symlink: a symlink where a directory is expected fails
 * (ELOOP) instead of being followed, and a path swapped between two calls cannot redirect either.
 * Failures are the kernel's ({@link dev.bpfagent.agent.errno.KernelException} with its errno).
 */
public final class PinDirectory implements AutoCloseable {
    private final Fd fd;
    private final Path path;

    private PinDirectory(Fd fd, Path path) {
        this.fd = fd;
        this.path = path;
    }

    /** Opens a directory by absolute path; its last component may not be a symlink. */
    public static PinDirectory open(Path absolute) {
        return new PinDirectory(Dirs.open(absolute.toString()), absolute);
    }

    /** The subdirectory name, opened without following a symlink (ENOENT when missing). */
    public PinDirectory child(String name) {
        return new PinDirectory(Dirs.openAt(fd, name), path.resolve(name));
    }

    /** Creates the subdirectory name (EEXIST when something is there). */
    public void mkdir(String name, int mode) {
        Dirs.mkdirAt(fd, name, mode);
    }

    /** Pins obj here under name (EEXIST when the name is taken, whatever it is). */
    public void pin(BpfObject obj, String name) {
        try (Fd.Held h = fd.hold()) {
            obj.pin(Dirs.pathAt(h, name));
        }
    }

    /** Removes the pin name (ENOENT when missing, EISDIR when it is a directory). */
    public void unlink(String name) {
        Dirs.unlinkAt(fd, name);
    }

    /** Removes the empty subdirectory name (ENOTEMPTY when it is not empty). */
    public void rmdir(String name) {
        Dirs.rmdirAt(fd, name);
    }

    /** Takes an exclusive flock on this directory, held until it is closed (EAGAIN when taken). */
    public void lockExclusive() {
        Dirs.lockExclusive(fd);
    }

    /** The path it was opened by, for messages. */
    public Path path() {
        return path;
    }

    @Override
    public void close() {
        fd.close();
    }
}
