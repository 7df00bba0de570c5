package dev.bpfagent.it;

import static org.junit.jupiter.api.Assertions.*;

import dev.bpfagent.client.BpfAgentException;
import dev.bpfagent.client.Hooks;
import dev.bpfagent.client.LinkHandle;
import dev.bpfagent.client.LoadOptions;
import dev.bpfagent.client.MapCodec;
import dev.bpfagent.client.MapHandle;
import dev.bpfagent.client.ProgramHandle;
import dev.bpfagent.proto.v1.*;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.SocketTimeoutException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Network hooks proven by real packets: a veth pair whose far end is in a network namespace this test
 * makes (and deletes), packets sent from there with bash's /dev/udp and /dev/tcp, and received (or
 * not) by this JVM. cgroup hooks proven by a process in a cgroup this test makes.
 */
class NetworkHooksTest extends OneAgentPerClass {
    static final String IP = Files.isExecutable(Path.of("/usr/sbin/ip")) ? "/usr/sbin/ip" : "/sbin/ip";
    static final String TAG = UUID.randomUUID().toString().substring(0, 6);
    static final String NS = "bpfag" + TAG;
    static final String HOST_IF = "bpfh" + TAG;
    static final String NS_IF = "bpfn" + TAG;
    static final int NET = 100 + (int) (Math.random() * 100);
    static final String HOST_ADDR = "10.213." + NET + ".1";
    static final String NS_ADDR = "10.213." + NET + ".2";
    static boolean made;

    static void sh(String... cmd) throws Exception {
        var r = Processes.run(30, List.of(cmd));
        assertEquals(0, r.exit(), String.join(" ", cmd) + ": " + r.output());
    }

    @BeforeAll
    static void network() throws Exception {
        Kernel.assumeRoot();
        Assumptions.assumeTrue(Files.isExecutable(Path.of(IP)), "needs iproute2's ip");
        Assumptions.assumeTrue(Files.isExecutable(Path.of("/bin/bash")), "needs bash (/dev/udp, /dev/tcp)");
        sh(IP, "netns", "add", NS);
        made = true;
        sh(IP, "link", "add", HOST_IF, "type", "veth", "peer", "name", NS_IF);
        sh(IP, "link", "set", NS_IF, "netns", NS);
        sh(IP, "addr", "add", HOST_ADDR + "/30", "dev", HOST_IF);
        sh(IP, "link", "set", HOST_IF, "up");
        sh(IP, "netns", "exec", NS, IP, "addr", "add", NS_ADDR + "/30", "dev", NS_IF);
        sh(IP, "netns", "exec", NS, IP, "link", "set", NS_IF, "up");
        sh(IP, "netns", "exec", NS, IP, "link", "set", "lo", "up");
    }

    @AfterAll
    static void removeNetwork() throws Exception {
        if (made) {
            Processes.run(30, List.of(IP, "netns", "del", NS)); // takes the veth pair with it
            Processes.run(30, List.of(IP, "link", "del", HOST_IF));
        }
    }

    /** Sends 3 UDP datagrams from the namespace to this JVM; true when one arrived. */
    static boolean udpArrives() throws Exception {
        try (DatagramSocket s = new DatagramSocket(new InetSocketAddress(InetAddress.getByName(HOST_ADDR), 0))) {
            s.setSoTimeout(400);
            sh(IP, "netns", "exec", NS, "/bin/bash", "-c", "for i in 1 2 3; do echo hi > /dev/udp/" + HOST_ADDR + "/"
                    + s.getLocalPort() + "; sleep 0.02; done");
            try {
                s.receive(new DatagramPacket(new byte[64], 64));
                return true;
            } catch (SocketTimeoutException e) {
                return false;
            }
        }
    }

    /** A TCP connection from the namespace to this JVM: true when it was made. */
    static boolean tcpConnects() throws Exception {
        try (ServerSocket server = new ServerSocket(0, 5, InetAddress.getByName(HOST_ADDR))) {
            var r = Processes.run(30, List.of(IP, "netns", "exec", NS, "timeout", "3", "/bin/bash", "-c",
                    "exec 3<>/dev/tcp/" + HOST_ADDR + "/" + server.getLocalPort()));
            return r.exit() == 0;
        }
    }

