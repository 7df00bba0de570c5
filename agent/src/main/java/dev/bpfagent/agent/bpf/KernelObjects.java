package dev.bpfagent.agent.bpf;

import dev.bpfagent.agent.kernel.Bpf;
import dev.bpfagent.agent.kernel.BpfCmd;
import dev.bpfagent.agent.kernel.Fd;
import dev.bpfagent.agent.errno.KernelException;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalInt;

/** Walks the kernel's id spaces: every loaded program, every BPF link. */
public final class KernelObjects {
    private KernelObjects() {
    }

    /** Ids of every program loaded in the kernel, ascending. */
    public static List<Integer> programIds() {
        return ids(BpfCmd.BPF_PROG_GET_NEXT_ID);
    }

    /** Ids of every map in the kernel, ascending. */
    public static List<Integer> mapIds() {
        return ids(BpfCmd.BPF_MAP_GET_NEXT_ID);
    }

    /** Ids of every BPF link in the kernel, ascending. */
    public static List<Integer> linkIds() {
        return ids(BpfCmd.BPF_LINK_GET_NEXT_ID);
    }

    private static List<Integer> ids(BpfCmd cmd) {
        List<Integer> ids = new ArrayList<>();
        int id = 0;
        while (true) {
            OptionalInt next = Bpf.getNextId(cmd, id);
            if (next.isEmpty()) {
                return ids;
            }
            id = next.getAsInt();
            ids.add(id);
        }
    }

    /** The first program id above afterId, or empty when there is none (BPF_PROG_GET_NEXT_ID). */
    public static OptionalInt nextProgramId(int afterId) {
        return Bpf.getNextId(BpfCmd.BPF_PROG_GET_NEXT_ID, afterId);
    }

    /** The first map id above afterId, or empty when there is none (BPF_MAP_GET_NEXT_ID). */
    public static OptionalInt nextMapId(int afterId) {
        return Bpf.getNextId(BpfCmd.BPF_MAP_GET_NEXT_ID, afterId);
    }

    /** Every link's program: program id to its link ids, ascending. One walk over the kernel's links. */
    public static java.util.Map<Integer, List<Integer>> linksByProgram() {
        java.util.Map<Integer, List<Integer>> out = new java.util.HashMap<>();
        for (int linkId : linkIds()) {
            try (Fd link = Bpf.getFdById(BpfCmd.BPF_LINK_GET_FD_BY_ID, linkId)) {
                out.computeIfAbsent(Bpf.linkProgId(link), k -> new ArrayList<>()).add(linkId);
            } catch (KernelException.NotFound gone) {
                // a link that went away while we walked is fine
            }
        }
        return out;
    }

    /** Ids of the links whose program is progId (bpf_link_info.prog_id). */
    public static List<Integer> linksOfProgram(int progId) {
        List<Integer> out = new ArrayList<>();
        for (int linkId : linkIds()) {
            try (Fd link = Bpf.getFdById(BpfCmd.BPF_LINK_GET_FD_BY_ID, linkId)) {
                if (Bpf.linkProgId(link) == progId) {
                    out.add(linkId);
                }
            } catch (KernelException.NotFound gone) {
                // a link that went away while we walked is fine
            }
        }
        return out;
    }

    /**
     * Where a program runs, as the kernel says: its BPF links (whoever made them), and the interfaces
     * whose XDP program it is (netlink: seen whether attached through a link or with `ip link`).
     */
    public record Attachments(List<Integer> linkIds, List<String> xdpInterfaces, List<String> cgroups,
                              List<String> tcFilters) {
        public Attachments(List<Integer> linkIds, List<String> xdpInterfaces) {
            this(linkIds, xdpInterfaces, List.of(), List.of());
        }

        public boolean attached() {
            return !linkIds.isEmpty() || !xdpInterfaces.isEmpty() || !cgroups.isEmpty() || !tcFilters.isEmpty();
        }
    }

    public static Attachments attachmentsOf(int progId) {
        List<String> xdp = new ArrayList<>();
        for (var x : xdpPrograms()) {
            if (x.progId() == progId) {
                xdp.add(x.ifname());
            }
        }
        List<String> cgroups = List.of();
        List<String> tc = List.of();
        var info = Program.infoById(progId);
        if (info.isPresent() && info.get().type().isPresent()) {
            ProgramType type = info.get().type().get();
            List<AttachType> hooks = cgroupHooks(type);
            if (!hooks.isEmpty()) {
                cgroups = cgroupAttachments(progId, hooks);
            }
            if (type == ProgramType.SCHED_CLS || type == ProgramType.SCHED_ACT) {
                tc = tcFilters(progId);
            }
        }
        return new Attachments(linksOfProgram(progId), xdp, cgroups, tc);
    }

    /** "IFNAME ingress|egress" for every clsact cls_bpf filter running the program (tc's or the agent's). */
    static List<String> tcFilters(int progId) {
        List<String> out = new ArrayList<>();
        try (var dirs = java.nio.file.Files.list(java.nio.file.Path.of("/sys/class/net"))) {
            for (java.nio.file.Path d : dirs.toList()) {
                int ifindex;
                try {
                    ifindex = Integer.parseInt(java.nio.file.Files.readString(d.resolve("ifindex")).strip());
                } catch (java.io.IOException | NumberFormatException gone) {
                    continue;
                }
                for (var f : dev.bpfagent.agent.kernel.Netlink.tcPrograms(ifindex)) {
                    if (f.progId() == progId) {
                        out.add(d.getFileName() + (f.ingress() ? " ingress" : " egress"));
                    }
                }
            }
        } catch (java.io.IOException | KernelException e) {
            return out;
        }
        return out;
    }

