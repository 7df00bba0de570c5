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
    public record Attachments(List<Integer> linkIds, List<String> xdpInterfaces) {
        public boolean attached() {
            return !linkIds.isEmpty() || !xdpInterfaces.isEmpty();
        }
    }

    public static Attachments attachmentsOf(int progId) {
        List<String> xdp = new ArrayList<>();
        for (var x : xdpPrograms()) {
            if (x.progId() == progId) {
                xdp.add(x.ifname());
            }
        }
        return new Attachments(linksOfProgram(progId), xdp);
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