    @Test
    void xdpDropsRealUdpPassesTcpAndUpdatesWithoutAGap() throws Exception {
        try (ProgramHandle drop = c.load(LoadOptions.builder(ProgramType.PROGRAM_TYPE_XDP, Asm.xdpDropUdp())
                .name("drop_udp").build());
             ProgramHandle pass = c.load(LoadOptions.builder(ProgramType.PROGRAM_TYPE_XDP, Asm.returnImm(2)).build())) {
            assertTrue(udpArrives(), "before attaching, UDP goes through");
            LinkHandle link = drop.attach(Hooks.xdp(HOST_IF));
            int ifindex = Integer.parseInt(Files.readString(Path.of("/sys/class/net/" + HOST_IF + "/ifindex")).strip());
            assertEquals("xdp", link.link().getType());
            assertEquals(ifindex, link.link().getIfindex());
            assertTrue(c.programAttached(drop.id()));
            assertFalse(udpArrives(), "XDP drops UDP");
            assertTrue(tcpConnects(), "and passes TCP");

            // a second XDP program on the same interface is refused, clearly
            var busy = assertThrows(BpfAgentException.class, () -> pass.attach(Hooks.xdp(HOST_IF)));
            assertTrue(busy.getMessage().contains("already has an XDP program"), busy.getMessage());

            Link updated = link.update(pass.id());
            assertEquals(pass.id(), updated.getProgramId());
            assertEquals(List.of(link.id()), c.links(pass.id()).stream().map(Link::getId).toList());
            assertTrue(udpArrives(), "updated to a program that passes");
            // the program it ran can now be closed: the link depends on the new one
            link.update(drop.id());
            assertFalse(udpArrives(), "and back");
            var stale = assertThrows(BpfAgentException.class, () -> c.updateLink(UpdateLinkRequest.newBuilder()
                    .setLink(ObjectRef.newBuilder().setKind(ObjectKind.OBJECT_KIND_LINK).setId(link.id()))
                    .setProgram(ObjectRef.newBuilder().setId(pass.id())).setExpectedProgramId(pass.id()).build()));
            assertTrue(stale.getMessage().contains("no longer runs program " + pass.id()), stale.getMessage());
            link.close();
            assertTrue(udpArrives(), "after detach, UDP goes through again");
            assertFalse(c.programAttached(drop.id()));
        }
    }

    /**
     * Whether UDP from the host to a closed port in the namespace is answered (ICMP port unreachable,
     * which a connected socket reports): the packet crossed NS_IF's ingress and was not dropped there.
     */
    static boolean answeredFromNs() throws Exception {
        try (java.net.DatagramSocket s = new java.net.DatagramSocket()) {
            s.connect(java.net.InetAddress.getByName(NS_ADDR), 9);
            s.setSoTimeout(300);
            for (int i = 0; i < 3; i++) {
                s.send(new java.net.DatagramPacket(new byte[] {1}, 1));
                try {
                    s.receive(new java.net.DatagramPacket(new byte[8], 8));
                } catch (java.net.PortUnreachableException answered) {
                    return true;
                } catch (java.net.SocketTimeoutException quiet) {
                    // dropped, or the answer is slow (TCG): try again
                }
            }
            return false;
        }
    }

