package dev.bpfagent.agent.kernel;

import dev.bpfagent.agent.errno.KernelException;
import dev.bpfagent.agent.errno.Errno;
import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;

/**
 * The libc entry points the agent needs, bound with java.lang.foreign, each capturing errno.
 * This class and the others in this package are the only code that touches native memory.
 *
 * <p>Only x86_64 syscall numbers are here; the agent is built for linux-x86_64.
 */
public final class LibC {
    /** asm/unistd_64.h */
    static final long SYS_BPF = 321;
    static final long SYS_PERF_EVENT_OPEN = 298;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final StructLayout CAPTURE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO =
            CAPTURE.varHandle(MemoryLayout.PathElement.groupElement("errno"));

    /** long syscall(long number, ...) with three arguments, the last two as longs. */
    private static final MethodHandle SYSCALL3 = downcall("syscall",
            FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_LONG, ADDRESS, JAVA_LONG), 1);
    /** long syscall(long number, ...) with five arguments: pointer, then four longs. */
    private static final MethodHandle SYSCALL5 = downcall("syscall",
            FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, ADDRESS, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG), 1);
    /** int ioctl(int fd, unsigned long request, ...) with one long argument. */
    private static final MethodHandle IOCTL = downcall("ioctl",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG), 2);
    /** int close(int fd) */
    private static final MethodHandle CLOSE = downcall("close", FunctionDescriptor.of(JAVA_INT, JAVA_INT), -1);
    /** int mount(const char *source, const char *target, const char *fstype, unsigned long flags, const void *data) */
    private static final MethodHandle MOUNT = downcall("mount",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, JAVA_LONG, ADDRESS), -1);

    /** int setns(int fd, int nstype) */
    private static final MethodHandle SETNS = downcall("setns", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT), -1);

    /** int open(const char *path, int flags, ...) */
    private static final MethodHandle OPEN = downcall("open",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT), 2);
    /** void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off) */
    private static final MethodHandle MMAP = downcall("mmap",
            FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG), -1);
    /** int munmap(void *addr, size_t len) */
    private static final MethodHandle MUNMAP = downcall("munmap", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG), -1);

    /** int setrlimit(int resource, const struct rlimit *rlim) */
    private static final MethodHandle SETRLIMIT = downcall("setrlimit",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS), -1);
    /** sys/resource.h */
    static final int RLIMIT_MEMLOCK = 8;

    /** int getrlimit(int resource, struct rlimit *rlim) */
    private static final MethodHandle GETRLIMIT = downcall("getrlimit",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS), -1);

    /**
     * Raises RLIMIT_MEMLOCK as far as allowed: to unlimited (needs CAP_SYS_RESOURCE), else the soft limit
     * to the hard one. Returns the soft limit now in force (-1: unlimited).
     */
    public static long raiseMemlock() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CAPTURE);
            MemorySegment rlim = arena.allocate(16, 8);
            rlim.set(JAVA_LONG, 0, -1L); // RLIM_INFINITY
            rlim.set(JAVA_LONG, 8, -1L);
            if ((int) SETRLIMIT.invokeExact(state, RLIMIT_MEMLOCK, rlim) == 0) {
                return -1;
            }
            if ((int) GETRLIMIT.invokeExact(state, RLIMIT_MEMLOCK, rlim) < 0) {
                throw KernelException.of("getrlimit(RLIMIT_MEMLOCK)", errno(state), null);
            }
            rlim.set(JAVA_LONG, 0, rlim.get(JAVA_LONG, 8));
            if ((int) SETRLIMIT.invokeExact(state, RLIMIT_MEMLOCK, rlim) < 0) {
                throw KernelException.of("setrlimit(RLIMIT_MEMLOCK)", errno(state), null);
            }
            return rlim.get(JAVA_LONG, 0);
        } catch (KernelException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("downcall setrlimit failed", t);
        }
    }

    /** int socket(int domain, int type, int protocol) */
    private static final MethodHandle SOCKET = downcall("socket",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT), -1);
    /** ssize_t send(int fd, const void *buf, size_t len, int flags) */
    private static final MethodHandle SEND = downcall("send",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT), -1);
    /** ssize_t recv(int fd, void *buf, size_t len, int flags) */
    private static final MethodHandle RECV = downcall("recv",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT), -1);

    /** int bind(int fd, const struct sockaddr *addr, socklen_t len) */
    private static final MethodHandle BIND = downcall("bind",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT), -1);

    /** int connect(int fd, const struct sockaddr *addr, socklen_t len) */
    private static final MethodHandle CONNECT = downcall("connect",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT), -1);

    /** int fcntl(int fd, int cmd, ...) with one int argument. */
    private static final MethodHandle FCNTL = downcall("fcntl",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT), 2);

    /** fcntl(2): F_GETFL, F_SETFL, F_GETFD, F_SETFD on a raw fd (one this process inherited). */
    static int fcntl(int fd, int cmd, int arg) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CAPTURE);
            int r = (int) FCNTL.invokeExact(state, fd, cmd, arg);
            if (r < 0) {
                throw KernelException.of("fcntl", errno(state), null);
            }
            return r;
        } catch (KernelException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("downcall fcntl failed", t);
        }
    }

    /** connect(2) of a socket to the first len bytes of addr. */
    static void connect(Fd fd, MemorySegment addr, int len) {
        try (Arena arena = Arena.ofConfined(); Fd.Held h = fd.hold()) {
            MemorySegment state = arena.allocate(CAPTURE);
            int r = (int) CONNECT.invokeExact(state, h.fd(), addr, len);
            if (r < 0) {
                throw KernelException.of("connect", errno(state), null);
            }
        } catch (KernelException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("downcall connect failed", t);
        }
    }

    /** bind(2) of a socket to the address in addr (its whole size). */
    static void bind(Fd fd, MemorySegment addr) {
        try (Arena arena = Arena.ofConfined(); Fd.Held h = fd.hold()) {
            MemorySegment state = arena.allocate(CAPTURE);
            int r = (int) BIND.invokeExact(state, h.fd(), addr, (int) addr.byteSize());
            if (r < 0) {
                throw KernelException.of("bind", errno(state), null);
            }
        } catch (KernelException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("downcall bind failed", t);
        }
    }

    /** socket(2), close-on-exec: a new fd, owned by the caller. */
    static Fd socket(int domain, int type, int protocol) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CAPTURE);
            int fd = (int) SOCKET.invokeExact(state, domain, type | 02000000 /* SOCK_CLOEXEC */, protocol);
            if (fd < 0) {
                throw KernelException.of("socket", errno(state), null);
            }
            return new Fd(fd);
        } catch (KernelException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("downcall socket failed", t);
        }
    }

    /** send(2) of the whole buffer (netlink sends a message whole or not at all). */
    static void send(Fd fd, MemorySegment buf) {
        try (Arena arena = Arena.ofConfined(); Fd.Held h = fd.hold()) {
            MemorySegment state = arena.allocate(CAPTURE);
            long n = (long) SEND.invokeExact(state, h.fd(), buf, buf.byteSize(), 0);
            if (n < 0) {
                throw KernelException.of("send", errno(state), null);
            }
        } catch (KernelException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("downcall send failed", t);
        }
    }

    /** recv(2) into buf: the bytes received. */
    static int recv(Fd fd, MemorySegment buf) {
        try (Arena arena = Arena.ofConfined(); Fd.Held h = fd.hold()) {
            MemorySegment state = arena.allocate(CAPTURE);
            long n = (long) RECV.invokeExact(state, h.fd(), buf, buf.byteSize(), 0);
            if (n < 0) {
                throw KernelException.of("recv", errno(state), null);
            }
            return (int) n;
        } catch (KernelException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("downcall recv failed", t);
        }
    }

    /** ssize_t read(int fd, void *buf, size_t count) */
    private static final MethodHandle READ = downcall("read",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG), -1);

    /** read(2) into buf, retried on EINTR: the bytes read, 0 at the end. */
    static int read(Fd fd, MemorySegment buf) {
        try (Arena arena = Arena.ofConfined(); Fd.Held h = fd.hold()) {
            MemorySegment state = arena.allocate(CAPTURE);
            while (true) {
                long n = (long) READ.invokeExact(state, h.fd(), buf, buf.byteSize());
                if (n >= 0) {
                    return (int) n;
                }
                int errno = errno(state);
                if (errno != 4 /* EINTR */) {
                    throw KernelException.of("read", errno, null);
                }
            }
        } catch (KernelException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("downcall read failed", t);
        }
    }

    /** int epoll_create1(int flags) */
    private static final MethodHandle EPOLL_CREATE1 = downcall("epoll_create1",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT), -1);
    /** int epoll_ctl(int epfd, int op, int fd, struct epoll_event *event) */
    private static final MethodHandle EPOLL_CTL = downcall("epoll_ctl",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS), -1);
    /** int epoll_wait(int epfd, struct epoll_event *events, int maxevents, int timeout) */
    private static final MethodHandle EPOLL_WAIT = downcall("epoll_wait",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT), -1);
    /** int eventfd(unsigned int initval, int flags) */
    private static final MethodHandle EVENTFD = downcall("eventfd",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT), -1);
    /** ssize_t write(int fd, const void *buf, size_t count) */
    private static final MethodHandle WRITE = downcall("write",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG), -1);
    /** sys/epoll.h, sys/eventfd.h */
    static final int EPOLL_CLOEXEC = 02000000, EPOLL_CTL_ADD = 1, EPOLLIN = 1;
    static final int EFD_CLOEXEC = 02000000, EFD_NONBLOCK = 04000;

    static Fd epollCreate1() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CAPTURE);
            int fd = (int) EPOLL_CREATE1.invokeExact(state, EPOLL_CLOEXEC);
            if (fd < 0) {
                throw KernelException.of("epoll_create1", errno(state), null);
            }
            return new Fd(fd);
        } catch (KernelException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("downcall epoll_create1 failed", t);
        }
    }

    /** epoll_ctl(EPOLL_CTL_ADD) of fd for events, with event (a struct epoll_event) as the caller built it. */
    static void epollCtlAdd(Fd epoll, Fd fd, MemorySegment event) {
        try (Arena arena = Arena.ofConfined(); Fd.Held e = epoll.hold(); Fd.Held f = fd.hold()) {
            MemorySegment state = arena.allocate(CAPTURE);
            int r = (int) EPOLL_CTL.invokeExact(state, e.fd(), EPOLL_CTL_ADD, f.fd(), event);
            if (r < 0) {
                throw KernelException.of("epoll_ctl", errno(state), null);
            }
        } catch (KernelException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("downcall epoll_ctl failed", t);
        }
    }

    /**
     * epoll_wait into events (room for maxEvents), state being a capture-state segment the caller keeps
     * (a hot loop allocates nothing). Returns the ready count; 0 on timeout or when a signal interrupted it.
     */
    static int epollWait(Fd epoll, MemorySegment events, int maxEvents, int timeoutMs, MemorySegment state) {
        try (Fd.Held e = epoll.hold()) {
            int r = (int) EPOLL_WAIT.invokeExact(state, e.fd(), events, maxEvents, timeoutMs);
            if (r < 0) {
                int errno = errno(state);
                if (errno == Errno.EINTR.number()) {
                    return 0;
                }
                throw KernelException.of("epoll_wait", errno, null);
            }
            return r;
        } catch (KernelException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("downcall epoll_wait failed", t);
        }
    }

    /** A capture-state segment for {@link #epollWait}, allocated in the caller's arena. */
    static MemorySegment captureState(Arena arena) {
        return arena.allocate(CAPTURE);
    }

    static Fd eventfd(int flags) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CAPTURE);
            int fd = (int) EVENTFD.invokeExact(state, 0, flags);
            if (fd < 0) {
                throw KernelException.of("eventfd", errno(state), null);
            }
            return new Fd(fd);
        } catch (KernelException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("downcall eventfd failed", t);
        }
    }

    /** write(2) of all of buf (an eventfd takes 8 bytes in one write); EAGAIN is returned as -1. */
    static long write(Fd fd, MemorySegment buf) {
        try (Arena arena = Arena.ofConfined(); Fd.Held h = fd.hold()) {
            MemorySegment state = arena.allocate(CAPTURE);
            long n = (long) WRITE.invokeExact(state, h.fd(), buf, buf.byteSize());
            if (n < 0) {
                int errno = errno(state);
                if (errno == Errno.EAGAIN.number()) {
                    return -1;
                }
                throw KernelException.of("write", errno, null);
            }
            return n;
        } catch (KernelException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("downcall write failed", t);
        }
    }

    /** sys/mman.h */
    public static final int PROT_READ = 1, PROT_WRITE = 2, MAP_SHARED = 1;

    /** int openat(int dirfd, const char *path, int flags, ...) */
    private static final MethodHandle OPENAT = downcall("openat",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT), 3);
    /** int mkdirat(int dirfd, const char *path, mode_t mode) */
    private static final MethodHandle MKDIRAT = downcall("mkdirat",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT), -1);
    /** int unlinkat(int dirfd, const char *path, int flags) */
    private static final MethodHandle UNLINKAT = downcall("unlinkat",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT), -1);
    /** int flock(int fd, int operation) */
    private static final MethodHandle FLOCK = downcall("flock", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT), -1);

    /** fcntl.h (x86_64 and aarch64 agree on these) */
    public static final int O_RDONLY = 0, O_DIRECTORY = 0200000, O_NOFOLLOW = 0400000, O_CLOEXEC = 02000000;
    /** fcntl.h: unlinkat removes a directory */
    public static final int AT_REMOVEDIR = 0x200;
    /** sys/file.h */
    public static final int LOCK_EX = 2, LOCK_NB = 4;

    private LibC() {
    }

    private static MethodHandle downcall(String name, FunctionDescriptor fd, int firstVariadic) {
        MemorySegment symbol = LINKER.defaultLookup().find(name)
                .orElseThrow(() -> new IllegalStateException("libc has no symbol " + name));
        Linker.Option capture = Linker.Option.captureCallState("errno");
        return firstVariadic >= 0
                ? LINKER.downcallHandle(symbol, fd, Linker.Option.firstVariadicArg(firstVariadic), capture)
                : LINKER.downcallHandle(symbol, fd, capture);
    }

    private static int errno(MemorySegment state) {
        return (int) ERRNO.get(state, 0L);
    }

    /** bpf(cmd, attr, size); returns the kernel's non-negative result or throws with errno. */
    static long bpf(Arena arena, String cmdName, int cmd, MemorySegment attr) {
        try {
            MemorySegment state = arena.allocate(CAPTURE);
            for (int attempt = 1; ; attempt++) {
                long r = (long) SYSCALL3.invokeExact(state, SYS_BPF, (long) cmd, attr, attr.byteSize());
                if (r >= 0) {
                    return r;
                }
                int errno = errno(state);
                // EAGAIN from BPF_PROG_LOAD is transient (libbpf retries it 5 times too); EINTR is a signal.
                boolean transientErr = errno == Errno.EINTR.number() || errno == Errno.EAGAIN.number();
                if (!transientErr || attempt >= 5) {
                    throw KernelException.of(cmdName, errno, null);
                }
            }
        } catch (KernelException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("downcall bpf failed", t);
        }
    }

    /** perf_event_open(attr, pid, cpu, group_fd, flags); returns the new fd. */
    static int perfEventOpen(MemorySegment attr, int pid, int cpu, int groupFd, long flags) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CAPTURE);
            long r = (long) SYSCALL5.invokeExact(state, SYS_PERF_EVENT_OPEN, attr, (long) pid, (long) cpu,
                    (long) groupFd, flags);
            if (r < 0) {
                throw KernelException.of("perf_event_open", errno(state), null);
            }
            return (int) r;
        } catch (KernelException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("downcall perf_event_open failed", t);
        }
    }

    static int ioctl(String requestName, int fd, long request, long arg) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CAPTURE);
            int r = (int) IOCTL.invokeExact(state, fd, request, arg);
            if (r < 0) {
                throw KernelException.of("ioctl(" + requestName + ")", errno(state), null);
            }
            return r;
        } catch (KernelException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("downcall ioctl failed", t);
        }
    }

    static void close(int fd) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CAPTURE);
            // close(2) releases the fd even when it reports EINTR; never retry it.
            int ignored = (int) CLOSE.invokeExact(state, fd);
        } catch (Throwable t) {
            throw new IllegalStateException("downcall close failed", t);
        }
    }

    /** open(2): a new fd, owned by the caller. */
    static Fd open(String path, int flags) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CAPTURE);
            int fd = (int) OPEN.invokeExact(state, arena.allocateFrom(path), flags | O_CLOEXEC, 0);
            if (fd < 0) {
                throw KernelException.of("open(" + path + ")", errno(state), null);
            }
            return new Fd(fd);
        } catch (KernelException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("downcall open failed", t);
        }
    }

    /** openat(2) relative to a directory fd the caller holds: a new fd, owned by the caller. */
    static Fd openat(Fd dir, String name, int flags) {
        try (Arena arena = Arena.ofConfined(); Fd.Held h = dir.hold()) {
            MemorySegment state = arena.allocate(CAPTURE);
            int fd = (int) OPENAT.invokeExact(state, h.fd(), arena.allocateFrom(name), flags | O_CLOEXEC, 0);
            if (fd < 0) {
                throw KernelException.of("openat", errno(state), name);
            }
            return new Fd(fd);
        } catch (KernelException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("downcall openat failed", t);
        }
    }

    /** mkdirat(2) relative to a directory fd the caller holds. */
    static void mkdirat(Fd dir, String name, int mode) {
        try (Arena arena = Arena.ofConfined(); Fd.Held h = dir.hold()) {
            MemorySegment state = arena.allocate(CAPTURE);
            int r = (int) MKDIRAT.invokeExact(state, h.fd(), arena.allocateFrom(name), mode);
            if (r < 0) {
                throw KernelException.of("mkdirat", errno(state), name);
            }
        } catch (KernelException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("downcall mkdirat failed", t);
        }
    }

    /** unlinkat(2) relative to a directory fd the caller holds; never follows the last component. */
    static void unlinkat(Fd dir, String name, int flags) {
        try (Arena arena = Arena.ofConfined(); Fd.Held h = dir.hold()) {
            MemorySegment state = arena.allocate(CAPTURE);
            int r = (int) UNLINKAT.invokeExact(state, h.fd(), arena.allocateFrom(name), flags);
            if (r < 0) {
                throw KernelException.of("unlinkat", errno(state), name);
            }
        } catch (KernelException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("downcall unlinkat failed", t);
        }
    }

    /** mmap(2) of an fd the caller holds: the mapping's address, len bytes (the caller munmaps it). */
    static MemorySegment mmap(Fd fd, long len, int prot, long offset) {
        try (Arena arena = Arena.ofConfined(); Fd.Held h = fd.hold()) {
            MemorySegment state = arena.allocate(CAPTURE);
            MemorySegment addr = (MemorySegment) MMAP.invokeExact(state, MemorySegment.NULL, len, prot, MAP_SHARED,
                    h.fd(), offset);
            if (addr.address() == -1L) {
                throw KernelException.of("mmap", errno(state), null);
            }
            return addr.reinterpret(len);
        } catch (KernelException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("downcall mmap failed", t);
        }
    }

    static void munmap(MemorySegment addr) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CAPTURE);
            int ignored = (int) MUNMAP.invokeExact(state, addr, addr.byteSize());
        } catch (Throwable t) {
            throw new IllegalStateException("downcall munmap failed", t);
        }
    }

    /** flock(2) on an fd the caller holds. */
    static void flock(Fd fd, int operation) {
        try (Arena arena = Arena.ofConfined(); Fd.Held h = fd.hold()) {
            MemorySegment state = arena.allocate(CAPTURE);
            int r = (int) FLOCK.invokeExact(state, h.fd(), operation);
            if (r < 0) {
                throw KernelException.of("flock", errno(state), null);
            }
        } catch (KernelException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("downcall flock failed", t);
        }
    }

    /** setns(2): moves the calling thread into the namespace fd names (nstype: CLONE_NEW*). */
    static void setns(Fd ns, int nstype) {
        try (Arena arena = Arena.ofConfined(); Fd.Held h = ns.hold()) {
            MemorySegment state = arena.allocate(CAPTURE);
            int r = (int) SETNS.invokeExact(state, h.fd(), nstype);
            if (r < 0) {
                throw KernelException.of("setns", errno(state), null);
            }
        } catch (KernelException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("downcall setns failed", t);
        }
    }

    static void mount(String source, String target, String fstype, String data) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CAPTURE);
            int r = (int) MOUNT.invokeExact(state, arena.allocateFrom(source), arena.allocateFrom(target),
                    arena.allocateFrom(fstype), 0L, (MemorySegment) (data == null ? MemorySegment.NULL : arena.allocateFrom(data)));
            if (r < 0) {
                throw KernelException.of("mount(" + fstype + " on " + target + ")", errno(state), null);
            }
        } catch (KernelException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("downcall mount failed", t);
        }
    }
}
