package dev.bpfagent.agent.kernel;

import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * An epoll instance (epoll(7)) watching fds for EPOLLIN, each named by a token the caller picks, with an
 * eventfd that {@link #wakeup()} writes to so another thread can end a wait at once.
 *
 * <p>struct epoll_event is packed on x86_64 (u32 events, then u64 data at offset 4: 12 bytes), the only
 * architecture this package's syscall numbers are for. One thread waits at a time; {@link #wakeup()} may
 * be called from any thread; {@link #close()} only once no thread waits.
 */
public final class Epoll implements AutoCloseable {
    static final int EVENT_SIZE = 12;
    /** The token the wakeup eventfd reports; never handed to the caller. */
    private static final long WAKEUP = -1L;

    private final Fd epfd;
    private final Fd wake;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment events;
    private final MemorySegment state;
    private final int maxEvents;

    private Epoll(Fd epfd, Fd wake, int maxEvents) {
        this.epfd = epfd;
        this.wake = wake;
        this.maxEvents = maxEvents;
        this.events = arena.allocate((long) EVENT_SIZE * maxEvents, 8);
        this.state = LibC.captureState(arena);
    }

    /** A new instance that reports at most maxEvents ready fds per wait. */
    public static Epoll create(int maxEvents) {
        Fd ep = LibC.epollCreate1();
        Fd wake = null;
        try {
            wake = LibC.eventfd(LibC.EFD_CLOEXEC | LibC.EFD_NONBLOCK);
            Epoll e = new Epoll(ep, wake, Math.max(1, maxEvents) + 1);
            e.add(wake, WAKEUP);
            return e;
        } catch (RuntimeException ex) {
            if (wake != null) {
                wake.close();
            }
            ep.close();
            throw ex;
        }
    }

    /** EPOLL_CTL_ADD of fd for EPOLLIN; a wait reports token when it is readable. */
    public void add(Fd fd, long token) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment ev = a.allocate(EVENT_SIZE, 8);
            ev.set(JAVA_INT_UNALIGNED, 0, LibC.EPOLLIN);
            ev.set(JAVA_LONG_UNALIGNED, 4, token);
            LibC.epollCtlAdd(epfd, fd, ev);
        }
    }

    /**
     * Waits up to timeoutMs (-1: no limit, 0: do not wait) for a watched fd to become readable or for
     * {@link #wakeup()}. Fills ready with the ready tokens and returns how many (0 on timeout, wakeup or a
     * signal); ready needs room for the maxEvents given at create.
     */
    public int await(int timeoutMs, long[] ready) {
        int n = LibC.epollWait(epfd, events, maxEvents, timeoutMs, state);
        int out = 0;
        for (int i = 0; i < n; i++) {
            long token = events.get(JAVA_LONG_UNALIGNED, (long) i * EVENT_SIZE + 4);
            if (token == WAKEUP) {
                drainWakeups();
            } else if (out < ready.length) {
                ready[out++] = token;
            }
        }
        return out;
    }

    /**
     * Ends a wait in another thread now (or makes the next one return at once). Its buffer is its own
     * (not this instance's arena), so a wakeup racing {@link #close()} cannot keep the arena from closing;
     * the eventfd itself is held for the write, or the call fails (EBADF) once it is closed.
     */
    public void wakeup() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment one = a.allocate(JAVA_LONG);
            one.set(JAVA_LONG, 0, 1L);
            LibC.write(wake, one); // -1 (EAGAIN) only when the counter is full: a wakeup is pending anyway
        }
    }

    private void drainWakeups() {
        try (Arena a = Arena.ofConfined()) {
            LibC.read(wake, a.allocate(JAVA_LONG)); // non-blocking: resets the counter
        } catch (RuntimeException e) {
            // EAGAIN: another wait drained it first
        }
    }

    @Override
    public void close() {
        wake.close();
        epfd.close();
        arena.close();
    }
}