    /**
     * XDP and tc on an interface inside a named network namespace (Interface.netns): attached by a
     * BPF link and by netlink, shown there by `ip -n NS`, dropping UDP that enters the namespace; a
     * namespace that is not there is NOT_FOUND naming the field.
     */
    @Test
    void hooksOnAnInterfaceInANamedNetworkNamespace() throws Exception {
        try (ProgramHandle drop = c.load(LoadOptions.builder(ProgramType.PROGRAM_TYPE_XDP, Asm.xdpDropUdp())
                .name("drop_udp_ns").build())) {
            assertTrue(answeredFromNs(), "before attaching, the namespace answers UDP");
            for (AttachMechanism m : List.of(AttachMechanism.ATTACH_MECHANISM_UNSPECIFIED,
                    AttachMechanism.ATTACH_MECHANISM_NETLINK)) {
                LinkHandle link = c.attach(drop.id(), Hooks.inNetns(NS, Hooks.xdp(NS_IF)), m);
                assertTrue(link.link().getTarget().contains("netns " + NS), link.link().getTarget());
                String shown = Processes.run(30, List.of(IP, "-n", NS, "-d", "link", "show", "dev", NS_IF)).output();
                assertTrue(shown.contains("prog/xdp id " + drop.id()), m + ": ip -n shows it: " + shown);
                assertEquals("", ipLinkXdp(HOST_IF), "not on the host's interface of that name's peer");
                assertFalse(answeredFromNs(), m + ": XDP in the namespace drops UDP entering it");
                link.close();
                assertFalse(Processes.run(30, List.of(IP, "-n", NS, "-d", "link", "show", "dev", NS_IF)).output()
                        .contains("prog/xdp"), m + ": detached");
                assertTrue(answeredFromNs());
            }
            var missing = assertThrows(BpfAgentException.class, () -> c.attach(drop.id(),
                    Hooks.inNetns("nosuchns" + TAG, Hooks.xdp(NS_IF))));
            assertEquals(io.grpc.Status.Code.NOT_FOUND, missing.code(), missing.getMessage());
            assertTrue(missing.getMessage().contains("hook.xdp.interface.netns"), missing.getMessage());
            var noIf = assertThrows(BpfAgentException.class, () -> c.attach(drop.id(),
                    Hooks.inNetns(NS, Hooks.xdp(HOST_IF))));
            assertEquals(io.grpc.Status.Code.NOT_FOUND, noIf.code(), noIf.getMessage());
            assertTrue(noIf.getMessage().contains("in network namespace " + NS), noIf.getMessage());
            var bad = assertThrows(BpfAgentException.class, () -> c.attach(drop.id(),
                    Hooks.inNetns("../x", Hooks.xdp(NS_IF))));
            assertEquals(io.grpc.Status.Code.INVALID_ARGUMENT, bad.code(), bad.getMessage());
        }
    }

    /** What `ip link show dev IFACE` says of its XDP program: "prog/xdp id N", or "" for none. */
    static String ipLinkXdp(String iface) throws Exception {
        String out = Processes.run(30, List.of(IP, "-d", "link", "show", "dev", iface)).output();
        var m = java.util.regex.Pattern.compile("prog/xdp id (\\d+)").matcher(out);
        return m.find() ? m.group() : "";
    }

    @Test
    void xdpThroughNetlinkAsIpLinkDoesDropsRealUdpAndIsRemovedOnClose() throws Exception {
        try (ProgramHandle drop = c.load(LoadOptions.builder(ProgramType.PROGRAM_TYPE_XDP, Asm.xdpDropUdp())
                .name("drop_udp_nl").build());
             ProgramHandle pass = c.load(LoadOptions.builder(ProgramType.PROGRAM_TYPE_XDP, Asm.returnImm(2)).build())) {
            Set<Integer> linksBefore = new java.util.HashSet<>(dev.bpfagent.agent.bpf.KernelObjects.linkIds());
            LinkHandle link = c.attach(drop.id(), Hooks.xdp(HOST_IF), AttachMechanism.ATTACH_MECHANISM_NETLINK);
            assertEquals(AttachMechanism.ATTACH_MECHANISM_NETLINK, link.link().getMechanism());
            assertEquals("xdp (netlink)", link.link().getType());
            assertEquals("prog/xdp id " + drop.id(), ipLinkXdp(HOST_IF), "ip link shows the program");
            assertTrue(linksBefore.containsAll(dev.bpfagent.agent.bpf.KernelObjects.linkIds()), "no BPF link");
            assertTrue(c.programAttached(drop.id()), "attached, as rtnetlink says");
            assertFalse(udpArrives(), "XDP drops UDP");
            assertTrue(tcpConnects(), "and passes TCP");
            // neither way replaces a program that is there
            var nl = assertThrows(BpfAgentException.class, () -> c.attach(pass.id(), Hooks.xdp(HOST_IF),
                    AttachMechanism.ATTACH_MECHANISM_NETLINK));
            assertTrue(nl.getMessage().contains("already runs an XDP program"), nl.getMessage());
            assertThrows(BpfAgentException.class, () -> pass.attach(Hooks.xdp(HOST_IF)));
            var pin = assertThrows(BpfAgentException.InvalidArgument.class, () -> link.pin("xdp_nl"));
            assertTrue(pin.getMessage().contains("not a BPF link"), pin.getMessage());
            link.close();
            assertEquals("", ipLinkXdp(HOST_IF), "detached");
            assertTrue(udpArrives());
            // closing the program takes its netlink attachment with it
            c.attach(drop.id(), Hooks.xdp(HOST_IF), AttachMechanism.ATTACH_MECHANISM_NETLINK);
            drop.close();
            assertEquals("", ipLinkXdp(HOST_IF), "closing the program removed it");
            var tc = assertThrows(BpfAgentException.InvalidArgument.class, () -> c.attach(pass.id(),
                    Hooks.xdp(HOST_IF), AttachMechanism.ATTACH_MECHANISM_PROG_ATTACH));
            assertEquals("mechanism", tc.field());
        }
    }

