package dev.bpfagent.agent.kernel;

import dev.bpfagent.agent.errno.Errno;
import dev.bpfagent.agent.errno.KernelException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.Supplier;
import java.util.regex.Pattern;

/**
 * Named network namespaces, as `ip netns` makes them (a bind mount at /run/netns/NAME). What is
 * resolved by ifindex or through rtnetlink (an interface's index, a BPF_LINK_CREATE for XDP or tcx, a
 * netlink socket) is resolved in the calling thread's namespace: {@link #run} does such work on one
 * worker thread that setns(2)s into the namespace for the task and back to the agent's own after it.
 * A netlink socket keeps the namespace it was opened in; a link keeps its interface.
 */
public final class NetNs {
    static final int CLONE_NEWNET = 0x40000000;
    /** Where `ip netns add NAME` mounts a namespace. */
    public static final Path RUN_NETNS = Path.of("/run/netns");
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9_.-]{1,255}");

    private static final ExecutorService WORKER = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "bpf-agent-netns");
        t.setDaemon(true);
        return t;
    });
    /** The worker's own namespace (the agent's), opened on the worker before its first switch. */
    private static Fd home;
    private static volatile Thread worker;
    private static String current = "";

    private NetNs() {
    }

    /** Whether the name could name a namespace under /run/netns (no slashes, not . or ..). */
    public static boolean validName(String name) {
        return NAME.matcher(name).matches() && !name.equals(".") && !name.equals("..");
    }

    /** Whether /run/netns/NAME is there now. */
    public static boolean exists(String name) {
        return validName(name) && Files.exists(RUN_NETNS.resolve(name));
    }

    /**
     * Runs the task inside the named network namespace and returns what it returns. ENOENT (a
     * KernelException) when there is no such namespace; the task's own exceptions pass through.
     */
    public static <T> T run(String name, Supplier<T> task) {
        if (!validName(name)) {
            throw new IllegalArgumentException("'" + name + "' is not a network namespace name (ip netns names:"
                    + " letters, digits, _ . -)");
        }
        if (Thread.currentThread() == worker) {
            if (current.equals(name)) {
                return task.get(); // nested, in the same namespace
            }
            throw new IllegalStateException("a task in netns " + current + " asked for netns " + name);
        }
        Future<T> f = WORKER.submit(() -> {
            worker = Thread.currentThread();
            if (home == null) {
                home = Fd.openReadOnly("/proc/thread-self/ns/net");
            }
            Fd ns;
            try {
                ns = Fd.openReadOnly(RUN_NETNS.resolve(name).toString());
            } catch (KernelException e) {
                throw e.errno() == Errno.ENOENT ? KernelException.of("open netns " + name, Errno.ENOENT.number(),
                        "no network namespace '" + name + "' (" + RUN_NETNS + "/" + name + ")") : e;
            }
            try (ns) {
                LibC.setns(ns, CLONE_NEWNET);
                current = name;
                try {
                    return task.get();
                } finally {
                    current = "";
                    LibC.setns(home, CLONE_NEWNET);
                }
            }
        });
        try {
            return f.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted waiting for netns " + name, e);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException re) {
                throw re;
            }
            if (e.getCause() instanceof Error err) {
                throw err;
            }
            throw new IllegalStateException(e.getCause());
        }
    }

    /** Runs the task in the named namespace, or here when the name is empty (the agent's own). */
    public static <T> T in(String name, Supplier<T> task) {
        return name == null || name.isEmpty() ? task.get() : run(name, task);
    }
}