    /** The cgroup hooks a program of this type can be attached at (none for other types). */
    static List<AttachType> cgroupHooks(ProgramType t) {
        return switch (t) {
            case CGROUP_SKB -> List.of(AttachType.CGROUP_INET_INGRESS, AttachType.CGROUP_INET_EGRESS);
            case CGROUP_SOCK -> List.of(AttachType.CGROUP_INET_SOCK_CREATE, AttachType.CGROUP_INET_SOCK_RELEASE,
                    AttachType.CGROUP_INET4_POST_BIND, AttachType.CGROUP_INET6_POST_BIND);
            case CGROUP_SOCK_ADDR -> List.of(AttachType.CGROUP_INET4_BIND, AttachType.CGROUP_INET6_BIND,
                    AttachType.CGROUP_INET4_CONNECT, AttachType.CGROUP_INET6_CONNECT, AttachType.CGROUP_UDP4_SENDMSG,
                    AttachType.CGROUP_UDP6_SENDMSG, AttachType.CGROUP_UDP4_RECVMSG, AttachType.CGROUP_UDP6_RECVMSG,
                    AttachType.CGROUP_INET4_GETPEERNAME, AttachType.CGROUP_INET6_GETPEERNAME,
                    AttachType.CGROUP_INET4_GETSOCKNAME, AttachType.CGROUP_INET6_GETSOCKNAME,
                    AttachType.CGROUP_UNIX_CONNECT, AttachType.CGROUP_UNIX_SENDMSG, AttachType.CGROUP_UNIX_RECVMSG,
                    AttachType.CGROUP_UNIX_GETPEERNAME, AttachType.CGROUP_UNIX_GETSOCKNAME);
            case SOCK_OPS -> List.of(AttachType.CGROUP_SOCK_OPS);
            case CGROUP_DEVICE -> List.of(AttachType.CGROUP_DEVICE);
            case CGROUP_SYSCTL -> List.of(AttachType.CGROUP_SYSCTL);
            case CGROUP_SOCKOPT -> List.of(AttachType.CGROUP_GETSOCKOPT, AttachType.CGROUP_SETSOCKOPT);
            default -> List.of();
        };
    }

    /** At most this many cgroup directories are asked (a host with more answers for the first ones). */
    static final int MAX_CGROUPS = 4096;

    /** "PATH ATTACH_TYPE" for every cgroup hook (of these) the program is attached at directly. */
    static List<String> cgroupAttachments(int progId, List<AttachType> hooks) {
        java.util.Optional<java.nio.file.Path> root = Host.cgroup2();
        if (root.isEmpty()) {
            return List.of();
        }
        List<String> out = new ArrayList<>();
        try (var walk = java.nio.file.Files.walk(root.get())) {
            var dirs = walk.filter(java.nio.file.Files::isDirectory).limit(MAX_CGROUPS).toList();
            for (java.nio.file.Path d : dirs) {
                try (dev.bpfagent.agent.kernel.Fd fd = dev.bpfagent.agent.kernel.Fd.openReadOnly(d.toString())) {
                    for (AttachType h : hooks) {
                        try {
                            for (int id : dev.bpfagent.agent.kernel.Bpf.progQuery(fd, h.value, 64)) {
                                if (id == progId) {
                                    out.add(d + " " + h.name().toLowerCase(java.util.Locale.ROOT));
                                }
                            }
                        } catch (KernelException e) {
                            // a hook this kernel does not have (EINVAL), or the directory went away
                        }
                    }
                } catch (KernelException | java.io.UncheckedIOException gone) {
                    // removed while walked
                }
            }
        } catch (java.io.IOException | java.io.UncheckedIOException e) {
            return out;
        }
        return out;
    }

    /** Every program's attachments, in one walk of the links and one netlink dump. */
    public static java.util.Map<Integer, Attachments> attachmentsByProgram() {
        java.util.Map<Integer, List<Integer>> links = linksByProgram();
        java.util.Map<Integer, List<String>> xdp = new java.util.HashMap<>();
        for (var x : xdpPrograms()) {
            xdp.computeIfAbsent(x.progId(), k -> new ArrayList<>()).add(x.ifname());
        }
        java.util.Map<Integer, Attachments> out = new java.util.HashMap<>();
        java.util.Set<Integer> ids = new java.util.HashSet<>(links.keySet());
        ids.addAll(xdp.keySet());
        for (int id : ids) {
            out.put(id, new Attachments(links.getOrDefault(id, List.of()), xdp.getOrDefault(id, List.of())));
        }
        return out;
    }

    private static List<dev.bpfagent.agent.kernel.Netlink.XdpProgram> xdpPrograms() {
        try {
            return dev.bpfagent.agent.kernel.Netlink.xdpPrograms();
        } catch (KernelException e) {
            return List.of(); // no rtnetlink here (a locked-down namespace): links still answer
        }
    }
}