    /** SCHED_CLS: the first packet records which programs ran, in order: slot0 = slot0 * 10 + digit. */
    static byte[] recordOrder(int digit) {
        return new MapsOverAgentTest.Insns()
                .i(0x62, 10, 0, -4, 0)    // 0: *(u32 *)(fp - 4) = 0
                .map(1, 0)                // 1-2: r1 = maps[0]
                .i(0xbf, 2, 10, 0, 0)     // 3: r2 = fp
                .i(0x07, 2, 0, 0, -4)     // 4: r2 -= 4
                .i(0x85, 0, 0, 0, 1)      // 5: bpf_map_lookup_elem
                .i(0x15, 0, 0, 5, 0)      // 6: if r0 == 0 goto 12
                .i(0x79, 1, 0, 0, 0)      // 7: r1 = *(u64 *)r0
                .i(0x25, 1, 0, 3, 9)      // 8: if r1 > 9 goto 12 (only the first packet)
                .i(0x27, 1, 0, 0, 10)     // 9: r1 *= 10
                .i(0x07, 1, 0, 0, digit)  // 10: r1 += digit
                .i(0x7b, 0, 1, 0, 0)      // 11: *(u64 *)r0 = r1
                .i(0xb7, 0, 0, 0, -1)     // 12: r0 = TCX_NEXT
                .i(0x95, 0, 0, 0, 0)      // 13: exit
                .bytes();
    }

    @Test
    void tcxDropsRealUdpAndRunsProgramsInTheOrderAsked() throws Exception {
        Assumptions.assumeTrue(LinksOverAgentTest.supported("tcx"), "the features report says this kernel has no"
                + " tcx links (6.6+); the legacy tc test covers it");
        try (ProgramHandle drop = c.load(LoadOptions.builder(ProgramType.PROGRAM_TYPE_SCHED_CLS, Asm.tcDropUdp())
                .build())) {
            LinkHandle link = drop.attach(Hooks.tcxIngress(HOST_IF));
            assertEquals("tcx", link.link().getType());
            assertFalse(udpArrives(), "tcx drops UDP");
            assertTrue(tcpConnects(), "and lets TCP go on");
            link.close();
            assertTrue(udpArrives());
        }
        try (MapHandle order = c.createMap(MapType.MAP_TYPE_ARRAY, 4, 8, 1, "order");
             ProgramHandle one = c.load(LoadOptions.builder(ProgramType.PROGRAM_TYPE_SCHED_CLS, recordOrder(1))
                     .map(order.id()).build());
             ProgramHandle two = c.load(LoadOptions.builder(ProgramType.PROGRAM_TYPE_SCHED_CLS, recordOrder(2))
                     .map(order.id()).build())) {
            try (LinkHandle a = one.attach(Hooks.tcxIngress(HOST_IF));
                 LinkHandle b = two.attach(Hooks.tcxIngress(HOST_IF))) {
                udpArrives();
                assertEquals(12, MapCodec.asU64(order.lookup(MapCodec.u32(0)).orElseThrow()), "appended: 1 then 2");
            }
            order.put(MapCodec.u32(0), MapCodec.u64(0));
            try (LinkHandle a = one.attach(Hooks.tcxIngress(HOST_IF));
                 LinkHandle b = two.attach(Hooks.tcx(HOST_IF, TcDirection.TC_DIRECTION_INGRESS, one.id(), 0))) {
                udpArrives();
                assertEquals(21, MapCodec.asU64(order.lookup(MapCodec.u32(0)).orElseThrow()), "2 placed before 1");
            }
            var notThere = assertThrows(BpfAgentException.NotFound.class, () -> two.attach(Hooks.tcx(HOST_IF,
                    TcDirection.TC_DIRECTION_INGRESS, one.id(), 0)));
            assertEquals("hook.tcx.before_program_id", notThere.field());
        }
    }

