package dev.bpfagent.agent.kernel;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import dev.bpfagent.agent.errno.KernelException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * rtnetlink (NETLINK_ROUTE), the part BPF needs: which XDP program each interface runs, whoever put it
 * there (a BPF link, or `ip link set ... xdp` through netlink). Names as in linux/netlink.h,
 * linux/rtnetlink.h and linux/if_link.h.
 */
public final class Netlink {
    private Netlink() {
    }

    static final int AF_NETLINK = 16, SOCK_RAW = 3, NETLINK_ROUTE = 0;
    static final short RTM_NEWLINK = 16, RTM_GETLINK = 18;
    static final short NLMSG_ERROR = 2, NLMSG_DONE = 3;
    static final short NLM_F_REQUEST = 1, NLM_F_DUMP = 0x300;
    static final int NLMSGHDR_LEN = 16, IFINFOMSG_LEN = 16;
    static final int IFLA_IFNAME = 3, IFLA_XDP = 43;
    static final int IFLA_XDP_ATTACHED = 2, IFLA_XDP_PROG_ID = 4, IFLA_XDP_DRV_PROG_ID = 5, IFLA_XDP_SKB_PROG_ID = 6,
            IFLA_XDP_HW_PROG_ID = 7;
    static final int NLA_TYPE_MASK = 0x3fff;

    /** XDP_ATTACHED_*: how the program runs on the interface. */
    public static final int XDP_ATTACHED_DRV = 1, XDP_ATTACHED_SKB = 2, XDP_ATTACHED_HW = 3, XDP_ATTACHED_MULTI = 4;

    /** One interface's XDP program (mode: XDP_ATTACHED_*). */
    public record XdpProgram(int ifindex, String ifname, int progId, int mode) {
    }

    /** Every interface in the caller's network namespace that runs an XDP program (RTM_GETLINK dump). */
    public static List<XdpProgram> xdpPrograms() {
        List<XdpProgram> out = new ArrayList<>();
        try (Fd sock = LibC.socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE); Arena arena = Arena.ofConfined()) {
            MemorySegment req = arena.allocate(NLMSGHDR_LEN + IFINFOMSG_LEN, 4);
            req.fill((byte) 0);
            req.set(JAVA_INT, 0, NLMSGHDR_LEN + IFINFOMSG_LEN); // nlmsg_len
            req.set(JAVA_SHORT, 4, RTM_GETLINK);                // nlmsg_type
            req.set(JAVA_SHORT, 6, (short) (NLM_F_REQUEST | NLM_F_DUMP));
            req.set(JAVA_INT, 8, 1);                            // nlmsg_seq
            LibC.send(sock, req);
            MemorySegment buf = arena.allocate(64 * 1024, 8);
            while (true) {
                int n = LibC.recv(sock, buf);
                int off = 0;
                while (off + NLMSGHDR_LEN <= n) {
                    int len = buf.get(JAVA_INT, off);
                    short type = buf.get(JAVA_SHORT, off + 4);
                    if (len < NLMSGHDR_LEN || off + len > n) {
                        throw new IllegalStateException("netlink: a message of " + len + " bytes at " + off
                                + " runs past the " + n + " received");
                    }
                    if (type == NLMSG_DONE) {
                        return out;
                    }
                    if (type == NLMSG_ERROR) {
                        int err = -buf.get(JAVA_INT, off + NLMSGHDR_LEN);
                        if (err != 0) {
                            throw KernelException.of("netlink RTM_GETLINK", err, null);
                        }
                    } else if (type == RTM_NEWLINK) {
                        parseLink(buf.asSlice(off, len), out);
                    }
                    off += align4(len);
                }
            }
        }
    }

    private static void parseLink(MemorySegment msg, List<XdpProgram> out) {
        int ifindex = msg.get(JAVA_INT, NLMSGHDR_LEN + 4);
        String name = "";
        int progId = 0;
        int mode = 0;
        long off = NLMSGHDR_LEN + IFINFOMSG_LEN;
        while (off + 4 <= msg.byteSize()) {
            int len = msg.get(JAVA_SHORT, off) & 0xffff;
            int type = msg.get(JAVA_SHORT, off + 2) & NLA_TYPE_MASK;
            if (len < 4 || off + len > msg.byteSize()) {
                break;
            }
            if (type == IFLA_IFNAME) {
                name = msg.asSlice(off + 4, len - 4).getString(0, StandardCharsets.UTF_8);
            } else if (type == IFLA_XDP) {
                long x = off + 4;
                while (x + 4 <= off + len) {
                    int xl = msg.get(JAVA_SHORT, x) & 0xffff;
                    int xt = msg.get(JAVA_SHORT, x + 2) & NLA_TYPE_MASK;
                    if (xl < 4 || x + xl > off + len) {
                        break;
                    }
                    if (xt == IFLA_XDP_ATTACHED && xl >= 5) {
                        mode = msg.get(JAVA_BYTE, x + 4);
                    } else if ((xt == IFLA_XDP_PROG_ID || xt == IFLA_XDP_DRV_PROG_ID || xt == IFLA_XDP_SKB_PROG_ID
                            || xt == IFLA_XDP_HW_PROG_ID) && xl >= 8) {
                        int id = msg.get(JAVA_INT, x + 4);
                        if (id != 0 && progId == 0) {
                            progId = id;
                        } else if (id != 0 && id != progId) {
                            out.add(new XdpProgram(ifindex, name, id, mode)); // multi: one per mode
                        }
                    }
                    x += align4(xl);
                }
            }
            off += align4(len);
        }
        if (progId != 0) {
            out.add(new XdpProgram(ifindex, name, progId, mode));
        }
    }

    private static int align4(int n) {
        return (n + 3) & ~3;
    }
}
