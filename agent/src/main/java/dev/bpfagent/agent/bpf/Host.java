package dev.bpfagent.agent.bpf;

import dev.bpfagent.agent.kernel.Capabilities;
import dev.bpfagent.agent.kernel.Mounts;
import java.nio.file.Path;
import java.util.List;

/** What the host must offer a BPF loader: capabilities and the bpf and tracing filesystems. */
public final class Host {
    /** Where bpffs and tracefs are mounted when the agent mounts them. */
    public static final Path BPFFS = Mounts.BPFFS;
    public static final Path TRACEFS = Mounts.TRACEFS;

    private Host() {
    }

    /** The capabilities this process lacks to load, attach and test-run programs, by name; empty when none. */
    public static List<String> missingCapabilities() {
        return Capabilities.missingForAgent(Capabilities.effective());
    }

    /**
     * Mounts bpffs at {@link #BPFFS} unless it is there; true when this call mounted it. A bpffs the
     * agent mounts is mode 0700: its pins are root's (the kernel checks file permissions on
     * BPF_OBJ_GET), others reach them through the agent.
     */
    public static boolean ensureBpffs() {
        return Mounts.ensure(BPFFS, "bpf", "mode=0700");
    }

    /**
     * Lifts RLIMIT_MEMLOCK as far as allowed (returns the limit now, -1 unlimited): kernels before 5.11 charge maps and programs against it (a 64 KiB default
     * makes map creation fail with EPERM); later kernels charge the memory cgroup and ignore it.
     */
    public static long raiseMemlock() {
        return dev.bpfagent.agent.kernel.LibC.raiseMemlock();
    }

    /** Mounts tracefs at {@link #TRACEFS} unless it is there; true when this call mounted it. */
    /** A listening socket this process inherited (systemd's LISTEN_FDS), made non-blocking and close-on-exec. */
    public static void adoptInheritedSocket(int fd) {
        dev.bpfagent.agent.kernel.InheritedFd.prepare(fd);
    }

    /** sd_notify(3): one state message ("READY=1", "STOPPING=1") to the socket NOTIFY_SOCKET names. */
    public static void sdNotify(String notifySocket, String state) {
        dev.bpfagent.agent.kernel.SdNotify.send(notifySocket, state);
    }

    public static boolean ensureTracefs() {
        return Mounts.ensure(TRACEFS, "tracefs");
    }

    /** Where tracefs is: the usual mount, or debugfs's tracing directory on older setups; empty if neither. */
    public static java.util.Optional<Path> tracefs() {
        for (Path p : List.of(TRACEFS, Path.of("/sys/kernel/debug/tracing"))) {
            if (java.nio.file.Files.isDirectory(p.resolve("events"))) {
                return java.util.Optional.of(p);
            }
        }
        return java.util.Optional.empty();
    }

    /** The first cgroup v2 mount (the unified hierarchy), if any. */
    public static java.util.Optional<Path> cgroup2() {
        return Mounts.current().stream().filter(m -> m.fstype().equals("cgroup2")).map(Mounts.Mount::target)
                .findFirst();
    }

    /** Every bpffs mount point on the host. */
    public static List<Path> bpffsMounts() {
        return Mounts.current().stream().filter(m -> m.fstype().equals("bpf")).map(Mounts.Mount::target).toList();
    }

    /** Every interface's XDP program now (any mode), by ifindex, in a named network namespace ("": the agent's). */
    public static java.util.Map<Integer, Integer> xdpProgramIds(String netns) {
        return dev.bpfagent.agent.kernel.NetNs.in(netns, Host::xdpProgramIds);
    }

    /**
     * The interfaces of a named network namespace now, name to ifindex sorted by name; empty when the
     * namespace is not there (deleted, or not made yet).
     */
    public static java.util.SortedMap<String, Integer> interfaces(String netns) {
        if (!dev.bpfagent.agent.kernel.NetNs.exists(netns)) {
            return new java.util.TreeMap<>();
        }
        try {
            return dev.bpfagent.agent.kernel.NetNs.run(netns, dev.bpfagent.agent.kernel.Netlink::interfaces);
        } catch (dev.bpfagent.agent.errno.KernelException gone) {
            return new java.util.TreeMap<>(); // deleted between the check and the switch
        }
    }

    /** Whether the named network namespace is there (/run/netns/NAME). */
    public static boolean netnsExists(String netns) {
        return dev.bpfagent.agent.kernel.NetNs.exists(netns);
    }

    /** Whether a name could name a network namespace (`ip netns` names). */
    public static boolean validNetnsName(String netns) {
        return dev.bpfagent.agent.kernel.NetNs.validName(netns);
    }

    /** Interfaces added, removed or changed in the agent's network namespace, as rtnetlink announces them. */
    public interface LinkChanges extends AutoCloseable {
        /** Waits up to timeoutMs; true when some interface changed meanwhile. */
        boolean await(int timeoutMs);

        /** Ends an await in another thread now. */
        void wakeup();

        @Override
        void close();
    }

    /** Subscribes to rtnetlink's link announcements (RTMGRP_LINK). */
    public static LinkChanges linkChanges() {
        var events = dev.bpfagent.agent.kernel.Netlink.LinkEvents.open();
        return new LinkChanges() {
            @Override
            public boolean await(int timeoutMs) {
                return events.await(timeoutMs);
            }

            @Override
            public void wakeup() {
                events.wakeup();
            }

            @Override
            public void close() {
                events.close();
            }
        };
    }

    /** Every interface's XDP program now (any mode), by ifindex: one netlink dump. */
    public static java.util.Map<Integer, Integer> xdpProgramIds() {
        java.util.Map<Integer, Integer> out = new java.util.HashMap<>();
        for (var x : dev.bpfagent.agent.kernel.Netlink.xdpPrograms()) {
            out.putIfAbsent(x.ifindex(), x.progId());
        }
        return out;
    }

    /** The id of the XDP program the interface runs now (any mode), or 0 for none. */
    public static int xdpProgramId(int ifindex) {
        return dev.bpfagent.agent.kernel.Netlink.xdpPrograms().stream().filter(x -> x.ifindex() == ifindex)
                .mapToInt(dev.bpfagent.agent.kernel.Netlink.XdpProgram::progId).findFirst().orElse(0);
    }
}