    static boolean hasClsact(String iface) throws Exception {
        var r = Processes.run(30, List.of("tc", "qdisc", "show", "dev", iface));
        return r.output().contains("clsact");
    }

    @Test
    void legacyTcFiltersDropRealUdpAndLeaveNoQdiscBehind() throws Exception {
        Assumptions.assumeTrue(Files.isExecutable(Path.of("/usr/sbin/tc")) || Files.isExecutable(Path.of("/sbin/tc")),
                "needs iproute2's tc to look at qdiscs");
        try (ProgramHandle drop = c.load(LoadOptions.builder(ProgramType.PROGRAM_TYPE_SCHED_CLS, Asm.tcDropUdp())
                .name("tc_drop_udp").build())) {
            assertFalse(hasClsact(HOST_IF));
            LinkHandle link = drop.attach(Hooks.tc(HOST_IF, TcDirection.TC_DIRECTION_INGRESS, 7));
            assertEquals(AttachMechanism.ATTACH_MECHANISM_NETLINK, link.link().getMechanism());
            assertTrue(link.link().getTarget().contains("prio 7"), link.link().getTarget());
            assertTrue(hasClsact(HOST_IF), "the agent added the clsact qdisc");
            var filters = Processes.run(30, List.of("tc", "filter", "show", "dev", HOST_IF, "ingress")).output();
            assertTrue(filters.contains("tc_drop_udp") && filters.contains("direct-action"), filters);
            assertFalse(udpArrives(), "the filter drops UDP");
            assertTrue(tcpConnects(), "and passes the rest");
            // no BPF link, yet attached: the filter dump finds it, as `tc filter show` does
            var seen = c.program(drop.id(), true).getLinks();
            assertEquals(List.of(HOST_IF + " ingress"), seen.getTcFiltersList());
            assertTrue(seen.getAttached());
            var taken = assertThrows(BpfAgentException.class,
                    () -> drop.attach(Hooks.tc(HOST_IF, TcDirection.TC_DIRECTION_INGRESS, 7)));
            assertTrue(taken.getMessage().contains("priority 7"), taken.getMessage());
            var notALink = assertThrows(BpfAgentException.InvalidArgument.class, () -> link.pin("tc_link"));
            assertTrue(notALink.getMessage().contains("not a BPF link"), notALink.getMessage());
            link.close();
            assertTrue(udpArrives());
            assertFalse(hasClsact(HOST_IF), "the qdisc the agent added went with its last filter");
            // two filters: the one whose attach added the qdisc goes first; the other keeps the qdisc
            LinkHandle first = drop.attach(Hooks.tc(HOST_IF, TcDirection.TC_DIRECTION_INGRESS, 7));
            LinkHandle second = drop.attach(Hooks.tc(HOST_IF, TcDirection.TC_DIRECTION_INGRESS, 8));
            first.close();
            assertTrue(hasClsact(HOST_IF), "the other filter keeps the qdisc");
            assertFalse(udpArrives(), "and still drops UDP");
            second.close();
            assertFalse(hasClsact(HOST_IF), "the qdisc went with the last filter");
            assertTrue(udpArrives());
            // a filter tc itself added (from the program's pin) counts as attached too
            String pin = drop.pin("tc_drop_pin_" + TAG);
            try {
                sh("tc", "qdisc", "add", "dev", HOST_IF, "clsact");
                sh("tc", "filter", "add", "dev", HOST_IF, "egress", "prio", "3", "bpf", "direct-action", "pinned", pin);
                assertEquals(List.of(HOST_IF + " egress"), c.program(drop.id(), true).getLinks().getTcFiltersList());
            } finally {
                Processes.run(30, List.of("tc", "qdisc", "del", "dev", HOST_IF, "clsact"));
                c.unpin(pin);
            }
            assertEquals(List.of(), c.program(drop.id(), true).getLinks().getTcFiltersList());
            // closing the program removes a filter like a link
            drop.attach(Hooks.tc(HOST_IF, TcDirection.TC_DIRECTION_EGRESS, 1));
        }
        assertFalse(hasClsact(HOST_IF), "closing the program removed its filter and the qdisc");
    }

