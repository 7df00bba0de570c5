package dev.bpfagent.it;

import static org.junit.jupiter.api.Assertions.*;

import com.google.protobuf.ByteString;
import dev.bpfagent.client.BpfClient;
import dev.bpfagent.kubernetes.cluster.StatusAggregator;
import dev.bpfagent.kubernetes.node.NodeController;
import dev.bpfagent.kubernetes.resource.BpfApplication;
import dev.bpfagent.kubernetes.resource.BpfApplicationNode;
import dev.bpfagent.kubernetes.resource.BpfApplicationSpec;
import dev.bpfagent.kubernetes.resource.Conditions;
import dev.bpfagent.proto.v1.Application;
import dev.bpfagent.proto.v1.LookupMapElemRequest;
import dev.bpfagent.proto.v1.ObjectKind;
import dev.bpfagent.proto.v1.ObjectRef;
import dev.bpfagent.proto.v1.UpdateMapElemRequest;
import io.fabric8.kubernetes.api.model.NodeBuilder;
import io.fabric8.kubernetes.client.NamespacedKubernetesClient;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.function.BooleanSupplier;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A fleet on one host, rolled out as an orchestrator would. Eight nodes, each a network namespace with
 * an eth0 on a veth to one bridge, its own agent inside that namespace (own socket, bpffs directory and
 * state directory) and its own node controller; one cluster status aggregator; fabric8's mock API
 * server in CRUD mode; the bytecode from an OCI image in a real registry on loopback (Debian's
 * docker-registry). The XDP firewall (firewall.c) writes the version that ran into its counters, so real
 * UDP packets sent across the bridge to each node show what runs there at every step:
 * a canary node by label, a health gate, then all eight; v2 the same way (a canary resource on one node,
 * then the fleet's resource updated, an agent SIGKILLed in the middle and restarted); a rollback to v1;
 * then delete, after which no node holds a program, link, pin or record. Timings are printed.
 */
class KubernetesFleetTest {
    static final int N = Integer.getInteger("bpfagent.fleetNodes", 8);
    static final String TAG = UUID.randomUUID().toString().substring(0, 4);
    static final String BRIDGE = "bpfkb" + TAG;
    static final int NET = 100 + (int) (Math.random() * 100);
    static final String NS = "fleet";
    static final ConcurrentLinkedQueue<String> LOG = new ConcurrentLinkedQueue<>();
    static MockCluster cluster;
    static NamespacedKubernetesClient kube;
    static OciRegistry registry;
    static Path bpffs;
    static boolean bpffsMounted;
    static final List<String> netns = new ArrayList<>();
    static final Map<Integer, AgentProcess> agents = new LinkedHashMap<>();
    static final Map<Integer, BpfClient> clients = new LinkedHashMap<>();
    static final Map<Integer, NodeController> controllers = new LinkedHashMap<>();
    static StatusAggregator aggregator;
    static final Map<Long, String> images = new LinkedHashMap<>();

    static String node(int i) {
        return "node-" + i;
    }

    static String addr(int i) {
        return "10.215." + NET + "." + (10 + i);
    }

    static List<String> prefix(int i) {
        return List.of(NetworkHooksTest.IP, "netns", "exec", netns.get(i));
    }

    @BeforeAll
    static void fleet() throws Exception {
        Kernel.assumeRoot();
        Assumptions.assumeTrue(Files.isExecutable(Path.of(NetworkHooksTest.IP)), "needs iproute2's ip");
        Assumptions.assumeTrue(Files.isExecutable(OciRegistry.BINARY), "needs Debian's docker-registry");
        // the bridge every node's eth0 is on
        NetworkHooksTest.sh(NetworkHooksTest.IP, "link", "add", BRIDGE, "type", "bridge");
        NetworkHooksTest.sh(NetworkHooksTest.IP, "addr", "add", "10.215." + NET + ".1/24", "dev", BRIDGE);
        NetworkHooksTest.sh(NetworkHooksTest.IP, "link", "set", BRIDGE, "up");
        // a bpffs outside /sys (which `ip netns exec` mounts anew) holds every node's pins, seen from here too
        bpffs = Files.createTempDirectory(Path.of("/run"), "bpf-agent-fleet");
        NetworkHooksTest.sh("mount", "-t", "bpf", "bpf", bpffs.toString());
        bpffsMounted = true;
        cluster = MockCluster.start();
        kube = cluster.kube;
        registry = OciRegistry.start();
        byte[] firewall = Files.readAllBytes(Path.of(System.getProperty("bpfagent.objects", "target/bpf"), "firewall.o"));
        // one image per version: the version is a .rodata variable set in the spec, so both carry the same
        // object; two tags, two digests (the labels differ), as two builds would
        for (long v : List.of(1L, 2L)) {
            images.put(v, registry.host() + "/bytecode/fleet-firewall@" + registry.push("bytecode/fleet-firewall", "v" + v,
                    "firewall.o", firewall, Map.of("firewall", "xdp", "udp_verdict", "xdp", "build", "v" + v), Map.of()));
        }
        for (int i = 0; i < N; i++) {
            String ns = "bpfkn" + TAG + i;
            String host = "bpfkh" + TAG + i;
            String peer = "bpfkp" + TAG + i;
            NetworkHooksTest.sh(NetworkHooksTest.IP, "netns", "add", ns);
            netns.add(ns);
            NetworkHooksTest.sh(NetworkHooksTest.IP, "link", "add", host, "type", "veth", "peer", "name", peer);
            NetworkHooksTest.sh(NetworkHooksTest.IP, "link", "set", peer, "netns", ns);
            NetworkHooksTest.sh(NetworkHooksTest.IP, "link", "set", host, "master", BRIDGE);
            NetworkHooksTest.sh(NetworkHooksTest.IP, "link", "set", host, "up");
            NetworkHooksTest.sh(NetworkHooksTest.IP, "netns", "exec", ns, NetworkHooksTest.IP, "link", "set", peer, "name", "eth0");
            NetworkHooksTest.sh(NetworkHooksTest.IP, "netns", "exec", ns, NetworkHooksTest.IP, "addr", "add", addr(i) + "/24", "dev", "eth0");
            NetworkHooksTest.sh(NetworkHooksTest.IP, "netns", "exec", ns, NetworkHooksTest.IP, "link", "set", "eth0", "up");
            NetworkHooksTest.sh(NetworkHooksTest.IP, "netns", "exec", ns, NetworkHooksTest.IP, "link", "set", "lo", "up");
            kube.nodes().resource(new NodeBuilder().withNewMetadata().withName(node(i))
                    .withLabels(new LinkedHashMap<>(Map.of("fleet", "edge"))).endMetadata().build()).create();
            startAgent(i);
        }
        for (int i = 0; i < N; i++) {
            controllers.put(i, new NodeController(cluster.client(), clients.get(i), node(i), "bpf-agent", LOG::add).start());
        }
        aggregator = new StatusAggregator(cluster.client(), "bpf-agent", m -> LOG.add("cluster: " + m)).start();
    }

    static void startAgent(int i) throws Exception {
        Path dir = Path.of(System.getProperty("java.io.tmpdir"), "bpf-agent-fleet-" + TAG + "-" + i);
        AgentProcess a = AgentProcess.startIn(prefix(i), dir, bpffs.resolve(node(i)));
        agents.put(i, a);
        BpfClient old = clients.put(i, BpfClient.connect(a.unixTarget()));
        if (old != null) {
            old.close();
        }
    }

    @AfterAll
    static void teardown() throws Exception {
        if (aggregator != null) {
            aggregator.close();
        }
        for (NodeController c : controllers.values()) {
            c.close();
        }
        for (BpfClient c : clients.values()) {
            c.close();
        }
        for (AgentProcess a : agents.values()) {
            a.close();
        }
        if (registry != null) {
            registry.close();
        }
        if (cluster != null) {
            cluster.close();
        }
        for (String ns : netns) {
            Processes.run(30, List.of(NetworkHooksTest.IP, "netns", "del", ns));
        }
        Processes.run(30, List.of(NetworkHooksTest.IP, "link", "del", BRIDGE));
        if (bpffsMounted) {
            Processes.run(30, List.of("umount", bpffs.toString()));
        }
        if (bpffs != null) {
            Files.deleteIfExists(bpffs);
        }
    }

    static BpfApplicationSpec spec(long version, Map<String, String> selector) {
        BpfApplicationSpec s = new BpfApplicationSpec();
        s.setNodeSelector(new LinkedHashMap<>(selector));
        Map<String, Object> fw = new LinkedHashMap<>();
        fw.put("name", "fw");
        fw.put("source", Map.of("image", Map.of("reference", images.get(version))));
        fw.put("rodata", Map.of("version", java.util.Base64.getEncoder().encodeToString(
                ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(version).array())));
        fw.put("programs", List.of(Map.of("name", "firewall", "attach", List.of(Map.of("hook", Map.of("xdp", Map.of()),
                "interfaces", List.of("eth0"), "required", true))), Map.of("name", "udp_verdict")));
        s.setObjects(new ArrayList<>(List.of(fw)));
        return s;
    }

    static BpfApplication app(String name) {
        return kube.resources(BpfApplication.class).inNamespace(NS).withName(name).get();
    }

    static void apply(String name, BpfApplicationSpec spec) {
        var op = kube.resources(BpfApplication.class).inNamespace(NS);
        if (op.withName(name).get() == null) {
            BpfApplication a = new BpfApplication();
            a.getMetadata().setName(name);
            a.getMetadata().setNamespace(NS);
            a.setSpec(spec);
            op.resource(a).create();
        } else {
            op.withName(name).edit(a -> {
                a.setSpec(spec);
                return a;
            });
        }
    }

    static void label(int i, String key, String value) {
        kube.nodes().withName(node(i)).edit(n -> {
            if (value == null) {
                n.getMetadata().getLabels().remove(key);
            } else {
                n.getMetadata().getLabels().put(key, value);
            }
            return n;
        });
    }

    /** Waits for the application's status: all of `ready` nodes Ready at its current generation. */
    static long awaitReady(String name, int ready) throws InterruptedException {
        long t0 = System.nanoTime();
        BooleanSupplier cond = () -> {
            BpfApplication a = app(name);
            return a != null && a.getStatus() != null
                    && a.getMetadata().getGeneration().equals(a.getStatus().getObservedGeneration())
                    && Integer.valueOf(ready).equals(a.getStatus().getReadyNodes())
                    && Integer.valueOf(ready).equals(a.getStatus().getSelectedNodes())
                    && Conditions.isTrue(a.getStatus().getConditions(), "Ready");
        };
        assertTrue(Kernel.eventually(cond, 120), name + " Ready " + ready + "/" + ready + "; status: "
                + (app(name) == null ? "gone" : new KubernetesSerialization().asYaml(app(name).getStatus()))
                + "\ncontroller log:\n" + String.join("\n", LOG));
        return (System.nanoTime() - t0) / 1_000_000;
    }

    /**
     * The version the firewall on node i runs, as real packets see it: its counters' version slot
     * cleared, UDP packets sent across the bridge to the node's eth0, the slot read back (0: no firewall
     * ran, which also means none is attached there).
     */
    static long versionSeenByPackets(int i) throws Exception {
        BpfClient c = clients.get(i);
        Integer counters = null;
        for (Application a : c.applications().list()) {
            for (var m : a.getStatus().getMapsList()) {
                if (m.getName().equals("counters")) {
                    counters = m.getMapId();
                }
            }
        }
        if (counters == null) {
            return 0;
        }
        ObjectRef map = ObjectRef.newBuilder().setKind(ObjectKind.OBJECT_KIND_MAP).setId(counters).build();
        ByteString slot = ByteString.copyFrom(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(2).array());
        int cpus = c.lookupMapElem(LookupMapElemRequest.newBuilder().setMap(map).setKey(slot).build()).getPerCpuValuesCount();
        UpdateMapElemRequest.Builder zero = UpdateMapElemRequest.newBuilder().setMap(map).setKey(slot);
        for (int k = 0; k < cpus; k++) {
            zero.addPerCpuValues(ByteString.copyFrom(new byte[8]));
        }
        c.updateMapElem(zero.build());
        try (DatagramSocket s = new DatagramSocket()) {
            for (int k = 0; k < 5; k++) {
                byte[] b = ("fleet " + k).getBytes();
                s.send(new DatagramPacket(b, b.length, InetAddress.getByName(addr(i)), 40000 + k));
            }
        }
        Set<Long> seen = new HashSet<>();
        long end = System.nanoTime() + 5_000_000_000L;
        while (System.nanoTime() < end) {
            seen.clear();
            for (ByteString v : c.lookupMapElem(LookupMapElemRequest.newBuilder().setMap(map).setKey(slot).build())
                    .getPerCpuValuesList()) {
                long x = v.asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN).getLong(0);
                if (x != 0) {
                    seen.add(x);
                }
            }
            if (!seen.isEmpty()) {
                break;
            }
            Thread.sleep(50);
        }
        assertTrue(seen.size() <= 1, node(i) + ": two versions ran: " + seen);
        return seen.isEmpty() ? 0 : seen.iterator().next();
    }

    static void expectVersions(Map<Integer, Long> want, String step) throws Exception {
        for (int i = 0; i < N; i++) {
            assertEquals(want.getOrDefault(i, 0L), versionSeenByPackets(i), step + ": the version packets meet on " + node(i));
        }
    }

    static Map<Integer, Long> all(long v) {
        Map<Integer, Long> m = new LinkedHashMap<>();
        for (int i = 0; i < N; i++) {
            m.put(i, v);
        }
        return m;
    }

    @Test
    void canaryGateFleetThenV2ThroughAKilledAgentThenRollbackThenDelete() throws Exception {
        List<String> timings = new ArrayList<>();
        // v1: a canary node by label, the gate, then the whole fleet
        label(0, "track", "stable");
        apply("fw", spec(1, Map.of("track", "stable")));
        timings.add("v1 canary (1 node): " + awaitReady("fw", 1) + " ms");
        expectVersions(Map.of(0, 1L), "v1 canary");
        for (int i = 1; i < N; i++) {
            label(i, "track", "stable");
        }
        timings.add("v1 to the rest (" + (N - 1) + " nodes): " + awaitReady("fw", N) + " ms");
        expectVersions(all(1), "v1 everywhere");

        // v2: node 0 moves to a canary resource (its XDP hook handed from one application to the other)
        apply("fw-canary", spec(2, Map.of("track", "canary")));
        label(0, "track", "canary");
        timings.add("v2 canary (hand-over on 1 node): " + awaitReady("fw-canary", 1) + " ms");
        awaitReady("fw", N - 1);
        Map<Integer, Long> gate = all(1);
        gate.put(0, 2L);
        expectVersions(gate, "v2 canary");
        // the gate passed: the fleet's resource to v2, and an agent killed while it rolls
        long t0 = System.nanoTime();
        apply("fw", spec(2, Map.of("track", "stable")));
        agents.get(3).kill();
        Thread.sleep(500);
        startAgent(3);
        controllers.remove(3).close();
        controllers.put(3, new NodeController(cluster.client(), clients.get(3), node(3), "bpf-agent", LOG::add).start());
        awaitReady("fw", N - 1);
        timings.add("v2 to the rest (" + (N - 1) + " nodes, node-3's agent SIGKILLed and restarted): "
                + (System.nanoTime() - t0) / 1_000_000 + " ms");
        expectVersions(all(2), "v2 everywhere");
        // node 0 back on the fleet's resource; the canary resource goes
        label(0, "track", "stable");
        awaitReady("fw", N);
        kube.resources(BpfApplication.class).inNamespace(NS).withName("fw-canary").delete();
        assertTrue(Kernel.eventually(() -> app("fw-canary") == null, 60), "fw-canary goes");
        expectVersions(all(2), "v2 everywhere, one resource");

        // rollback: v1 everywhere at once
        apply("fw", spec(1, Map.of("track", "stable")));
        timings.add("rollback to v1 (" + N + " nodes): " + awaitReady("fw", N) + " ms");
        expectVersions(all(1), "rolled back");
        for (int i = 0; i < N; i++) {
            BpfApplicationNode st = kube.resources(BpfApplicationNode.class).inNamespace(NS).withName("fw." + node(i)).get();
            assertEquals(images.get(1L).substring(images.get(1L).indexOf('@') + 1), st.getStatus().getImages().get(0).get("digest"),
                    node(i) + " records the digest it runs");
        }

        // delete: every node lets go of everything before the resource goes
        Map<Integer, List<Integer>> programs = new LinkedHashMap<>();
        for (int i = 0; i < N; i++) {
            programs.put(i, clients.get(i).applications().list().stream()
                    .flatMap(a -> a.getStatus().getProgramsList().stream()).map(p -> p.getProgramId()).toList());
            assertEquals(2, programs.get(i).size(), node(i));
        }
        long d0 = System.nanoTime();
        kube.resources(BpfApplication.class).inNamespace(NS).withName("fw").delete();
        assertTrue(Kernel.eventually(() -> app("fw") == null, 60), "fw goes; log:\n" + String.join("\n", LOG));
        timings.add("delete (" + N + " nodes): " + (System.nanoTime() - d0) / 1_000_000 + " ms");
        for (int i = 0; i < N; i++) {
            BpfClient c = clients.get(i);
            assertEquals(List.of(), c.applications().list(), node(i) + ": no application");
            for (int id : programs.get(i)) {
                assertTrue(Kernel.eventually(() -> !c.programExists(id)), node(i) + ": program " + id + " is gone from the kernel");
            }
            assertEquals(0, c.agentInfo().getProgramsHeld(), node(i));
            assertEquals(0, c.agentInfo().getMapsHeld(), node(i));
            assertEquals(0, c.listLinks(dev.bpfagent.proto.v1.ListLinksRequest.getDefaultInstance()).getLinksCount(),
                    node(i) + ": no link");
            try (Stream<Path> pins = Files.walk(agents.get(i).bpffsDir)) {
                assertEquals(List.of(agents.get(i).bpffsDir), pins.toList(), node(i) + ": no pin is left");
            }
            assertEquals(0, versionSeenByPackets(i), node(i) + ": no firewall runs");
            String link = Processes.run(30, List.of(NetworkHooksTest.IP, "netns", "exec", netns.get(i),
                    NetworkHooksTest.IP, "-d", "link", "show", "eth0")).output();
            assertFalse(link.contains("prog/xdp"), node(i) + ": XDP is still on eth0: " + link);
        }
        assertTrue(kube.resources(BpfApplicationNode.class).inNamespace(NS).list().getItems().isEmpty());
        System.out.println("fleet of " + N + " nodes (mock API server, real agents and kernel):");
        timings.forEach(t -> System.out.println("  " + t));
    }
}
