package dev.bpfagent.agent.kernel;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import dev.bpfagent.agent.errno.KernelException;
import java.lang.foreign.Arena;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
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
        byte[] ifinfo = new byte[IFINFOMSG_LEN];
        dump(RTM_GETLINK, ifinfo, RTM_NEWLINK, "RTM_GETLINK", msg -> parseLink(msg, out));
        return out;
    }

    /** Every interface in the caller's network namespace: name to ifindex (RTM_GETLINK dump), sorted by name. */
    public static java.util.SortedMap<String, Integer> interfaces() {
        java.util.SortedMap<String, Integer> out = new java.util.TreeMap<>();
        dump(RTM_GETLINK, new byte[IFINFOMSG_LEN], RTM_NEWLINK, "RTM_GETLINK", msg -> {
            int ifindex = msg.get(JAVA_INT, NLMSGHDR_LEN + 4);
            String name = linkName(msg);
            if (!name.isEmpty()) {
                out.put(name, ifindex);
            }
        });
        return out;
    }

    static final int RTMGRP_LINK = 1, SOCK_NONBLOCK = 04000;

    /**
     * rtnetlink's link multicast group (RTMGRP_LINK) in the caller's network namespace: interfaces added,
     * removed or changed. {@link #await} tells whether any such message came (the messages themselves are
     * drained, not parsed: the caller reads the interfaces again). One thread awaits at a time.
     */
    public static final class LinkEvents implements AutoCloseable {
        private final Fd sock;
        private final Epoll epoll;
        private final Arena arena = Arena.ofShared();
        private final MemorySegment buf = arena.allocate(64 * 1024, 8);

        private LinkEvents(Fd sock, Epoll epoll) {
            this.sock = sock;
            this.epoll = epoll;
        }

        public static LinkEvents open() {
            Fd sock = LibC.socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK, NETLINK_ROUTE);
            try (Arena a = Arena.ofConfined()) {
                MemorySegment addr = a.allocate(12, 4); // struct sockaddr_nl
                addr.fill((byte) 0);
                addr.set(JAVA_SHORT, 0, (short) AF_NETLINK);
                addr.set(JAVA_INT, 8, RTMGRP_LINK); // nl_groups (nl_pid 0: the kernel picks)
                LibC.bind(sock, addr);
                Epoll e = Epoll.create(1);
                try {
                    e.add(sock, 0);
                } catch (RuntimeException ex) {
                    e.close();
                    throw ex;
                }
                return new LinkEvents(sock, e);
            } catch (RuntimeException ex) {
                sock.close();
                throw ex;
            }
        }

        /** Waits up to timeoutMs for a link message; true when one or more came (or some were lost: ENOBUFS). */
        public boolean await(int timeoutMs) {
            if (epoll.await(timeoutMs, new long[1]) == 0) {
                return false;
            }
            while (true) {
                try {
                    if (LibC.recv(sock, buf) <= 0) {
                        return true;
                    }
                } catch (KernelException e) {
                    return true; // EAGAIN: drained; ENOBUFS: the queue overran, which is a change too
                }
            }
        }

        /** Ends an await in another thread now. */
        public void wakeup() {
            epoll.wakeup();
        }

        /** Only once no thread awaits. */
        @Override
        public void close() {
            epoll.close();
            sock.close();
            arena.close();
        }
    }

    /** IFLA_IFNAME of an RTM_NEWLINK message, or "". */
    private static String linkName(MemorySegment msg) {
        String[] name = {""};
        attributes(msg, NLMSGHDR_LEN + IFINFOMSG_LEN, msg.byteSize(), (type, off, len) -> {
            if (type == IFLA_IFNAME) {
                name[0] = msg.asSlice(off + 4, len - 4).getString(0, StandardCharsets.UTF_8);
                return false;
            }
            return true;
        });
        return name[0];
    }

    /** One attribute (struct nlattr at off, len bytes with its header); false ends the walk. */
    private interface Attribute {
        boolean visit(int type, long off, int len);
    }

    /** Walks the attributes between from and to (a message's, or a nested attribute's payload). */
    private static void attributes(MemorySegment msg, long from, long to, Attribute each) {
        long off = from;
        while (off + 4 <= to) {
            int len = msg.get(JAVA_SHORT, off) & 0xffff;
            int type = msg.get(JAVA_SHORT, off + 2) & NLA_TYPE_MASK;
            if (len < 4 || off + len > to || !each.visit(type, off, len)) {
                return;
            }
            off += align4(len);
        }
    }

    /**
     * A dump request (nlmsghdr, then body) and every reply of replyType, handed to each (the whole
     * message, header included); NLMSG_DONE ends it, an error reply is a KernelException.
     */
    private static void dump(short type, byte[] body, short replyType, String what,
                             java.util.function.Consumer<MemorySegment> each) {
        try (Fd sock = LibC.socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE); Arena arena = Arena.ofConfined()) {
            MemorySegment req = arena.allocate(NLMSGHDR_LEN + body.length, 4);
            req.fill((byte) 0);
            req.set(JAVA_INT, 0, NLMSGHDR_LEN + body.length); // nlmsg_len
            req.set(JAVA_SHORT, 4, type);                      // nlmsg_type
            req.set(JAVA_SHORT, 6, (short) (NLM_F_REQUEST | NLM_F_DUMP));
            req.set(JAVA_INT, 8, 1);                           // nlmsg_seq
            MemorySegment.copy(body, 0, req, JAVA_BYTE, NLMSGHDR_LEN, body.length);
            LibC.send(sock, req);
            MemorySegment buf = arena.allocate(64 * 1024, 8);
            while (true) {
                int n = LibC.recv(sock, buf);
                int off = 0;
                while (off + NLMSGHDR_LEN <= n) {
                    int len = buf.get(JAVA_INT, off);
                    short t = buf.get(JAVA_SHORT, off + 4);
                    if (len < NLMSGHDR_LEN || off + len > n) {
                        throw new IllegalStateException("netlink: a message of " + len + " bytes at " + off
                                + " runs past the " + n + " received");
                    }
                    if (t == NLMSG_DONE) {
                        return;
                    }
                    if (t == NLMSG_ERROR) {
                        int err = -buf.get(JAVA_INT, off + NLMSGHDR_LEN);
                        if (err != 0) {
                            throw KernelException.of("netlink " + what, err, null);
                        }
                    } else if (t == replyType) {
                        each.accept(buf.asSlice(off, len));
                    }
                    off += align4(len);
                }
                if (n == 0) {
                    return;
                }
            }
        }
    }

    static final short RTM_GETTFILTER = 46;
    static final int TCMSG_LEN = 20, TCA_BPF_ID = 11;

    /**
     * One cls_bpf filter's program on an interface's clsact hook (however it got there: tc or this
     * agent), with the filter's priority (tcm_info's upper half).
     */
    public record TcProgram(int ifindex, boolean ingress, int progId, int priority) {
    }

    /**
     * The programs of the cls_bpf filters on an interface's clsact ingress and egress (RTM_GETTFILTER
     * dumps) in the order the kernel runs them (by priority); none when the interface has no clsact qdisc.
     */
    public static List<TcProgram> tcPrograms(int ifindex) {
        List<TcProgram> out = new ArrayList<>();
        for (boolean ingress : new boolean[] {true, false}) {
            filters(ifindex, ingress, msg -> {
                int id = bpfFilterProgram(msg);
                if (id != 0) {
                    out.add(new TcProgram(ifindex, ingress, id, msg.get(JAVA_INT, NLMSGHDR_LEN + 16) >>> 16));
                }
            });
        }
        return out;
    }

    /** How many filters of any kind (and their chains' heads) the interface's clsact ingress and egress have. */
    public static int filterCount(int ifindex) {
        int[] n = {0};
        for (boolean ingress : new boolean[] {true, false}) {
            filters(ifindex, ingress, msg -> n[0]++);
        }
        return n[0];
    }

    /** Every filter message of the interface's clsact ingress or egress; none without a clsact qdisc. */
    private static void filters(int ifindex, boolean ingress, java.util.function.Consumer<MemorySegment> each) {
        java.nio.ByteBuffer tcmsg = java.nio.ByteBuffer.allocate(TCMSG_LEN).order(java.nio.ByteOrder.nativeOrder());
        tcmsg.put((byte) 0).put((byte) 0).putShort((short) 0).putInt(ifindex).putInt(0)
                .putInt((TC_H_CLSACT & 0xFFFF0000) | (ingress ? TC_H_MIN_INGRESS : TC_H_MIN_EGRESS)).putInt(0);
        try {
            dump(RTM_GETTFILTER, tcmsg.array(), RTM_NEWTFILTER, "RTM_GETTFILTER", each);
        } catch (KernelException noQdisc) {
            // no clsact on this interface (EINVAL/ENOENT): no filters there
        }
    }

    /** TCA_OPTIONS' TCA_BPF_ID of a filter message, or 0 (another kind of filter, or the chain's head). */
    private static int bpfFilterProgram(MemorySegment msg) {
        int[] id = {0};
        attributes(msg, NLMSGHDR_LEN + TCMSG_LEN, msg.byteSize(), (type, off, len) -> {
            if (type == TCA_OPTIONS) {
                attributes(msg, off + 4, off + len, (t, x, l) -> {
                    if (t == TCA_BPF_ID && l >= 8) {
                        id[0] = msg.get(JAVA_INT, x + 4);
                        return false;
                    }
                    return true;
                });
            }
            return id[0] == 0;
        });
        return id[0];
    }

    private static void parseLink(MemorySegment msg, List<XdpProgram> out) {
        int ifindex = msg.get(JAVA_INT, NLMSGHDR_LEN + 4);
        String name = linkName(msg);
        int[] found = {0, 0}; // program id, mode
        attributes(msg, NLMSGHDR_LEN + IFINFOMSG_LEN, msg.byteSize(), (type, off, len) -> {
            if (type == IFLA_XDP) {
                attributes(msg, off + 4, off + len, (xt, x, xl) -> {
                    if (xt == IFLA_XDP_ATTACHED && xl >= 5) {
                        found[1] = msg.get(JAVA_BYTE, x + 4);
                    } else if ((xt == IFLA_XDP_PROG_ID || xt == IFLA_XDP_DRV_PROG_ID || xt == IFLA_XDP_SKB_PROG_ID
                            || xt == IFLA_XDP_HW_PROG_ID) && xl >= 8) {
                        int id = msg.get(JAVA_INT, x + 4);
                        if (id != 0 && found[0] == 0) {
                            found[0] = id;
                        } else if (id != 0 && id != found[0]) {
                            out.add(new XdpProgram(ifindex, name, id, found[1])); // multi: one per mode
                        }
                    }
                    return true;
                });
            }
            return true;
        });
        if (found[0] != 0) {
            out.add(new XdpProgram(ifindex, name, found[0], found[1]));
        }
    }

    private static int align4(int n) {
        return (n + 3) & ~3;
    }

    // ---- tc: the clsact qdisc and direct-action cls_bpf filters (the way before tcx links) ----

    static final short RTM_NEWQDISC = 36, RTM_DELQDISC = 37, RTM_NEWTFILTER = 44, RTM_DELTFILTER = 45;
    static final short NLM_F_ACK = 4, NLM_F_EXCL = 0x200, NLM_F_CREATE = 0x400;
    static final int TCA_KIND = 1, TCA_OPTIONS = 2;
    static final int TCA_BPF_FD = 6, TCA_BPF_NAME = 7, TCA_BPF_FLAGS = 8, TCA_BPF_FLAG_ACT_DIRECT = 1;
    /** TC_H_CLSACT, and the minor numbers of its ingress and egress hooks. */
    public static final int TC_H_CLSACT = 0xFFFFFFF1, TC_H_MIN_INGRESS = 0xFFF2, TC_H_MIN_EGRESS = 0xFFF3;
    static final short ETH_P_ALL = 0x0003;

    /** One cls_bpf filter, as it is named to delete it. */
    public record TcFilter(int ifindex, int parent, int priority, int handle) {
    }

    /** A request: nlmsghdr, struct tcmsg or struct ifinfomsg, then attributes; sent and answered with an ack. */
    private static final class Request {
        final ByteBuffer b = ByteBuffer.allocate(512).order(ByteOrder.nativeOrder());

        /** struct tcmsg: family, pad, ifindex, handle, parent, info. */
        Request(short type, int flags, int ifindex, int handle, int parent, int info) {
            b.putInt(0).putShort(type).putShort((short) (NLM_F_REQUEST | NLM_F_ACK | flags)).putInt(1).putInt(0);
            b.put((byte) 0).put((byte) 0).putShort((short) 0).putInt(ifindex).putInt(handle).putInt(parent).putInt(info);
        }

        /** struct ifinfomsg: family AF_UNSPEC, type, index, flags, change. */
        Request(short type, int ifindex) {
            b.putInt(0).putShort(type).putShort((short) (NLM_F_REQUEST | NLM_F_ACK)).putInt(1).putInt(0);
            b.put((byte) 0).put((byte) 0).putShort((short) 0).putInt(ifindex).putInt(0).putInt(0);
        }

        Request attr(int type, byte[] value) {
            b.putShort((short) (4 + value.length)).putShort((short) type).put(value);
            while (b.position() % 4 != 0) {
                b.put((byte) 0);
            }
            return this;
        }

        Request string(int type, String v) {
            byte[] s = v.getBytes(StandardCharsets.UTF_8);
            byte[] z = java.util.Arrays.copyOf(s, s.length + 1);
            return attr(type, z);
        }

        Request u32(int type, int v) {
            return attr(type, ByteBuffer.allocate(4).order(ByteOrder.nativeOrder()).putInt(v).array());
        }

        /** Starts a nested attribute; returns where its length goes. */
        int begin(int type) {
            int at = b.position();
            b.putShort((short) 0).putShort((short) (type | 0x8000)); // NLA_F_NESTED
            return at;
        }

        void end(int at) {
            b.putShort(at, (short) (b.position() - at));
        }

        /** Sends and waits for the ack: the kernel's errno as a KernelException when it refused. */
        void send(String what) {
            b.putInt(0, b.position());
            try (Fd sock = LibC.socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE); Arena arena = Arena.ofConfined()) {
                MemorySegment req = arena.allocate(b.position(), 4);
                MemorySegment.copy(b.array(), 0, req, JAVA_BYTE, 0, b.position());
                LibC.send(sock, req);
                MemorySegment buf = arena.allocate(8192, 8);
                while (true) {
                    int n = LibC.recv(sock, buf);
                    int off = 0;
                    while (off + NLMSGHDR_LEN <= n) {
                        int len = buf.get(JAVA_INT, off);
                        if (len < NLMSGHDR_LEN) {
                            throw new IllegalStateException("netlink: a bad message length " + len);
                        }
                        if (buf.get(JAVA_SHORT, off + 4) == NLMSG_ERROR) {
                            int err = -buf.get(JAVA_INT, off + NLMSGHDR_LEN);
                            if (err != 0) {
                                throw KernelException.of("netlink " + what, err, null);
                            }
                            return;
                        }
                        off += align4(len);
                    }
                }
            }
        }
    }

    /**
     * Adds the clsact qdisc to an interface. True when this call added it, false when one was there
     * (EEXIST): whoever added it owns it.
     */
    public static boolean addClsact(int ifindex) {
        try {
            new Request(RTM_NEWQDISC, NLM_F_CREATE | NLM_F_EXCL, ifindex, 0xFFFF0000, TC_H_CLSACT, 0)
                    .string(TCA_KIND, "clsact").send("RTM_NEWQDISC clsact");
            return true;
        } catch (KernelException e) {
            if (e.errno() == dev.bpfagent.agent.errno.Errno.EEXIST) {
                return false;
            }
            throw e;
        }
    }

    /** Removes the clsact qdisc (and every filter on it). */
    public static void deleteClsact(int ifindex) {
        new Request(RTM_DELQDISC, 0, ifindex, 0xFFFF0000, TC_H_CLSACT, 0).string(TCA_KIND, "clsact")
                .send("RTM_DELQDISC clsact");
    }

    /**
     * Adds a direct-action cls_bpf filter running prog on the interface's clsact ingress or egress, at
     * priority (1 runs first) with handle; EEXIST when that priority and handle are taken.
     */
    public static TcFilter addBpfFilter(int ifindex, boolean ingress, int priority, int handle, Fd prog, String name) {
        int parent = (TC_H_CLSACT & 0xFFFF0000) | (ingress ? TC_H_MIN_INGRESS : TC_H_MIN_EGRESS);
        int info = (priority << 16) | (Short.reverseBytes(ETH_P_ALL) & 0xffff);
        try (Fd.Held p = prog.hold()) {
            Request r = new Request(RTM_NEWTFILTER, NLM_F_CREATE | NLM_F_EXCL, ifindex, handle, parent, info)
                    .string(TCA_KIND, "bpf");
            int opts = r.begin(TCA_OPTIONS);
            r.u32(TCA_BPF_FD, p.fd()).string(TCA_BPF_NAME, name).u32(TCA_BPF_FLAGS, TCA_BPF_FLAG_ACT_DIRECT);
            r.end(opts);
            r.send("RTM_NEWTFILTER bpf");
        }
        return new TcFilter(ifindex, parent, priority, handle);
    }

    /** Deletes a filter added by {@link #addBpfFilter}. */
    public static void deleteFilter(TcFilter f) {
        int info = (f.priority() << 16) | (Short.reverseBytes(ETH_P_ALL) & 0xffff);
        new Request(RTM_DELTFILTER, 0, f.ifindex(), f.handle(), f.parent(), info).string(TCA_KIND, "bpf")
                .send("RTM_DELTFILTER bpf");
    }

    static final short RTM_SETLINK = 19;
    static final int IFLA_XDP_FD = 1, IFLA_XDP_FLAGS = 3, IFLA_XDP_EXPECTED_FD = 8;
    /** XDP_FLAGS_*: fail if a program is there; replace only the expected one. */
    public static final int XDP_FLAGS_UPDATE_IF_NOEXIST = 1, XDP_FLAGS_REPLACE = 1 << 4;

    /**
     * Sets the interface's XDP program the way `ip link set dev X xdp` does (RTM_SETLINK with IFLA_XDP):
     * prog null removes it. flags carry the mode (XDP_FLAGS_SKB_MODE...) and XDP_FLAGS_UPDATE_IF_NOEXIST
     * (EBUSY when a program is there) or XDP_FLAGS_REPLACE with expected (EEXIST when another runs).
     */
    public static void setXdp(int ifindex, Fd prog, int flags, Fd expected) {
        try (Fd.Held p = prog != null ? prog.hold() : null; Fd.Held e = expected != null ? expected.hold() : null) {
            Request r = new Request(RTM_SETLINK, ifindex);
            int xdp = r.begin(IFLA_XDP);
            r.u32(IFLA_XDP_FD, p != null ? p.fd() : -1);
            if (e != null) {
                r.u32(IFLA_XDP_EXPECTED_FD, e.fd());
            }
            r.u32(IFLA_XDP_FLAGS, flags);
            r.end(xdp);
            r.send("RTM_SETLINK xdp");
        }
    }
}