    /** A new cgroup v2 directory, removed after (it must be empty by then). */
    static Path cgroup() throws Exception {
        Path root = Path.of("/sys/fs/cgroup/unified");
        if (!Files.exists(root.resolve("cgroup.procs"))) {
            root = Path.of("/sys/fs/cgroup");
        }
        Assumptions.assumeTrue(Files.exists(root.resolve("cgroup.controllers")), "needs a cgroup v2 hierarchy");
        return Files.createDirectory(root.resolve("bpf-agent-it-" + TAG + "-" + System.nanoTime() % 100000));
    }

    /** Runs a bash command in a cgroup (the shell moves itself in first). */
    static Processes.Result inCgroup(Path cg, String command) throws Exception {
        return Processes.run(30, List.of("/bin/bash", "-c", "echo $$ > " + cg.resolve("cgroup.procs") + " && "
                + command));
    }

    @Test
    void aCgroupProgramDeniesConnectForProcessesInItsCgroup() throws Exception {
        Path cg = cgroup();
        try (ServerSocket server = new ServerSocket(0, 5, InetAddress.getLoopbackAddress());
             ProgramHandle deny = c.load(LoadOptions.builder(ProgramType.PROGRAM_TYPE_CGROUP_SOCK_ADDR, Asm.returnImm(0))
                     .expectedAttachType(AttachType.ATTACH_TYPE_CGROUP_INET4_CONNECT).build())) {
            String connect = "exec 3<>/dev/tcp/127.0.0.1/" + server.getLocalPort() + " && echo connected";
            assertEquals(0, inCgroup(cg, connect).exit());
            try (LinkHandle link = deny.attach(Hooks.cgroup(cg.toString(), AttachType.ATTACH_TYPE_CGROUP_INET4_CONNECT))) {
                assertEquals("cgroup", link.link().getType());
                var denied = inCgroup(cg, connect);
                assertNotEquals(0, denied.exit());
                assertTrue(denied.output().contains("Operation not permitted"), denied.output());
                // a process outside the cgroup is not affected
                var outside = Processes.run(30, List.of("/bin/bash", "-c", connect));
                assertEquals(0, outside.exit(), outside.output());
            }
            assertEquals(0, inCgroup(cg, connect).exit(), "after detach, connect works again");
        } finally {
            Files.delete(cg);
        }
    }

