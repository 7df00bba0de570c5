package dev.bpfagent.it;

import static org.junit.jupiter.api.Assertions.*;

import com.google.protobuf.ByteString;
import dev.bpfagent.client.Applications;
import dev.bpfagent.client.BpfAgentException;
import dev.bpfagent.client.BpfClient;
import dev.bpfagent.proto.v1.*;
import io.grpc.Status;
import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Applications against the real kernel, by real packets: an XDP firewall (firewall.c) applied to
 * interfaces by glob on a veth pair whose far end is in a network namespace this test makes. Apply,
 * re-apply (nothing changes), a new version (the link updated in place, the blocked-ports map kept), a
 * version the verifier refuses (the previous one runs on, Degraded with the log), a new interface
 * matching the glob, drift (the link detached by bpftool) repaired, a restart rebuilt, delete.
 */
class ApplicationsTest extends OneAgentPerClass {
    static final String IP = NetworkHooksTest.IP;
    static final String TAG = UUID.randomUUID().toString().substring(0, 5);
    static final String NS = "bpfapp" + TAG;
    static final String HOST_IF = "bpfah" + TAG;
    static final String NS_IF = "bpfan" + TAG;
    static final String EXTRA_IF = "bpfah" + TAG + "x";
    static final int NET = 100 + (int) (Math.random() * 100);
    static final String HOST_ADDR = "10.214." + NET + ".1";
    static final String NS_ADDR = "10.214." + NET + ".2";
    static boolean made;

    @BeforeAll
    static void network() throws Exception {
        Kernel.assumeRoot();
        Assumptions.assumeTrue(Files.isExecutable(Path.of(IP)), "needs iproute2's ip");
        NetworkHooksTest.sh(IP, "netns", "add", NS);
        made = true;
        NetworkHooksTest.sh(IP, "link", "add", HOST_IF, "type", "veth", "peer", "name", NS_IF);
        NetworkHooksTest.sh(IP, "link", "set", NS_IF, "netns", NS);
        NetworkHooksTest.sh(IP, "addr", "add", HOST_ADDR + "/30", "dev", HOST_IF);
        NetworkHooksTest.sh(IP, "link", "set", HOST_IF, "up");
        NetworkHooksTest.sh(IP, "netns", "exec", NS, IP, "addr", "add", NS_ADDR + "/30", "dev", NS_IF);
        NetworkHooksTest.sh(IP, "netns", "exec", NS, IP, "link", "set", NS_IF, "up");
    }

    @AfterAll
    static void removeNetwork() throws Exception {
        if (made) {
            Processes.run(30, List.of(IP, "netns", "del", NS));
            Processes.run(30, List.of(IP, "link", "del", HOST_IF));
            Processes.run(30, List.of(IP, "link", "del", EXTRA_IF));
        }
    }

    static boolean mapExists(int id) {
        try (var m = dev.bpfagent.agent.bpf.BpfMap.fromId(id)) {
            return true;
        } catch (dev.bpfagent.agent.errno.KernelException e) {
            return false;
        }
    }

    static boolean udpArrives(DatagramSocket s) throws Exception {
        s.setSoTimeout(400);
        NetworkHooksTest.sh(IP, "netns", "exec", NS, "/bin/bash", "-c", "for i in 1 2 3; do echo hi > /dev/udp/"
                + HOST_ADDR + "/" + s.getLocalPort() + "; sleep 0.02; done");
        try {
            s.receive(new DatagramPacket(new byte[64], 64));
            while (true) {
                s.setSoTimeout(100);
                s.receive(new DatagramPacket(new byte[64], 64)); // drain the other two
            }
        } catch (SocketTimeoutException e) {
            return s.getSoTimeout() == 100;
        }
    }

