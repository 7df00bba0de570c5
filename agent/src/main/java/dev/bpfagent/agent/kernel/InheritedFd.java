package dev.bpfagent.agent.kernel;

/** A file descriptor this process was started with (systemd's LISTEN_FDS), made fit for an event loop. */
public final class InheritedFd {
    private InheritedFd() {
    }

    static final int F_GETFD = 1;
    static final int F_SETFD = 2;
    static final int F_GETFL = 3;
    static final int F_SETFL = 4;
    static final int FD_CLOEXEC = 1;
    static final int O_NONBLOCK = 04000;

    /**
     * Sets O_NONBLOCK (systemd passes sockets blocking unless NonBlocking=yes, and an epoll loop that
     * accepts until EAGAIN would block on one) and FD_CLOEXEC (it is not passed on to what we run).
     */
    public static void prepare(int fd) {
        LibC.fcntl(fd, F_SETFL, LibC.fcntl(fd, F_GETFL, 0) | O_NONBLOCK);
        LibC.fcntl(fd, F_SETFD, LibC.fcntl(fd, F_GETFD, 0) | FD_CLOEXEC);
    }
}