    @Test
    void cgroupProgAttachDeniesConnectBesideOtherProgramsAndDetachesOnlyItself() throws Exception {
        Path cg = cgroup();
        try (ServerSocket server = new ServerSocket(0, 5, InetAddress.getLoopbackAddress());
             ProgramHandle deny = c.load(LoadOptions.builder(ProgramType.PROGRAM_TYPE_CGROUP_SOCK_ADDR, Asm.returnImm(0))
                     .expectedAttachType(AttachType.ATTACH_TYPE_CGROUP_INET4_CONNECT).build());
             MapHandle m = c.createMap(MapType.MAP_TYPE_ARRAY, 4, 8, 1, "connects");
             ProgramHandle allow = c.load(LoadOptions.builder(ProgramType.PROGRAM_TYPE_CGROUP_SOCK_ADDR,
                     MapsOverAgentTest.countReturning(1)).expectedAttachType(AttachType.ATTACH_TYPE_CGROUP_INET4_CONNECT)
                     .map(m.id()).build())) {
            String connect = "exec 3<>/dev/tcp/127.0.0.1/" + server.getLocalPort() + " && echo connected";
            Hook hook = Hooks.cgroup(cg.toString(), AttachType.ATTACH_TYPE_CGROUP_INET4_CONNECT);
            try (LinkHandle counting = c.attach(allow.id(), hook, AttachMechanism.ATTACH_MECHANISM_PROG_ATTACH)) {
                assertEquals(AttachMechanism.ATTACH_MECHANISM_PROG_ATTACH, counting.link().getMechanism());
                // no BPF link, yet "attached": BPF_PROG_QUERY on the cgroup finds it, as bpftool cgroup show does
                var seen = c.program(allow.id(), true).getLinks();
                assertEquals(List.of(), seen.getLinkIdsList());
                assertTrue(seen.getAttached());
                assertEquals(List.of(cg + " cgroup_inet4_connect"), seen.getCgroupsList());
                assertEquals(0, inCgroup(cg, connect).exit());
                assertEquals(1, MapCodec.asU64(m.lookup(MapCodec.u32(0)).orElseThrow()), "the program ran once");
                try (LinkHandle link = c.attach(deny.id(), hook, AttachMechanism.ATTACH_MECHANISM_PROG_ATTACH)) {
                    var denied = inCgroup(cg, connect);
                    assertNotEquals(0, denied.exit());
                    assertTrue(denied.output().contains("Operation not permitted"), denied.output());
                    // a BPF link runs beside both
                    try (LinkHandle beside = allow.attach(hook)) {
                        assertEquals("cgroup", beside.link().getType());
                    }
                }
                assertEquals(0, inCgroup(cg, connect).exit(), "detaching one program left the other");
                assertTrue(MapCodec.asU64(m.lookup(MapCodec.u32(0)).orElseThrow()) >= 3, "it still runs");
            }
        } finally {
            Files.delete(cg);
        }
    }

    @Test
    void aSysctlProgramDeniesAWrite() throws Exception {
        Path cg = cgroup();
        Path sysctl = Path.of("/proc/sys/vm/swappiness");
        String value = Files.readString(sysctl).strip();
        String write = "echo " + value + " > " + sysctl;
        try (ProgramHandle deny = c.load(LoadOptions.builder(ProgramType.PROGRAM_TYPE_CGROUP_SYSCTL, Asm.returnImm(0))
                .expectedAttachType(AttachType.ATTACH_TYPE_CGROUP_SYSCTL).build())) {
            try (LinkHandle link = deny.attach(Hooks.cgroup(cg.toString(), AttachType.ATTACH_TYPE_CGROUP_SYSCTL))) {
                var denied = inCgroup(cg, write);
                assertNotEquals(0, denied.exit());
                assertTrue(denied.output().contains("Operation not permitted"), denied.output());
            }
            assertEquals(0, inCgroup(cg, write).exit(), "after detach the same write works");
        } finally {
            Files.delete(cg);
        }
        assertEquals(value, Files.readString(sysctl).strip());
    }

    @Test
    void skLookupRunsForConnectionsInItsNamespace() throws Exception {
        Assumptions.assumeTrue(LinksOverAgentTest.supported("SK_LOOKUP"), "the features report says this kernel has"
                + " no SK_LOOKUP programs (5.9+)");
        try (MapHandle m = c.createMap(MapType.MAP_TYPE_ARRAY, 4, 8, 1, "lookups");
             ProgramHandle p = c.load(LoadOptions.builder(ProgramType.PROGRAM_TYPE_SK_LOOKUP, MapsOverAgentTest.countReturning(1))
                     .expectedAttachType(AttachType.ATTACH_TYPE_SK_LOOKUP).map(m.id()).build());
             LinkHandle link = p.attach(Hooks.netns("/run/netns/" + NS))) {
            assertEquals("netns", link.link().getType());
            // a connection to a closed port in the namespace still asks sk_lookup first
            Processes.run(30, List.of(IP, "netns", "exec", NS, "timeout", "3", "/bin/bash", "-c",
                    "exec 3<>/dev/tcp/" + NS_ADDR + "/9"));
            assertTrue(MapCodec.asU64(m.lookup(MapCodec.u32(0)).orElseThrow()) > 0, "sk_lookup ran");
        }
        var missing = assertThrows(BpfAgentException.NotFound.class, () -> {
            try (ProgramHandle p = c.load(LoadOptions.builder(ProgramType.PROGRAM_TYPE_SK_LOOKUP, Asm.returnImm(1))
                    .expectedAttachType(AttachType.ATTACH_TYPE_SK_LOOKUP).build())) {
                p.attach(Hooks.netns("/run/netns/no-such-ns-" + TAG));
            }
        });
        assertEquals("hook.netns.path", missing.field());
    }

