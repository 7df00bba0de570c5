package dev.bpfagent.agent.kernel;

import dev.bpfagent.agent.errno.KernelException;
import dev.bpfagent.agent.errno.Errno;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A file descriptor that is closed exactly once, and never while a call is using it.
 *
 * <p>Callers {@link #hold()} the fd around each system call; {@link #close()} marks it closed and the
 * real close(2) happens when the last holder lets go. This is what keeps a concurrent close from
 * turning a fd number into another object's fd (the kernel reuses numbers at once).
 */
public final class Fd implements AutoCloseable {
    private final int fd;
    /** 1 for the owner plus 1 per holder; close(2) runs when it reaches 0. */
    private final AtomicInteger refs = new AtomicInteger(1);
    private final AtomicBoolean closed = new AtomicBoolean();

    public Fd(int fd) {
        if (fd < 0) {
            throw new IllegalArgumentException("fd must be >= 0, got " + fd);
        }
        this.fd = fd;
    }

    /** open(path, O_RDONLY | O_CLOEXEC): a namespace file, a cgroup directory, a file the kernel reads by fd. */
    public static Fd openReadOnly(String path) {
        return LibC.open(path, LibC.O_RDONLY | LibC.O_CLOEXEC);
    }

    /** A use of the fd; close it (try-with-resources) when the system call is done. */
    public Held hold() {
        while (true) {
            int r = refs.get();
            if (r == 0 || closed.get()) {
                throw KernelException.of("use of fd " + fd, Errno.EBADF.number(), "it was closed");
            }
            if (refs.compareAndSet(r, r + 1)) {
                return new Held(this);
            }
        }
    }

    /**
     * What kind of object the fd refers to, as the kernel names its anon inode: "bpf-prog", "bpf-map",
     * "bpf_link", "btf", "[perf_event]", ... (from /proc/self/fd); empty if it cannot be read.
     */
    public String kind() {
        try (Held h = hold()) {
            String target = java.nio.file.Files.readSymbolicLink(java.nio.file.Path.of("/proc/self/fd/" + h.fd()))
                    .toString();
            return target.startsWith("anon_inode:") ? target.substring("anon_inode:".length()) : target;
        } catch (java.io.IOException e) {
            return "";
        }
    }

    public boolean isClosed() {
        return closed.get();
    }

    /** The number, for messages and tests only; use {@link #hold()} to pass it to the kernel. */
    public int number() {
        return fd;
    }

    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            release();
        }
    }

    private void release() {
        if (refs.decrementAndGet() == 0) {
            LibC.close(fd);
        }
    }

    @Override
    public String toString() {
        return "Fd[" + fd + (closed.get() ? ", closed" : "") + "]";
    }

    /** One holder's use of a {@link Fd}. */
    public static final class Held implements AutoCloseable {
        private final Fd owner;
        private boolean released;

        private Held(Fd owner) {
            this.owner = owner;
        }

        public int fd() {
            return owner.fd;
        }

        @Override
        public void close() {
            if (!released) {
                released = true;
                owner.release();
            }
        }
    }
}