    static ApplicationSpec spec(long version, int reject) throws Exception {
        byte[] elf = ObjectsOverAgentTest.object("firewall");
        return ApplicationSpec.newBuilder().putLabels("team", "net").addObjects(ApplicationObject.newBuilder()
                .setName("fw").setSource(Applications.elf(elf))
                .putRodata("version", ByteString.copyFrom(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN)
                        .putLong(version).array()))
                .putRodata("reject", ByteString.copyFrom(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN)
                        .putInt(reject).array()))
                .addPrograms(ApplicationProgram.newBuilder().setName("firewall").addAttach(AttachRule.newBuilder()
                        .setHook(Hook.newBuilder().setXdp(XdpHook.getDefaultInstance()))
                        .addInterfaces("bpfah" + TAG + "*")))).build();
    }

    static Condition condition(Application a, String type) {
        return a.getStatus().getConditionsList().stream().filter(c -> c.getType().equals(type)).findFirst()
                .orElseThrow(() -> new AssertionError("no " + type + " condition: " + a.getStatus()));
    }

    static int mapId(Application a, String name) {
        return a.getStatus().getMapsList().stream().filter(m -> m.getName().equals(name)).findFirst().orElseThrow()
                .getMapId();
    }

    static void block(BpfClient c, int mapId, int port) {
        c.updateMapElem(UpdateMapElemRequest.newBuilder().setMap(ObjectRef.newBuilder().setId(mapId)
                .setKind(ObjectKind.OBJECT_KIND_MAP)).setKey(ByteString.copyFrom(new byte[] {(byte) port,
                (byte) (port >> 8)})).setValue(ByteString.copyFrom(new byte[] {1})).build());
    }

    static AttachmentStatus on(Application a, String ifname) {
        return a.getStatus().getAttachmentsList().stream().filter(t -> t.getTarget().contains(ifname)
                && !t.getTarget().contains(ifname + "x") || ifname.endsWith("x") && t.getTarget().contains(ifname))
                .findFirst().orElse(null);
    }

    @Test
    void appliedKeptTrueUpdatedInPlaceRefusedVersionsLeaveThePreviousAndDeleteLeavesNothing() throws Exception {
        Applications apps = c.applications();
        try (DatagramSocket blocked = new DatagramSocket(new InetSocketAddress(InetAddress.getByName(HOST_ADDR), 0));
             DatagramSocket open = new DatagramSocket(new InetSocketAddress(InetAddress.getByName(HOST_ADDR), 0))) {
            // v1
            ApplyApplicationResponse r1 = apps.apply("firewall", spec(1, 0));
            Application a1 = r1.getApplication();
            assertEquals(1, a1.getGeneration());
            assertTrue(condition(a1, "Ready").getStatus(), a1.getStatus().toString());
            AttachmentStatus att1 = on(a1, HOST_IF);
            assertNotNull(att1, a1.getStatus().toString());
            assertEquals(AttachmentStatus.State.STATE_ATTACHED, att1.getState());
            int prog1 = programId(a1, "firewall");
            assertTrue(c.programAttached(prog1));
            assertEquals(java.util.Map.of("team", "net", "bpf-agent.dev/application", "firewall"),
                    c.program(prog1).getAgent().getLabelsMap(), "the spec's labels and the application's name");
            int blockedMap = mapId(a1, "blocked");
            block(c, blockedMap, blocked.getLocalPort());
            assertFalse(udpArrives(blocked), "v1 drops UDP to a blocked port");
            assertTrue(udpArrives(open), "and passes UDP to others");
            // the drops were judged by the tail call's target, loaded with the entry program, and reported
            // in the ring buffer
            int drops = mapId(a1, "drops");
            int verdicts1 = mapId(a1, "verdicts");
            int tail1 = programId(a1, "udp_verdict");
            assertEquals(List.of("firewall", "udp_verdict"), a1.getStatus().getProgramsList().stream()
                    .map(ProgramStatus::getName).toList(), "the named program first, then its tail call's target");
            assertEquals(List.of(1L, 1L, 1L), droppedBy(c, drops, blocked.getLocalPort()),
                    "three drops, each by v1, in the ring buffer");

            // the same spec again: nothing changes
            ApplyApplicationResponse again = apps.apply("firewall", spec(1, 0));
            assertEquals(1, again.getApplication().getGeneration());
            assertEquals(prog1, programId(again.getApplication(), "firewall"));
            assertEquals(att1.getLinkId(), on(again.getApplication(), HOST_IF).getLinkId());
            assertTrue(again.getPlanList().stream().allMatch(s -> s.getAction() == PlanStep.Action.ACTION_KEEP),
                    again.getPlanList().toString());

            // a dry run of v2 says what it would do and does nothing
            ApplyApplicationResponse dry = apps.dryRun("firewall", spec(2, 0));
            assertTrue(dry.getPlanList().stream().anyMatch(s -> s.getAction() == PlanStep.Action.ACTION_KEEP_MAP
                    && s.getName().equals("blocked")), dry.getPlanList().toString());
            assertEquals(1, apps.get("firewall").getGeneration());

            // v2: the link runs the new program (updated in place), the blocked ports map is kept
            ApplyApplicationResponse r2 = apps.apply("firewall", spec(2, 0));
            Application a2 = r2.getApplication();
            assertEquals(2, a2.getGeneration());
            int prog2 = programId(a2, "firewall");
            assertNotEquals(prog1, prog2);
            assertEquals(att1.getLinkId(), on(a2, HOST_IF).getLinkId(), "BPF_LINK_UPDATE: the same link");
            assertEquals(blockedMap, mapId(a2, "blocked"));
            assertTrue(a2.getStatus().getMapsList().stream().anyMatch(m -> m.getName().equals("blocked")
                    && m.getKept()));
            assertTrue(r2.getPlanList().stream().anyMatch(s -> s.getAction() == PlanStep.Action.ACTION_REPLACE
                    && s.getKind().equals("attachment")), r2.getPlanList().toString());
            assertTrue(Kernel.eventually(() -> !c.programExists(prog1)), "v1's program closed");
            assertFalse(udpArrives(blocked), "v2 still drops: the kept map still blocks the port");
            assertTrue(udpArrives(open));
            assertEquals(drops, mapId(a2, "drops"), "the ring buffer kept: its readers read on");
            assertEquals(List.of(2L, 2L, 2L), droppedBy(c, drops, blocked.getLocalPort()), "now dropped by v2");
            assertNotEquals(verdicts1, mapId(a2, "verdicts"), "a new program array for the new version");
            assertNotEquals(tail1, programId(a2, "udp_verdict"));
            assertTrue(r2.getPlanList().stream().anyMatch(s -> s.getAction() == PlanStep.Action.ACTION_CREATE_MAP
                    && s.getName().equals("verdicts") && s.getReason().contains("program array")),
                    r2.getPlanList().toString());
            assertTrue(Kernel.eventually(() -> !c.programExists(tail1)), "v1's tail call target closed");

            // v3 the verifier refuses: v2 runs on, Degraded with the log
            BpfAgentException refused = assertThrows(BpfAgentException.class, () -> apps.apply("firewall",
                    spec(3, 1)));
            assertEquals(Status.Code.INVALID_ARGUMENT, refused.code(), refused.getMessage());
            Application after = apps.get("firewall");
            assertEquals(2, after.getGeneration());
            assertEquals(prog2, programId(after, "firewall"));
            Condition degraded = condition(after, "Degraded");
            assertTrue(degraded.getStatus());
            assertEquals("VerifierRejected", degraded.getReason());
            assertFalse(degraded.getLogId().isEmpty());
            assertFalse(c.verifierLog(degraded.getLogId()).isEmpty());
            assertTrue(c.programAttached(prog2));
            assertFalse(udpArrives(blocked), "v2 still runs");

            // a new interface matching the glob is attached
            NetworkHooksTest.sh(IP, "link", "add", EXTRA_IF, "type", "veth", "peer", "name", "bpfan" + TAG + "y");
            assertTrue(Kernel.eventually(() -> {
                AttachmentStatus x = on(apps.get("firewall"), EXTRA_IF);
                return x != null && x.getState() == AttachmentStatus.State.STATE_ATTACHED;
            }), "the new interface attached: " + apps.get("firewall").getStatus());
            // and forgotten when it goes
            NetworkHooksTest.sh(IP, "link", "del", EXTRA_IF);
            assertTrue(Kernel.eventually(() -> on(apps.get("firewall"), EXTRA_IF) == null));

            // drift: another tool detaches the link; the agent attaches again and says so
            int link2 = on(apps.get("firewall"), HOST_IF).getLinkId();
            Assumptions.assumeTrue(Files.isExecutable(Path.of("/usr/sbin/bpftool")), "needs bpftool for the drift part");
            var det = Processes.run(30, List.of("/usr/sbin/bpftool", "link", "detach", "id", Integer.toString(link2)));
            assertEquals(0, det.exit(), det.output());
            assertTrue(Kernel.eventually(() -> {
                AttachmentStatus x = on(apps.get("firewall"), HOST_IF);
                return x != null && x.getLinkId() != link2 && x.getState() == AttachmentStatus.State.STATE_ATTACHED;
            }), "re-attached: " + apps.get("firewall").getStatus());
            assertTrue(apps.get("firewall").getStatus().getEventsList().stream().anyMatch(e -> e.getReason()
                    .equals("DriftRepaired")));
            assertFalse(udpArrives(blocked), "drops again after the repair");

            // delete: nothing left
            int linkNow = on(apps.get("firewall"), HOST_IF).getLinkId();
            DeleteApplicationResponse del = apps.delete("firewall");
            assertFalse(del.getClosedList().isEmpty());
            assertTrue(Kernel.eventually(() -> !c.programExists(prog2)), "v2's program closed");
            assertTrue(Kernel.eventually(() -> !dev.bpfagent.agent.bpf.Link.existsInKernel(linkNow)), "its link closed");
            assertTrue(Kernel.eventually(() -> !mapExists(blockedMap)), "its maps closed");
            assertTrue(udpArrives(blocked), "nothing drops any more");
            assertTrue(apps.list().isEmpty());
            try (var files = Files.list(agent.stateDir().resolve("applications"))) {
                assertEquals(0, files.count(), "no record left");
            }
            try (var files = Files.list(agent.stateDir().resolve("blobs"))) {
                assertEquals(0, files.count(), "no blob left");
            }
        }
    }

    /** The firewall at this version, on HOST_IF only (not by glob). */
    static ApplicationSpec onHostIf(long version) throws Exception {
        ApplicationSpec s = spec(version, 0);
        AttachRule rule = s.getObjects(0).getPrograms(0).getAttach(0).toBuilder().clearInterfaces()
                .addInterfaces(HOST_IF).build();
        return s.toBuilder().setObjects(0, s.getObjects(0).toBuilder().setPrograms(0, s.getObjects(0).getPrograms(0)
                .toBuilder().setAttach(0, rule))).build();
    }

    static int programId(Application a, String name) {
        return a.getStatus().getProgramsList().stream().filter(p -> p.getName().equals(name)).findFirst()
                .orElseThrow(() -> new AssertionError("no program " + name + ": " + a.getStatus())).getProgramId();
    }

    /** The versions that dropped packets to this port, from the ring buffer's records (consumed). */
    static List<Long> droppedBy(BpfClient c, int ringMap, int port) {
        List<Long> versions = new java.util.ArrayList<>();
        for (ByteString r : c.readRingBuffer(ReadRingBufferRequest.newBuilder().setMap(ObjectRef
                .newBuilder().setId(ringMap).setKind(ObjectKind.OBJECT_KIND_MAP)).build()).getRecordsList()) {
            ByteBuffer b = r.asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
            if (r.size() == 16 && (b.getShort(8) & 0xffff) == port) {
                versions.add(b.getLong(0));
            }
        }
        return versions;
    }

    /** The firewall's passed-packets counter (slot 0 of its per-CPU counters), summed over CPUs. */
    static long passed(BpfClient c, int countersMap) {
        return counter(c, countersMap, 0);
    }

    /** A slot of the firewall's per-CPU counters, summed over CPUs. */
    static long counter(BpfClient c, int countersMap, int slot) {
        var r = c.lookupMapElem(LookupMapElemRequest.newBuilder().setMap(ObjectRef.newBuilder().setId(countersMap)
                .setKind(ObjectKind.OBJECT_KIND_MAP)).setKey(ByteString.copyFrom(ByteBuffer.allocate(4)
                .order(ByteOrder.LITTLE_ENDIAN).putInt(slot).array())).build());
        long sum = 0;
        for (ByteString v : r.getPerCpuValuesList()) {
            sum += v.asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN).getLong(0);
        }
        return sum;
    }

    /**
     * Upgrades while a steady UDP stream runs: each apply of a new version puts a new program on the
     * same link by BPF_LINK_UPDATE. Every packet that reached the receiver was counted by one version or
     * another in the kept counters map: none went through with no program on the hook.
     */
    @Test
    void upgradesUnderASteadyStreamLeaveNoPacketUnhandled() throws Exception {
        Assumptions.assumeTrue(Files.isExecutable(Path.of("/usr/bin/python3")), "needs python3 to send the stream");
        Applications apps = c.applications();
        Application a = apps.apply("steady", onHostIf(1)).getApplication();
        int counters = mapId(a, "counters");
        int link = on(a, HOST_IF).getLinkId();
        int packets = 3000;
        try (DatagramSocket rx = new DatagramSocket(new InetSocketAddress(InetAddress.getByName(HOST_ADDR), 0))) {
            rx.setReceiveBufferSize(4 << 20);
            long before = passed(c, counters);
            String py = "import socket,time\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n"
                    + "for i in range(" + packets + "):\n s.sendto(str(i).encode(),('" + HOST_ADDR + "',"
                    + rx.getLocalPort() + "))\n time.sleep(0.001)\n";
            Process sender = new ProcessBuilder(IP, "netns", "exec", NS, "/usr/bin/python3", "-c", py)
                    .redirectErrorStream(true).start();
            java.util.Set<Integer> got = java.util.concurrent.ConcurrentHashMap.newKeySet();
            java.util.concurrent.atomic.AtomicBoolean sent = new java.util.concurrent.atomic.AtomicBoolean();
            Thread receiver = new Thread(() -> {
                byte[] buf = new byte[64];
                try {
                    rx.setSoTimeout(500);
                    while (true) {
                        DatagramPacket d = new DatagramPacket(buf, buf.length);
                        try {
                            rx.receive(d);
                        } catch (SocketTimeoutException quiet) {
                            if (sent.get()) {
                                return; // the sender is done and nothing more came
                            }
                            continue; // the sender is still starting (slow under TCG) or between packets
                        }
                        got.add(Integer.parseInt(new String(d.getData(), 0, d.getLength(),
                                java.nio.charset.StandardCharsets.US_ASCII)));
                    }
                } catch (Exception end) {
                    // the socket closed
                }
            });
            receiver.start();
            for (int i = 0; i < 1200 && got.isEmpty() && sender.isAlive(); i++) {
                Thread.sleep(100); // the upgrades start once the stream does
            }
            int updates = 0;
            for (long v = 2; sender.isAlive() && v < 40; v++) {
                ApplyApplicationResponse r = apps.apply("steady", onHostIf(v));
                assertEquals(link, on(r.getApplication(), HOST_IF).getLinkId(), "the same link, updated in place");
                assertEquals(counters, mapId(r.getApplication(), "counters"), "the counters kept");
                updates++;
            }
            assertTrue(sender.waitFor(300, java.util.concurrent.TimeUnit.SECONDS), "the sender finished");
            assertEquals(0, sender.exitValue(), new String(sender.getInputStream().readAllBytes()));
            sent.set(true);
            receiver.join(30_000);
            long counted = passed(c, counters) - before;
            assertTrue(updates >= 3, "upgrades ran during the stream: " + updates);
            assertEquals(packets, got.size(), "every packet arrived (" + updates + " upgrades meanwhile)");
            assertEquals(packets, counted, "and each was handled by one version or another: none with no program");
            assertEquals(0, counter(c, counters, 3), "and none met one version's entry and found no tail call target");
        } finally {
            apps.delete("steady");
        }
    }

    static ApplicationSpec shared(long version, String map, String share) throws Exception {
        ApplicationSpec s = spec(version, 0);
        ApplicationObject o = s.getObjects(0);
        return s.toBuilder().setObjects(0, o.toBuilder().putMaps(map, ApplicationMapSettings.newBuilder()
                .setShare(share).build()).setPrograms(0, o.getPrograms(0).toBuilder().setAttach(0, o.getPrograms(0)
                .getAttach(0).toBuilder().clearInterfaces().addInterfaces("nomatch" + TAG)))).build();
    }

    static int verdict(BpfClient c, Application a, int port) {
        return c.testRun(programId(a, "firewall"), dev.bpfagent.client.TestRunOptions.ofData(
                dev.bpfagent.client.TestPackets.udp().dstPort(port).build())).retval();
    }

    /** Two applications share the blocked-ports map by name: one map, used by both, until the last goes. */
    @Test
    void mapsSharedByNameLiveWhileAnyApplicationUsesThem() throws Exception {
        Applications apps = c.applications();
        Application a = apps.apply("share-a", shared(1, "blocked", "fw-blocked")).getApplication();
        ApplyApplicationResponse rb = apps.apply("share-b", shared(2, "blocked", "fw-blocked"));
        Application b = rb.getApplication();
        int map = mapId(a, "blocked");
        assertEquals(map, mapId(b, "blocked"), "one map under the share name");
        assertNotEquals(mapId(a, "counters"), mapId(b, "counters"), "maps not shared stay each application's");
        assertTrue(rb.getPlanList().stream().anyMatch(st -> st.getAction() == PlanStep.Action.ACTION_KEEP_MAP
                && st.getName().equals("blocked") && st.getReason().contains("shared")), rb.getPlanList().toString());
        assertEquals("fw-blocked", b.getStatus().getMapsList().stream().filter(m -> m.getName().equals("blocked"))
                .findFirst().orElseThrow().getShare());
        assertEquals(2, verdict(c, a, 5353), "XDP_PASS before the port is blocked");
        block(c, map, 5353);
        assertEquals(1, verdict(c, a, 5353), "a drops it");
        assertEquals(1, verdict(c, b, 5353), "and b, through the same map");

        // a map of another shape under that name is refused, naming the field
        BpfAgentException e = assertThrows(BpfAgentException.class, () -> apps.apply("share-c",
                shared(3, "counters", "fw-blocked")));
        assertEquals(Status.Code.FAILED_PRECONDITION, e.code(), e.getMessage());
        assertTrue(e.getMessage().contains("spec.objects[0].maps[counters].share"), e.getMessage());
        e = assertThrows(BpfAgentException.class, () -> apps.apply("share-c", shared(3, "blocked", "bad/name")));
        assertEquals(Status.Code.INVALID_ARGUMENT, e.code(), e.getMessage());

        apps.delete("share-a");
        assertTrue(mapExists(map), "b still uses it");
        assertEquals(1, verdict(c, b, 5353), "b still drops through it");
        assertFalse(Files.exists(agent.bpffsDir.resolve("_apps/share-a")), "a's pins are gone");
        assertTrue(Files.exists(agent.bpffsDir.resolve("_apps/share-b/map_" + map)), "b's pin of it stays");
        apps.delete("share-b");
        assertTrue(Kernel.eventually(() -> !mapExists(map)), "gone with the last application using it");
        assertEquals(0, c.agentInfo().getUnheld());
    }

    /**
     * An apply that fails after it moved a link to its new program (a later attachment of the same apply
     * is refused) puts the link back on the previous program: the old generation runs as it did.
     */
    @Test
    void aFailureAfterALinkUpdateUndoesTheUpdate() throws Exception {
        Applications apps = c.applications();
        Application a1 = apps.apply("undo", onHostIf(1)).getApplication();
        int prog1 = programId(a1, "firewall");
        int link = on(a1, HOST_IF).getLinkId();
        int ifindex = Integer.parseInt(Files.readString(Path.of("/sys/class/net", HOST_IF, "ifindex")).trim());
        assertEquals(prog1, dev.bpfagent.agent.bpf.Host.xdpProgramId(ifindex));
        // v2: the firewall changes (its link is updated first), and a second object's tracepoint is not there
        ApplicationSpec v2 = onHostIf(2).toBuilder().addObjects(ApplicationObject.newBuilder().setName("ev")
                .setSource(Applications.elf(ObjectsOverAgentTest.object("events")))
                .addPrograms(ApplicationProgram.newBuilder().setName("on_nanosleep").addAttach(AttachRule.newBuilder()
                        .setHook(Hook.newBuilder().setTracepoint(TracepointHook.newBuilder().setCategory("syscalls")
                                .setName("sys_enter_nosuch" + TAG)))))).build();
        BpfAgentException e = assertThrows(BpfAgentException.class, () -> apps.apply("undo", v2));
        assertTrue(e.getMessage().contains("sys_enter_nosuch"), e.getMessage());
        Application after = apps.get("undo");
        assertEquals(1, after.getGeneration());
        assertEquals(prog1, programId(after, "firewall"));
        assertEquals(link, on(after, HOST_IF).getLinkId(), "the same link");
        assertEquals(prog1, dev.bpfagent.agent.bpf.Host.xdpProgramId(ifindex), "put back on the previous program");
        assertEquals("AttachFailed", condition(after, "Degraded").getReason());
        assertTrue(Kernel.eventually(() -> dev.bpfagent.agent.bpf.KernelObjects.programIds().stream()
                .filter(id -> id > prog1).map(dev.bpfagent.agent.bpf.Program::infoById)
                .noneMatch(i -> i.isPresent() && (i.get().name().equals("firewall")
                        || i.get().name().equals("on_nanosleep")))), "v2's programs closed");
        apps.delete("undo");
        assertTrue(Kernel.eventually(() -> dev.bpfagent.agent.bpf.Host.xdpProgramId(ifindex) == 0));
        assertEquals(0, c.agentInfo().getUnheld());
    }

    /** The firewall on interfaces selected in a named network namespace (the rule's netns), at this version. */
    static ApplicationSpec inNetns(String netns, String glob) throws Exception {
        ApplicationSpec s = spec(1, 0);
        AttachRule rule = s.getObjects(0).getPrograms(0).getAttach(0).toBuilder().clearInterfaces()
                .addInterfaces(glob).setNetns(netns).build();
        return s.toBuilder().setObjects(0, s.getObjects(0).toBuilder().setPrograms(0, s.getObjects(0).getPrograms(0)
                .toBuilder().setAttach(0, rule))).build();
    }

    static void sendUdp(String addr, int port, int n) throws Exception {
        try (DatagramSocket s = new DatagramSocket()) {
            for (int i = 0; i < n; i++) {
                s.send(new DatagramPacket(new byte[] {'x'}, 1, InetAddress.getByName(addr), port));
            }
        }
    }

    /**
     * Interfaces in a named network namespace: the firewall on NS_IF, inside NS, judges what the host
     * sends into NS (its counters and ring buffer say so, and `ip -n NS link` shows it there); a veth
     * made in NS later is attached. A rule naming a namespace not there yet is pending; once made (with
     * a matching interface) it is attached; deleted, its link goes with its interface and the
     * attachment is pending again.
     */
    @Test
    void interfacesInANamedNetworkNamespace() throws Exception {
        Applications apps = c.applications();
        String later = "bpfapl" + TAG;
        String laterIf = "bpfal" + TAG;
        try {
            Application a = apps.apply("in-ns", inNetns(NS, "bpfan" + TAG + "*")).getApplication();
            AttachmentStatus at = on(a, NS_IF);
            assertNotNull(at, a.getStatus().toString());
            assertEquals(AttachmentStatus.State.STATE_ATTACHED, at.getState(), at.toString());
            assertTrue(at.getTarget().contains("netns " + NS), at.getTarget());
            var show = Processes.run(30, List.of(IP, "-n", NS, "link", "show", NS_IF));
            assertTrue(show.output().contains("xdp") && show.output().contains("id " + programId(a, "firewall")),
                    "the kernel runs it on " + NS_IF + " in " + NS + ": " + show.output());
            int counters = mapId(a, "counters");
            long before = passed(c, counters);
            sendUdp(NS_ADDR, 9, 5);
            assertTrue(Kernel.eventually(() -> passed(c, counters) - before >= 5), "UDP into the namespace passed"
                    + " the firewall there: " + (passed(c, counters) - before));
            block(c, mapId(a, "blocked"), 7);
            sendUdp(NS_ADDR, 7, 3);
            assertTrue(Kernel.eventually(() -> counter(c, counters, 1) >= 3), "and UDP to a blocked port dropped");
            assertEquals(List.of(1L, 1L, 1L), droppedBy(c, mapId(a, "drops"), 7));

            // a veth made in the namespace later, matching the glob
            String extra = "bpfan" + TAG + "z";
            NetworkHooksTest.sh(IP, "-n", NS, "link", "add", extra, "type", "veth", "peer", "name", "bpfz" + TAG);
            assertTrue(Kernel.eventually(() -> {
                AttachmentStatus x = on(apps.get("in-ns"), extra);
                return x != null && x.getState() == AttachmentStatus.State.STATE_ATTACHED;
            }), "the new interface in " + NS + " attached: " + apps.get("in-ns").getStatus());
            NetworkHooksTest.sh(IP, "-n", NS, "link", "del", extra);
            assertTrue(Kernel.eventually(() -> on(apps.get("in-ns"), extra) == null), "and forgotten when it goes");

            // a namespace not there yet: pending, not an error
            Application p = apps.apply("later-ns", inNetns(later, laterIf + "*")).getApplication();
            assertTrue(p.getStatus().getAttachmentsList().stream().allMatch(x -> x.getState()
                    == AttachmentStatus.State.STATE_PENDING), p.getStatus().toString());
            NetworkHooksTest.sh(IP, "netns", "add", later);
            try {
                NetworkHooksTest.sh(IP, "-n", later, "link", "add", laterIf, "type", "veth", "peer", "name",
                        "bpfm" + TAG);
                assertTrue(Kernel.eventually(() -> {
                    AttachmentStatus x = on(apps.get("later-ns"), laterIf);
                    return x != null && x.getState() == AttachmentStatus.State.STATE_ATTACHED;
                }), "attached once the namespace and its interface are there: " + apps.get("later-ns").getStatus());
                int linkId = on(apps.get("later-ns"), laterIf).getLinkId();
                assertTrue(dev.bpfagent.agent.bpf.Link.existsInKernel(linkId));
            } finally {
                NetworkHooksTest.sh(IP, "netns", "del", later);
            }
            // the namespace's teardown is the kernel's deferred work: waited for
            assertTrue(Kernel.eventually(() -> apps.get("later-ns").getStatus().getAttachmentsList().stream()
                    .allMatch(x -> x.getState() == AttachmentStatus.State.STATE_PENDING), 60),
                    "pending again once the namespace is gone: " + apps.get("later-ns").getStatus());
        } finally {
            for (String n : List.of("in-ns", "later-ns")) {
                try {
                    apps.delete(n);
                } catch (BpfAgentException gone) {
                    // not made (an assertion failed first)
                }
            }
        }
    }

    /** tcorder.c as one application: its digit, the port it records, its rule's priority, the shared map. */
    static ApplicationSpec tcOrder(byte[] elf, int digit, int port, int priority) {
        return ApplicationSpec.newBuilder().addObjects(ApplicationObject.newBuilder().setName("order")
                .setSource(Applications.elf(elf))
                .putRodata("digit", ByteString.copyFrom(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN)
                        .putInt(digit).array()))
                .putRodata("port", ByteString.copyFrom(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN)
                        .putInt(port).array()))
                .putMaps("order", ApplicationMapSettings.newBuilder().setShare("order-" + TAG).build())
                .addPrograms(ApplicationProgram.newBuilder().setName("record").addAttach(AttachRule.newBuilder()
                        .setHook(Hook.newBuilder().setTcx(TcxHook.newBuilder().setDirection(
                                TcDirection.TC_DIRECTION_INGRESS))).addInterfaces(HOST_IF).setPriority(priority))))
                .build();
    }

    /** The digits the programs on HOST_IF's ingress recorded for one UDP packet, in the order they ran. */
    static long orderOfOnePacket(BpfClient c, int orderMap, int port) throws Exception {
        ObjectRef map = ObjectRef.newBuilder().setId(orderMap).setKind(ObjectKind.OBJECT_KIND_MAP).build();
        ByteString zero = ByteString.copyFrom(new byte[4]);
        c.updateMapElem(UpdateMapElemRequest.newBuilder().setMap(map).setKey(zero)
                .setValue(ByteString.copyFrom(new byte[8])).build());
        NetworkHooksTest.sh(IP, "netns", "exec", NS, "/bin/bash", "-c", "echo x > /dev/udp/" + HOST_ADDR + "/" + port);
        long[] v = new long[1];
        assertTrue(Kernel.eventually(() -> {
            v[0] = c.lookupMapElem(LookupMapElemRequest.newBuilder().setMap(map).setKey(zero).build()).getValue()
                    .asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN).getLong(0);
            return v[0] != 0;
        }), "the packet reached the programs on " + HOST_IF);
        return v[0];
    }

    /**
     * Three applications on one interface's tcx ingress (a tc filter each before Linux 6.6), by
     * priority: one UDP packet records which ran in which order. Applied out of order, they run in
     * priority order; a priority changed moves that program; the middle one deleted leaves the others
     * running in order.
     */
    @Test
    void applicationsShareAnInterfaceHookInPriorityOrder() throws Exception {
        byte[] elf = ObjectsOverAgentTest.object("tcorder");
        Applications apps = c.applications();
        int port = 41000 + (int) (Math.random() * 1000);
        try {
            apps.apply("tco-a", tcOrder(elf, 1, port, 30));
            apps.apply("tco-b", tcOrder(elf, 2, port, 10));
            Application last = apps.apply("tco-c", tcOrder(elf, 3, port, 20)).getApplication();
            assertTrue(condition(last, "Ready").getStatus(), last.getStatus().toString());
            int order = mapId(last, "order");
            assertEquals(order, mapId(apps.get("tco-a"), "order"), "one map, shared by name");
            assertEquals(231, orderOfOnePacket(c, order, port), "b (10), c (20), a (30)");
            assertEquals(List.of("tco-b", "tco-c", "tco-a"), runOrder(apps, HOST_IF, "tcx/ingress", "tc/ingress"),
                    "ListInterfaceHooks gives the run order: " + apps.hooks(HOST_IF));

            ApplyApplicationResponse moved = apps.apply("tco-a", tcOrder(elf, 1, port, 5));
            assertTrue(moved.getPlanList().stream().anyMatch(s -> s.getKind().equals("attachment")
                    && s.getReason().contains("priority 30 → 5")), moved.getPlanList().toString());
            assertEquals(123, orderOfOnePacket(c, order, port), "a (5) first now");

            apps.delete("tco-b");
            assertEquals(13, orderOfOnePacket(c, order, port), "the middle one gone, the others in order");
            assertEquals(List.of("tco-a", "tco-c"), runOrder(apps, HOST_IF, "tcx/ingress", "tc/ingress"));

            var bad = assertThrows(BpfAgentException.class, () -> apps.apply("tco-bad", tcOrder(elf, 4, port, 1001)));
            assertTrue(bad.getMessage().contains("spec.objects[0].programs[0].attach[0].priority"), bad.getMessage());
        } finally {
            for (String n : List.of("tco-a", "tco-b", "tco-c")) {
                try {
                    apps.delete(n);
                } catch (BpfAgentException gone) {
                    // deleted by the test, or never made
                }
            }
        }
    }

    /**
     * The applications of the programs on the interface's hook (the first of these kinds it has), in the
     * order ListInterfaceHooks gives (the kernel's run order); other tools' programs are "-".
     */
    static List<String> runOrder(Applications apps, String ifname, String... hookKinds) {
        for (String kind : hookKinds) {
            for (InterfaceHook h : apps.hooks(ifname)) {
                if (h.getHook().equals(kind) && h.getInterface().equals(ifname)) {
                    return h.getProgramsList().stream().map(p -> p.getApplication().isEmpty() ? "-" : p.getApplication())
                            .toList();
                }
            }
        }
        return List.of();
    }

    /**
     * ListInterfaceHooks and InspectObject on any kernel: an object's XDP_RUN_CONFIG read as libxdp reads
     * it; one XDP program run directly listed with its application; globs and namespaces that are wrong
     * are INVALID_ARGUMENT or NOT_FOUND naming their field.
     */
    @Test
    void interfaceHooksListWhatRunsAndObjectsShowTheirXdpRunConfig() throws Exception {
        var inspected = c.inspectObject(ObjectsOverAgentTest.object("xdporder"), "xdporder");
        ObjectProgram record = inspected.getPrograms(0);
        assertTrue(record.hasXdpRunConfig(), record.toString());
        assertEquals(45, record.getXdpRunConfig().getPriority());
        assertEquals(List.of(XdpAction.XDP_ACTION_PASS), record.getXdpRunConfig().getProceedOnList());
        assertFalse(c.inspectObject(ObjectsOverAgentTest.object("firewall"), "firewall").getPrograms(0).hasXdpRunConfig());

        Applications apps = c.applications();
        try {
            Application a = apps.apply("hooks-one", onHostIf(1)).getApplication();
            int prog = programId(a, "firewall");
            List<InterfaceHook> hooks = apps.hooks(HOST_IF);
            InterfaceHook xdp = hooks.stream().filter(h -> h.getHook().equals("xdp")).findFirst().orElseThrow(
                    () -> new AssertionError("no xdp hook listed on " + HOST_IF + ": " + hooks));
            assertEquals(0, xdp.getDispatcherProgramId(), xdp.toString());
            assertEquals(1, xdp.getProgramsCount(), xdp.toString());
            HookedProgram p = xdp.getPrograms(0);
            assertEquals(prog, p.getProgramId());
            assertEquals("hooks-one", p.getApplication());
            assertEquals("firewall", p.getProgram());
            assertEquals(on(a, HOST_IF).getLinkId(), p.getLinkId());
            assertTrue(apps.hooks("nosuchif" + TAG + "*").isEmpty(), "a glob matching nothing lists nothing");
        } finally {
            apps.delete("hooks-one");
        }
        assertTrue(runOrder(apps, HOST_IF, "xdp").isEmpty(), "nothing on xdp after the delete: " + apps.hooks(HOST_IF));
        var bad = assertThrows(BpfAgentException.class, () -> apps.hooks("eth[0"));
        assertEquals(Status.Code.INVALID_ARGUMENT, bad.code(), bad.getMessage());
        assertTrue(bad.getMessage().contains("interfaces[0]"), bad.getMessage());
        bad = assertThrows(BpfAgentException.class, () -> apps.hooks(ListInterfaceHooksRequest.newBuilder()
                .setNetns("../etc").build()));
        assertEquals(Status.Code.INVALID_ARGUMENT, bad.code(), bad.getMessage());
        assertTrue(bad.getMessage().contains("netns"), bad.getMessage());
        bad = assertThrows(BpfAgentException.class, () -> apps.hooks(ListInterfaceHooksRequest.newBuilder()
                .setNetns("nosuchns" + TAG).build()));
        assertEquals(Status.Code.NOT_FOUND, bad.code(), bad.getMessage());
        var inNs = apps.hooks(ListInterfaceHooksRequest.newBuilder().setNetns(NS).build());
        assertTrue(inNs.getHooksList().stream().allMatch(h -> !h.getInterface().equals(HOST_IF)), inNs.toString());
    }

    static final Path DISPATCHER_OBJECT = Path.of("/usr/lib/x86_64-linux-gnu/bpf/xdp-dispatcher.o");
    static final Path XDP_LOADER = Path.of("/usr/sbin/xdp-loader");

    static boolean freplaceSupported(BpfClient c) {
        return c.kernelFeatures(false).getAttachList().stream().anyMatch(f -> f.getName().equals("freplace")
                && f.getState() == FeatureState.FEATURE_STATE_SUPPORTED);
    }

    static ByteString u32(int v) {
        return ByteString.copyFrom(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(v).array());
    }

    /** xdporder.c on HOST_IF's XDP dispatcher: digit, the verdict it returns, priority, what lets the next run. */
    static ApplicationSpec xdpOrder(byte[] elf, int digit, int port, int priority, int verdict, XdpAction... proceedOn) {
        return ApplicationSpec.newBuilder().addObjects(ApplicationObject.newBuilder().setName("order")
                .setSource(Applications.elf(elf)).putRodata("digit", u32(digit)).putRodata("port", u32(port))
                .putRodata("verdict", u32(verdict))
                .putMaps("order", ApplicationMapSettings.newBuilder().setShare("xorder-" + TAG).build())
                .addPrograms(ApplicationProgram.newBuilder().setName("record").addAttach(AttachRule.newBuilder()
                        .setHook(Hook.newBuilder().setXdp(XdpHook.getDefaultInstance())).addInterfaces(HOST_IF)
                        .setMechanism(AttachMechanism.ATTACH_MECHANISM_XDP_DISPATCHER).setPriority(priority)
                        .addAllProceedOn(List.of(proceedOn))))).build();
    }

    static String run(String... cmd) throws Exception {
        var r = Processes.run(60, List.of(cmd));
        assertEquals(0, r.exit(), String.join(" ", cmd) + ": " + r.output());
        return r.output();
    }

    static int ifindex(String ifname) throws Exception {
        return Integer.parseInt(Files.readString(Path.of("/sys/class/net", ifname, "ifindex")).strip());
    }

    /** libxdp's pin directories of HOST_IF's dispatchers (xdp/dispatch-IFINDEX-ID). */
    static List<Path> dispatchDirs() throws Exception {
        Path xdp = Path.of("/sys/fs/bpf/xdp");
        if (!Files.isDirectory(xdp)) {
            return List.of();
        }
        String prefix = "dispatch-" + ifindex(HOST_IF) + "-";
        try (var l = Files.list(xdp)) {
            return l.filter(p -> p.getFileName().toString().startsWith(prefix)).toList();
        }
    }

    /**
     * Three applications on one interface's XDP hook through its dispatcher (libxdp's protocol): they
     * run in priority order, a DROP stops the rest unless proceed_on lets the next run, a priority
     * change and a deletion are each one dispatcher swap. Then xdp-loader (Debian's xdp-tools) joins
     * the same dispatcher: its status lists all of them, its program runs between ours by priority, an
     * application applied after it keeps it, and its unload leaves ours running. Deleting them all
     * leaves no XDP program on the interface and no pin directory.
     */
    @Test
    void applicationsShareAnXdpDispatcherInPriorityOrder() throws Exception {
        Assumptions.assumeTrue(freplaceSupported(c), "the kernel refuses freplace (EXT) loads here: the dispatcher"
                + " runs in the kernel matrix (anXdpDispatcherNeedsFreplace covers this host)");
        Assumptions.assumeTrue(Files.isRegularFile(DISPATCHER_OBJECT), "needs libxdp's " + DISPATCHER_OBJECT
                + " (Debian: libxdp1, with xdp-tools)");
        byte[] elf = ObjectsOverAgentTest.object("xdporder");
        Applications apps = c.applications();
        int port = 42000 + (int) (Math.random() * 1000);
        int pass = 2, drop = 1;
        List<String> names = List.of("xo-a", "xo-b", "xo-c", "xo-d");
        try {
            apps.apply("xo-a", xdpOrder(elf, 1, port, 0, pass)); // no priority: the object's XDP_RUN_CONFIG, 45
            apps.apply("xo-b", xdpOrder(elf, 2, port, 10, pass));
            Application last = apps.apply("xo-c", xdpOrder(elf, 3, port, 20, pass)).getApplication();
            assertTrue(condition(last, "Ready").getStatus(), last.getStatus().toString());
            int order = mapId(last, "order");
            assertEquals(231, orderOfOnePacket(c, order, port), "b (10), c (20), a (45, its object's)");
            InterfaceHook listed = apps.hooks(HOST_IF).stream().filter(h -> h.getHook().equals("xdp")).findFirst()
                    .orElseThrow();
            assertEquals(List.of("xo-b", "xo-c", "xo-a"), runOrder(apps, HOST_IF, "xdp"), listed.toString());
            assertEquals(List.of(10, 20, 45), listed.getProgramsList().stream().map(p -> p.getPriority()).toList(),
                    listed.toString());
            assertEquals(on(last, HOST_IF).getDispatcherProgramId(), listed.getDispatcherProgramId());
            assertEquals(1, dispatchDirs().size(), "one dispatcher's pins: " + dispatchDirs());
            String status = run(XDP_LOADER.toString(), "status", HOST_IF);
            assertTrue(status.contains("xdp_dispatcher") && status.split("ba_record", -1).length == 4, status);
            AttachmentStatus cs = on(last, HOST_IF);
            assertTrue(cs.getDispatcherProgramId() != 0 && cs.getExtensionProgramId() != 0, cs.toString());
            assertTrue(status.contains(" " + cs.getExtensionProgramId() + " "), "xdp-loader lists extension "
                    + cs.getExtensionProgramId() + ": " + status);
            assertEquals(cs.getDispatcherProgramId(), on(apps.get("xo-a"), HOST_IF).getDispatcherProgramId(),
                    "one dispatcher for all: " + apps.get("xo-a").getStatus());

            ApplyApplicationResponse moved = apps.apply("xo-a", xdpOrder(elf, 1, port, 5, pass));
            assertTrue(moved.getPlanList().stream().anyMatch(s -> s.getKind().equals("attachment")
                    && s.getReason().contains("netlink replace")), moved.getPlanList().toString());
            assertEquals(123, orderOfOnePacket(c, order, port), "a (5) first now");

            apps.apply("xo-b", xdpOrder(elf, 2, port, 10, drop));
            assertEquals(12, orderOfOnePacket(c, order, port), "b drops: c does not run");
            apps.apply("xo-b", xdpOrder(elf, 2, port, 10, drop, XdpAction.XDP_ACTION_PASS, XdpAction.XDP_ACTION_DROP));
            assertEquals(123, orderOfOnePacket(c, order, port), "b's DROP lets the next run");

            apps.delete("xo-b");
            assertEquals(13, orderOfOnePacket(c, order, port), "the middle one gone, the others in order");
            assertEquals(1, dispatchDirs().size(), "the old dispatchers' pins are gone: " + dispatchDirs());

            if (Files.isExecutable(XDP_LOADER) && Files.isExecutable(Path.of("/usr/sbin/bpftool"))) {
                Path obj = Path.of(System.getProperty("bpfagent.objects", "target/bpf"), "xdporder.o");
                run(XDP_LOADER.toString(), "load", HOST_IF, obj.toString());
                String withTheirs = run(XDP_LOADER.toString(), "status", HOST_IF);
                assertTrue(withTheirs.split(" record ", -1).length >= 2 && withTheirs.split("ba_record", -1).length == 3,
                        withTheirs);
                assertEquals(13, orderOfOnePacket(c, order, port), "xdp-loader's program (priority 45) passes");
                assertEquals(List.of("xo-a", "xo-c", "-"), runOrder(apps, HOST_IF, "xdp"), "theirs listed last");
                assertEquals(45, loaderPriority(withTheirs), "xdp-loader reads the XDP_RUN_CONFIG too: " + withTheirs);
                apps.apply("xo-d", xdpOrder(elf, 4, port, 60, pass));
                assertEquals(134, orderOfOnePacket(c, order, port), "ours at 60 after xdp-loader's at 45");
                String all = run(XDP_LOADER.toString(), "status", HOST_IF);
                assertTrue(all.split("ba_record", -1).length == 4, "xdp-loader's program was kept: " + all);
                int theirs = 0;
                for (String line : all.split("\n")) {
                    String[] f = line.trim().split("\s+");
                    if (f.length > 3 && f[0].equals("=>") && f[2].equals("record")) { // => PRIO NAME ID TAG ACTIONS
                        theirs = Integer.parseInt(f[3]);
                    }
                }
                assertTrue(theirs > 0, "xdp-loader's program id in: " + all);
                run(XDP_LOADER.toString(), "unload", HOST_IF, "--id", String.valueOf(theirs));
                assertEquals(134, orderOfOnePacket(c, order, port), "xdp-loader's unload leaves ours running");
                Application d = apps.get("xo-d");
                assertTrue(on(d, HOST_IF).getState() == AttachmentStatus.State.STATE_ATTACHED, d.getStatus().toString());
            }
        } finally {
            for (String n : names) {
                try {
                    apps.delete(n);
                } catch (BpfAgentException gone) {
                    // deleted by the test, or never made
                }
            }
        }
        assertFalse(run(IP, "link", "show", HOST_IF).contains("xdp"), "no XDP program left on " + HOST_IF);
        assertEquals(List.of(), dispatchDirs(), "no dispatcher pins left");
    }

    /** The run priority `xdp-loader status` gives its own program "record" (lines "=> PRIO NAME ID TAG ACTIONS"). */
    static int loaderPriority(String status) {
        for (String line : status.split("\n")) {
            String[] f = line.trim().split("\\s+");
            if (f.length > 3 && f[0].equals("=>") && f[2].equals("record")) {
                return Integer.parseInt(f[1]);
            }
        }
        return -1;
    }

    /** The id of xdp-loader's own program "record" in its status, or 0. */
    static int loaderProgramId(String status) {
        for (String line : status.split("\n")) {
            String[] f = line.trim().split("\\s+");
            if (f.length > 3 && f[0].equals("=>") && f[2].equals("record")) {
                return Integer.parseInt(f[3]);
            }
        }
        return 0;
    }

    /**
     * The reverse of the interoperation above: xdp-loader puts its program on the interface first (its
     * dispatcher, priority 45 from the object), then two applications go before and after it. xdp-loader
     * status lists the three in order, the packets pass all (each of ours appends its digit), and
     * xdp-loader's unload of its own leaves ours running in order.
     */
    @Test
    void xdpLoaderFirstThenApplicationsAroundIt() throws Exception {
        Assumptions.assumeTrue(freplaceSupported(c), "the kernel refuses freplace (EXT) loads here: the dispatcher"
                + " runs in the kernel matrix");
        Assumptions.assumeTrue(Files.isRegularFile(DISPATCHER_OBJECT) && Files.isExecutable(XDP_LOADER),
                "needs Debian's xdp-tools (xdp-loader) and libxdp's " + DISPATCHER_OBJECT);
        byte[] elf = ObjectsOverAgentTest.object("xdporder");
        Path obj = Path.of(System.getProperty("bpfagent.objects", "target/bpf"), "xdporder.o");
        Applications apps = c.applications();
        int port = 43000 + (int) (Math.random() * 1000);
        run(XDP_LOADER.toString(), "load", HOST_IF, obj.toString());
        boolean theirsLoaded = true;
        try {
            String alone = run(XDP_LOADER.toString(), "status", HOST_IF);
            assertTrue(alone.contains("xdp_dispatcher") && loaderPriority(alone) == 45, alone);
            apps.apply("xr-a", xdpOrder(elf, 1, port, 10, 2));
            Application b = apps.apply("xr-b", xdpOrder(elf, 2, port, 60, 2)).getApplication();
            assertTrue(condition(b, "Ready").getStatus(), b.getStatus().toString());
            String three = run(XDP_LOADER.toString(), "status", HOST_IF);
            int a = three.indexOf("ba_record"), theirs = three.indexOf(" record "), last = three.lastIndexOf("ba_record");
            assertTrue(a >= 0 && theirs > a && last > theirs, "ours (10), xdp-loader's (45), ours (60): " + three);
            assertEquals(List.of("xr-a", "-", "xr-b"), runOrder(apps, HOST_IF, "xdp"));
            assertEquals(12, orderOfOnePacket(c, mapId(b, "order"), port), "both of ours ran, xdp-loader's passed between");
            run(XDP_LOADER.toString(), "unload", HOST_IF, "--id", String.valueOf(loaderProgramId(three)));
            theirsLoaded = false;
            assertEquals(12, orderOfOnePacket(c, mapId(b, "order"), port), "xdp-loader's unload leaves ours running");
            assertEquals(List.of("xr-a", "xr-b"), runOrder(apps, HOST_IF, "xdp"));
        } finally {
            if (theirsLoaded) {
                Processes.run(60, List.of(XDP_LOADER.toString(), "unload", HOST_IF, "--all"));
            }
            for (String n : List.of("xr-a", "xr-b")) {
                try {
                    apps.delete(n);
                } catch (BpfAgentException gone) {
                    // never made
                }
            }
        }
        assertFalse(run(IP, "link", "show", HOST_IF).contains("xdp"), "no XDP program left on " + HOST_IF);
        assertEquals(List.of(), dispatchDirs(), "no dispatcher pins left");
    }

    /**
     * Removing the middle one of three applications on a dispatcher while a steady UDP stream runs: the
     * last program (a counter at priority 90) counts every packet sent, and a socket behind it receives
     * every one: the dispatcher swap left no packet without its programs.
     */
    @Test
    void removingTheMiddleDispatchedApplicationLosesNoPacket() throws Exception {
        Assumptions.assumeTrue(freplaceSupported(c), "the kernel refuses freplace (EXT) loads here: the dispatcher"
                + " runs in the kernel matrix");
        Assumptions.assumeTrue(Files.isRegularFile(DISPATCHER_OBJECT), "needs libxdp's " + DISPATCHER_OBJECT);
        byte[] elf = ObjectsOverAgentTest.object("xdporder");
        Applications apps = c.applications();
        int port = 44000 + (int) (Math.random() * 1000);
        int sent = 3000;
        ApplicationSpec counter = xdpOrder(elf, 0, port, 90, 2);
        counter = counter.toBuilder().setObjects(0, counter.getObjects(0).toBuilder().putMaps("order",
                ApplicationMapSettings.newBuilder().setShare("xcount-" + TAG).build())).build();
        try (DatagramSocket sink = new DatagramSocket(new InetSocketAddress(HOST_ADDR, port))) {
            sink.setReceiveBufferSize(8 << 20);
            sink.setSoTimeout(200);
            apps.apply("xs-a", xdpOrder(elf, 1, port, 10, 2));
            apps.apply("xs-b", xdpOrder(elf, 2, port, 20, 2));
            Application count = apps.apply("xs-count", counter).getApplication();
            assertEquals(List.of("xs-a", "xs-b", "xs-count"), runOrder(apps, HOST_IF, "xdp"));
            int countMap = mapId(count, "order");
            ObjectRef map = ObjectRef.newBuilder().setId(countMap).setKind(ObjectKind.OBJECT_KIND_MAP).build();
            ByteString zero = ByteString.copyFrom(new byte[4]);
            java.util.function.LongSupplier counted = () -> c.lookupMapElem(LookupMapElemRequest.newBuilder()
                    .setMap(map).setKey(zero).build()).getValue().asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN)
                    .getLong(0);
            int[] received = {0};
            Thread reader = new Thread(() -> {
                DatagramPacket p = new DatagramPacket(new byte[64], 64);
                long quietSince = System.nanoTime();
                while (System.nanoTime() - quietSince < (received[0] == 0 ? 60_000_000_000L : 5_000_000_000L)) {
                    try {
                        sink.receive(p);
                        received[0]++;
                        quietSince = System.nanoTime();
                    } catch (IOException timeout) {
                        // quiet: the stream ended, or has not begun
                    }
                }
            });
            reader.start();
            Process stream = new ProcessBuilder(IP, "netns", "exec", NS, "/bin/bash", "-c", "for i in $(seq 1 " + sent
                    + "); do echo x > /dev/udp/" + HOST_ADDR + "/" + port + "; done").redirectErrorStream(true).start();
            assertTrue(Kernel.eventually(() -> counted.getAsLong() >= sent / 10), "the stream began");
            apps.delete("xs-b");
            long atDelete = counted.getAsLong();
            assertEquals(0, stream.waitFor(), new String(stream.getInputStream().readAllBytes()));
            reader.join();
            assertTrue(atDelete < sent, "the delete came mid-stream (" + atDelete + " of " + sent + " counted by then)");
            assertEquals(sent, counted.getAsLong(), "the counter after the dispatcher ran for every packet sent");
            assertEquals(sent, received[0], "every packet reached the socket");
            assertEquals(List.of("xs-a", "xs-count"), runOrder(apps, HOST_IF, "xdp"));
        } finally {
            for (String n : List.of("xs-a", "xs-b", "xs-count")) {
                try {
                    apps.delete(n);
                } catch (BpfAgentException gone) {
                    // deleted by the test, or never made
                }
            }
        }
        assertEquals(List.of(), dispatchDirs(), "no dispatcher pins left");
    }

    /**
     * Where the kernel refuses freplace (this host: EPERM), a rule with mechanism XDP_DISPATCHER is
     * FAILED_PRECONDITION saying so, and nothing of the application is left.
     */
    @Test
    void anXdpDispatcherNeedsFreplace() throws Exception {
        Assumptions.assumeFalse(freplaceSupported(c), "this kernel takes freplace: the dispatcher test runs instead");
        byte[] elf = ObjectsOverAgentTest.object("xdporder");
        Applications apps = c.applications();
        var e = assertThrows(BpfAgentException.class, () -> apps.apply("xo-refused", xdpOrder(elf, 1, 0, 10, 2)));
        assertEquals(Status.Code.FAILED_PRECONDITION, e.code(), e.getMessage());
        assertTrue(e.getMessage().contains("freplace") && e.getMessage().contains("mechanism"), e.getMessage());
        assertThrows(BpfAgentException.class, () -> apps.get("xo-refused"), "nothing made of the refused one");
        assertFalse(run(IP, "link", "show", HOST_IF).contains("xdp"), "no XDP program left on " + HOST_IF);
        var bad = assertThrows(BpfAgentException.class, () -> apps.apply("xo-bad", ApplicationSpec.newBuilder(
                xdpOrder(elf, 1, 0, 10, 2)).setObjects(0, xdpOrder(elf, 1, 0, 10, 2).getObjects(0).toBuilder()
                .setPrograms(0, xdpOrder(elf, 1, 0, 10, 2).getObjects(0).getPrograms(0).toBuilder().setAttach(0,
                        AttachRule.newBuilder().setHook(Hook.newBuilder().setTcx(TcxHook.newBuilder()
                                .setDirection(TcDirection.TC_DIRECTION_INGRESS))).addInterfaces(HOST_IF)
                                .setMechanism(AttachMechanism.ATTACH_MECHANISM_XDP_DISPATCHER)))).build()));
        assertEquals(Status.Code.INVALID_ARGUMENT, bad.code(), bad.getMessage());
        assertTrue(bad.getMessage().contains("attach[0].mechanism"), bad.getMessage());
    }

    /**
     * One XDP hook, two applications: the second is FAILED_PRECONDITION HOOK_TAKEN naming the first, and
     * saying what the kernel says of freplace (which an XDP dispatcher needs); the first runs on untouched.
     */
    @Test
    void aSecondApplicationOnAnXdpInterfaceIsRefusedNamingTheFirst() throws Exception {
        Applications apps = c.applications();
        try {
            Application first = apps.apply("xdp-first", onHostIf(1)).getApplication();
            int prog = programId(first, "firewall");
            var e = assertThrows(BpfAgentException.class, () -> apps.apply("xdp-second", onHostIf(2)));
            assertEquals(Status.Code.FAILED_PRECONDITION, e.code(), e.getMessage());
            assertEquals("HOOK_TAKEN", e.reason(), e.getMessage());
            assertTrue(e.getMessage().contains("'xdp-first'") && e.getMessage().contains("freplace"), e.getMessage());
            assertThrows(BpfAgentException.class, () -> apps.get("xdp-second"), "nothing made of the refused one");
            assertTrue(c.programAttached(prog), "the first runs on");
            assertEquals(prog, programId(apps.get("xdp-first"), "firewall"));
        } finally {
            apps.delete("xdp-first");
        }
    }

    @Test
    void badSpecsNameTheirField() throws Exception {
        Applications apps = c.applications();
        BpfAgentException e = assertThrows(BpfAgentException.class, () -> apps.apply("Bad_Name", spec(1, 0)));
        assertEquals(Status.Code.INVALID_ARGUMENT, e.code());
        assertTrue(e.getMessage().contains("name"), e.getMessage());
        ApplicationSpec s = spec(1, 0);
        ApplicationSpec unknownProgram = s.toBuilder().setObjects(0, s.getObjects(0).toBuilder().setPrograms(0,
                s.getObjects(0).getPrograms(0).toBuilder().setName("nope"))).build();
        e = assertThrows(BpfAgentException.class, () -> apps.apply("bad", unknownProgram));
        assertTrue(e.getMessage().contains("spec.objects[0].programs[0].name"), e.getMessage());
        ApplicationSpec noIface = s.toBuilder().setObjects(0, s.getObjects(0).toBuilder().setPrograms(0,
                s.getObjects(0).getPrograms(0).toBuilder().setAttach(0, s.getObjects(0).getPrograms(0).getAttach(0)
                        .toBuilder().clearInterfaces()))).build();
        e = assertThrows(BpfAgentException.class, () -> apps.apply("bad", noIface));
        assertTrue(e.getMessage().contains("spec.objects[0].programs[0].attach[0].interfaces"), e.getMessage());
        ApplicationSpec missingBlob = s.toBuilder().setObjects(0, s.getObjects(0).toBuilder().setSource(
                Applications.blob("0".repeat(64)))).build();
        e = assertThrows(BpfAgentException.class, () -> apps.apply("bad", missingBlob));
        assertEquals(Status.Code.NOT_FOUND, e.code(), e.getMessage());
        ApplicationSpec required = s.toBuilder().setObjects(0, s.getObjects(0).toBuilder().setPrograms(0,
                s.getObjects(0).getPrograms(0).toBuilder().setAttach(0, s.getObjects(0).getPrograms(0).getAttach(0)
                        .toBuilder().clearInterfaces().addInterfaces("nosuchif" + TAG).setRequired(true)))).build();
        e = assertThrows(BpfAgentException.class, () -> apps.apply("bad", required));
        assertEquals(Status.Code.FAILED_PRECONDITION, e.code(), e.getMessage());
        e = assertThrows(BpfAgentException.class, () -> apps.apply("bad", inNetns("../etc", "x*")));
        assertEquals(Status.Code.INVALID_ARGUMENT, e.code(), e.getMessage());
        assertTrue(e.getMessage().contains("spec.objects[0].programs[0].attach[0].netns"), e.getMessage());
        ApplicationSpec netnsNoGlobs = s.toBuilder().setObjects(0, s.getObjects(0).toBuilder().setPrograms(0,
                s.getObjects(0).getPrograms(0).toBuilder().setAttach(0, AttachRule.newBuilder().setNetns(NS)
                        .setHook(Hook.newBuilder().setXdp(XdpHook.newBuilder().setInterface(
                                Interface.newBuilder().setName(NS_IF))))))).build();
        e = assertThrows(BpfAgentException.class, () -> apps.apply("bad", netnsNoGlobs));
        assertTrue(e.getMessage().contains("attach[0].netns"), e.getMessage());
        assertThrows(BpfAgentException.class, () -> apps.get("bad"), "no application made by a refused first apply");
        // refused by the verifier, after its bytes were stored: the blob goes with the refusal
        byte[] odd = java.util.Arrays.copyOf(ObjectsOverAgentTest.object("firewall"),
                ObjectsOverAgentTest.object("firewall").length + 8); // another digest, the same object
        ApplicationSpec bad = spec(9, 1);
        ApplicationSpec rejected = bad.toBuilder().setObjects(0, bad.getObjects(0).toBuilder()
                .setSource(Applications.elf(odd))).build();
        e = assertThrows(BpfAgentException.class, () -> apps.apply("bad", rejected));
        assertTrue(e.getMessage().contains("verifier"), e.getMessage());
        String sha = java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256").digest(odd));
        assertFalse(Files.exists(agent.stateDir().resolve("blobs").resolve(sha)), "no blob kept for a refused apply");
        assertThrows(BpfAgentException.class, () -> apps.get("bad"));
        assertEquals(0, c.agentInfo().getUnheld());
    }

    @Test
    void uploadedBlobsNameObjectsAndARestartRebuildsTheApplication() throws Exception {
        Path state = Files.createTempDirectory("bpf-agent-apps-state");
        try {
            int prog;
            try (AgentProcess first = AgentProcess.start("--state-dir", state.toString());
                 BpfClient c1 = BpfClient.connect(first.unixTarget())) {
                Applications apps = c1.applications();
                String sha = apps.uploadBlob(ObjectsOverAgentTest.object("firewall"));
                ApplicationSpec s = spec(1, 0);
                ApplicationSpec byBlob = s.toBuilder().setObjects(0, s.getObjects(0).toBuilder().setSource(
                        Applications.blob(sha)).clearPrograms().addPrograms(ApplicationProgram.newBuilder()
                        .setName("firewall"))).build();
                Application a = apps.apply("byblob", byBlob).getApplication();
                prog = programId(a, "firewall");
                assertTrue(c1.programExists(prog));
            }
            // the first agent's bpffs directory went with it (as after a reboot): the next agent, on another
            // bpffs directory, rebuilds from the record
            int gone = prog;
            assertTrue(Kernel.eventually(() -> !dev.bpfagent.agent.bpf.Program.existsInKernel(gone)));
            try (AgentProcess second = AgentProcess.start("--state-dir", state.toString());
                 BpfClient c2 = BpfClient.connect(second.unixTarget())) {
                Application back = c2.applications().get("byblob");
                assertEquals(1, back.getGeneration());
                int rebuilt = programId(back, "firewall");
                assertNotEquals(prog, rebuilt);
                assertTrue(c2.programExists(rebuilt), back.getStatus().toString());
                assertTrue(back.getStatus().getEventsList().stream().anyMatch(e -> e.getReason().equals("Rebuilt")));
                c2.applications().delete("byblob");
                assertTrue(Kernel.eventually(() -> !dev.bpfagent.agent.bpf.Program.existsInKernel(rebuilt)));
                try (var files = Files.list(state.resolve("blobs"))) {
                    assertEquals(0, files.count(), "the blob goes with the last application naming it");
                }
            }
        } finally {
            Processes.run(30, List.of("rm", "-rf", state.toString()));
        }
    }
}