    @Test
    void netfilterRunsOnLocalInput() throws Exception {
        Assumptions.assumeTrue(LinksOverAgentTest.supported("NETFILTER"), "the features report says this kernel has"
                + " no NETFILTER programs (6.4+)");
        try (MapHandle m = c.createMap(MapType.MAP_TYPE_ARRAY, 4, 8, 1, "nf");
             ProgramHandle p = c.load(LoadOptions.builder(ProgramType.PROGRAM_TYPE_NETFILTER, MapsOverAgentTest.countReturning(1))
                     .expectedAttachType(AttachType.ATTACH_TYPE_NETFILTER).map(m.id()).build())) {
            try (LinkHandle link = p.attach(Hooks.netfilter(2, 1 /* NF_INET_LOCAL_IN */, -128))) {
                assertEquals("netfilter", link.link().getType());
                assertTrue(udpArrives(), "NF_ACCEPT lets it through");
                assertTrue(MapCodec.asU64(m.lookup(MapCodec.u32(0)).orElseThrow()) > 0, "the hook ran");
            }
        }
    }

    /**
     * UDP datagrams from this JVM into the namespace, from an unconnected socket: a connected one gives
     * its packets a hash (sk_txhash) that spares the receiver from dissecting them on some kernels.
     */
    static void sendUnconnected(int n) throws Exception {
        try (DatagramSocket s = new DatagramSocket()) {
            byte[] hi = "hi".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
            for (int i = 0; i < n; i++) {
                s.send(new DatagramPacket(hi, hi.length, InetAddress.getByName(NS_ADDR), 9));
            }
        }
    }

    @Test
    void aFlowDissectorRunsForPacketsItsNamespaceHashes() throws Exception {
        Assumptions.assumeTrue(LinksOverAgentTest.supported("FLOW_DISSECTOR"), "the features report says this kernel"
                + " has no FLOW_DISSECTOR programs");
        Path rps = Path.of("queues/rx-0/rps_cpus");
        // receive packet steering makes the namespace's interface hash (dissect) every packet it receives
        var on = Processes.run(30, List.of(IP, "netns", "exec", NS, "/bin/bash", "-c", "echo 1 > /sys/class/net/"
                + NS_IF + "/" + rps));
        Assumptions.assumeTrue(on.exit() == 0, "needs RPS (CONFIG_RPS) to make the kernel dissect: " + on.output());
        try (MapHandle m = c.createMap(MapType.MAP_TYPE_ARRAY, 4, 8, 1, "dissected");
             ProgramHandle p = c.load(LoadOptions.builder(ProgramType.PROGRAM_TYPE_FLOW_DISSECTOR,
                     MapsOverAgentTest.countReturning(0 /* BPF_OK */)).expectedAttachType(
                     AttachType.ATTACH_TYPE_FLOW_DISSECTOR).map(m.id()).build())) {
            try (LinkHandle link = p.attach(Hooks.netns("/run/netns/" + NS))) {
                assertEquals("netns", link.link().getType());
                sendUnconnected(3);
                assertTrue(Kernel.eventually(() -> {
                    try {
                        return MapCodec.asU64(m.lookup(MapCodec.u32(0)).orElseThrow()) > 0;
                    } catch (RuntimeException e) {
                        return false;
                    }
                }), "the flow dissector ran for packets into its namespace");
            }
            long at = MapCodec.asU64(m.lookup(MapCodec.u32(0)).orElseThrow());
            sendUnconnected(3);
            Thread.sleep(100);
            assertEquals(at, MapCodec.asU64(m.lookup(MapCodec.u32(0)).orElseThrow()), "not after detach");
        } finally {
            Processes.run(30, List.of(IP, "netns", "exec", NS, "/bin/bash", "-c", "echo 0 > /sys/class/net/" + NS_IF
                    + "/" + rps));
        }
    }
}
