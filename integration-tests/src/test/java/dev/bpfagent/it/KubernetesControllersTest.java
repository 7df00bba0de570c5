package dev.bpfagent.it;

import static org.junit.jupiter.api.Assertions.*;

import dev.bpfagent.client.BpfClient;
import dev.bpfagent.kubernetes.cluster.StatusAggregator;
import dev.bpfagent.kubernetes.node.NodeController;
import dev.bpfagent.kubernetes.resource.BpfApplication;
import dev.bpfagent.kubernetes.resource.BpfApplicationNode;
import dev.bpfagent.kubernetes.resource.BpfApplicationSpec;
import dev.bpfagent.kubernetes.resource.Conditions;
import dev.bpfagent.kubernetes.resource.Resources;
import dev.bpfagent.proto.v1.Application;
import dev.bpfagent.proto.v1.ApplicationObject;
import dev.bpfagent.proto.v1.ApplicationSpec;
import dev.bpfagent.proto.v1.ObjectSource;
import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.NodeBuilder;
import io.fabric8.kubernetes.client.NamespacedKubernetesClient;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.function.BooleanSupplier;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * The Kubernetes layer against fabric8's Kubernetes mock server in CRUD mode (no real API server can
 * run on these machines) with real agents and the real kernel behind it: three nodes, each with its own
 * agent (socket, bpffs directory, state directory) and its own node controller, and one cluster status
 * aggregator. A BpfApplication selects two nodes by label; its XDP firewall (loaded) and a tracepoint
 * program (attached, counting clock_nanosleep) run on those two agents and not on the third; a new
 * version rolls to both; a version the verifier refuses stalls with the reason and node named while the
 * previous version runs on; a relabelled node joins; deleting the resource removes every program from
 * every node (waited for in the kernel) before the resource goes.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class KubernetesControllersTest {
    static final String NS = "team";
    static final String APP = "fw";
    static final List<String> NODES = List.of("node-a", "node-b", "node-c");
    static final ConcurrentLinkedQueue<String> LOG = new ConcurrentLinkedQueue<>();
    static MockCluster cluster;
    static NamespacedKubernetesClient kube;
    static final Map<String, AgentProcess> agents = new LinkedHashMap<>();
    static final Map<String, BpfClient> clients = new LinkedHashMap<>();
    static final List<AutoCloseable> controllers = new ArrayList<>();
    static final Map<String, NodeController> nodeControllers = new LinkedHashMap<>();
    static byte[] firewall;
    static OciRegistry registry;
    static byte[] sections;

    @BeforeAll
    static void cluster() throws Exception {
        Kernel.assumeRoot();
        Path objects = Path.of(System.getProperty("bpfagent.objects", "target/bpf"));
        firewall = Files.readAllBytes(objects.resolve("firewall.o"));
        sections = Files.readAllBytes(objects.resolve("sections.o"));
        cluster = MockCluster.start();
        kube = cluster.kube;
        for (String n : NODES) {
            kube.nodes().resource(new NodeBuilder().withNewMetadata().withName(n)
                    .withLabels(Map.of("role", n.equals("node-c") ? "core" : "edge")).endMetadata().build()).create();
            AgentProcess a = AgentProcess.start();
            agents.put(n, a);
            BpfClient c = BpfClient.connect(a.unixTarget());
            clients.put(n, c);
        }
        // an agent application the layer made once whose resource is gone: the controller's first sweep removes it
        clients.get("node-c").applications().apply("k8s.gone.orphan", ApplicationSpec.newBuilder()
                .putLabels(Resources.LABEL_MANAGED_BY, Resources.MANAGED_BY)
                .addObjects(ApplicationObject.newBuilder().setName("fw").setSource(ObjectSource.newBuilder()
                        .setElf(com.google.protobuf.ByteString.copyFrom(firewall)))).build());
        for (String n : NODES) {
            nodeControllers.put(n, nodeController(n));
        }
        controllers.add(new StatusAggregator(cluster.client(), "bpf-agent", m -> LOG.add("cluster: " + m)).start());
    }

    static NodeController nodeController(String n) {
        return new NodeController(cluster.client(), clients.get(n), n, "bpf-agent", m -> LOG.add(m)).start();
    }

    @AfterAll
    static void stop() throws Exception {
        if (registry != null) {
            registry.close();
        }
        for (NodeController c : nodeControllers.values()) {
            c.close();
        }
        for (AutoCloseable c : controllers) {
            c.close();
        }
        for (BpfClient c : clients.values()) {
            c.close();
        }
        for (AgentProcess a : agents.values()) {
            a.close();
        }
        if (cluster != null) {
            cluster.close();
        }
    }

    static byte[] u64(long v) {
        return ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(v).array();
    }

    /** The spec as a user writes it: the proto3 JSON mapping, the object inline (base64). */
    static BpfApplicationSpec spec(long version, boolean reject) {
        BpfApplicationSpec s = new BpfApplicationSpec();
        s.setNodeSelector(new LinkedHashMap<>(Map.of("role", "edge")));
        s.setLabels(new LinkedHashMap<>(Map.of("team", "net")));
        Map<String, Object> rodata = new LinkedHashMap<>();
        rodata.put("version", Base64.getEncoder().encodeToString(u64(version)));
        if (reject) {
            rodata.put("reject", Base64.getEncoder().encodeToString(new byte[] {1, 0, 0, 0}));
        }
        Map<String, Object> fw = new LinkedHashMap<>();
        fw.put("name", "fw");
        fw.put("source", Map.of("elf", Base64.getEncoder().encodeToString(firewall)));
        fw.put("programs", List.of(Map.of("name", "firewall"), Map.of("name", "udp_verdict")));
        fw.put("rodata", rodata);
        Map<String, Object> tp = new LinkedHashMap<>();
        tp.put("name", "sleeps");
        tp.put("source", Map.of("elf", Base64.getEncoder().encodeToString(sections)));
        tp.put("programs", List.of(Map.of("name", "count_sleeps", "attach", List.of(Map.of("hook",
                Map.of("tracepoint", Map.of("category", "syscalls", "name", "sys_enter_clock_nanosleep")))))));
        s.setObjects(new ArrayList<>(List.of(fw, tp)));
        return s;
    }

    static BpfApplication app() {
        return app(APP);
    }

    static BpfApplication app(String name) {
        return kube.resources(BpfApplication.class).inNamespace(NS).withName(name).get();
    }

    static void await(String what, BooleanSupplier cond) throws InterruptedException {
        await(APP, what, cond);
    }

    static void await(String name, String what, BooleanSupplier cond) throws InterruptedException {
        assertTrue(Kernel.eventually(cond, 60), what + "; app status: "
                + (app(name) == null ? "gone" : new KubernetesSerialization().asYaml(app(name).getStatus()))
                + "\ncontroller log: " + String.join("\n", LOG));
    }

    static boolean status(long generation, int ready, int selected, String readyStatus) {
        return status(APP, generation, ready, selected, readyStatus);
    }

    static boolean status(String name, long generation, int ready, int selected, String readyStatus) {
        BpfApplication a = app(name);
        if (a == null || a.getStatus() == null) {
            return false;
        }
        var s = a.getStatus();
        Condition r = Conditions.find(s.getConditions(), "Ready");
        return Long.valueOf(generation).equals(s.getObservedGeneration()) && Integer.valueOf(ready).equals(s.getReadyNodes())
                && Integer.valueOf(selected).equals(s.getSelectedNodes()) && r != null && readyStatus.equals(r.getStatus());
    }

    static Application agentApp(String node) {
        return agentApp(node, APP);
    }

    static Application agentApp(String node, String name) {
        return clients.get(node).applications().list().stream().filter(a -> a.getName().equals("k8s." + NS + "." + name))
                .findFirst().orElse(null);
    }

    @Test
    @Order(1)
    void theSweepRemovedAnAgentApplicationWhoseResourceIsGone() throws Exception {
        assertTrue(Kernel.eventually(() -> clients.get("node-c").applications().list().isEmpty(), 30),
                "the orphan is still on node-c: " + clients.get("node-c").applications().list() + "\n" + String.join("\n", LOG));
    }

    @Test
    @Order(2)
    void anApplicationRunsOnTheNodesItSelectsAndCountsThere() throws Exception {
        BpfApplication a = new BpfApplication();
        a.getMetadata().setName(APP);
        a.getMetadata().setNamespace(NS);
        a.setSpec(spec(1, false));
        kube.resources(BpfApplication.class).inNamespace(NS).resource(a).create();
        await("Ready 2/2 at generation 1", () -> status(1, 2, 2, "True"));
        BpfApplication got = app();
        assertEquals("AllNodesReady", Conditions.find(got.getStatus().getConditions(), "Ready").getReason());
        assertTrue(Conditions.find(got.getStatus().getConditions(), "Ready").getMessage().startsWith("Ready 2/2 nodes"));
        assertTrue(got.getMetadata().getFinalizers().containsAll(List.of(Resources.finalizer("node-a"),
                Resources.finalizer("node-b"))), got.getMetadata().getFinalizers().toString());
        assertFalse(got.getMetadata().getFinalizers().contains(Resources.finalizer("node-c")));
        assertNull(agentApp("node-c"), "node-c is not selected");
        for (String n : List.of("node-a", "node-b")) {
            Application on = agentApp(n);
            assertNotNull(on, n);
            assertEquals(3, on.getStatus().getProgramsCount(), on.toString());
            for (var p : on.getStatus().getProgramsList()) {
                assertTrue(clients.get(n).programExists(p.getProgramId()), n + ": " + p);
            }
            assertEquals("ATTACHED", on.getStatus().getAttachments(0).getState().name().substring(6));
            BpfApplicationNode st = kube.resources(BpfApplicationNode.class).inNamespace(NS).withName(APP + "." + n).get();
            assertNotNull(st, "the node resource of " + n);
            assertEquals(got.getMetadata().getUid(), st.getMetadata().getOwnerReferences().get(0).getUid());
            assertTrue(Conditions.isTrue(st.getStatus().getConditions(), "Ready"), st.getStatus().getConditions().toString());
            assertEquals(3, st.getStatus().getPrograms().size());
            assertEquals("STATE_ATTACHED", st.getStatus().getAttachments().get(0).get("state"));
        }
        // the tracepoint program counts on both nodes: its map's value grows with our sleeps
        long a0 = sleeps("node-a");
        long b0 = sleeps("node-b");
        Runnable sleeper = LinksOverAgentTest.sleeper();
        assertTrue(Kernel.eventually(() -> {
            sleeper.run();
            return sleeps("node-a") > a0 && sleeps("node-b") > b0;
        }, 10), "both nodes' tracepoint programs count clock_nanosleep (`sleep 0.01`)");
    }

    /** The count in node's "sleeps" map (key 0), read through its agent. */
    static long sleeps(String node) {
        Application on = agentApp(node);
        int mapId = on.getStatus().getMapsList().stream().filter(m -> m.getObject().equals("sleeps")
                && m.getName().equals("sleeps")).findFirst().orElseThrow().getMapId();
        var r = clients.get(node).lookupMapElem(dev.bpfagent.proto.v1.LookupMapElemRequest.newBuilder()
                .setMap(dev.bpfagent.proto.v1.ObjectRef.newBuilder().setKind(dev.bpfagent.proto.v1.ObjectKind.OBJECT_KIND_MAP)
                        .setId(mapId)).setKey(com.google.protobuf.ByteString.copyFrom(new byte[4])).build());
        return r.getValue().asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN).getLong();
    }

    @Test
    @Order(3)
    void aNewVersionRollsToBothNodes() throws Exception {
        kube.resources(BpfApplication.class).inNamespace(NS).withName(APP).edit(a -> {
            a.setSpec(spec(2, false));
            return a;
        });
        await("Ready 2/2 at generation 2", () -> status(2, 2, 2, "True"));
        for (String n : List.of("node-a", "node-b")) {
            assertEquals(2, agentApp(n).getGeneration(), n);
        }
    }

    @Test
    @Order(4)
    void aVersionTheVerifierRefusesStallsNamingTheNodesWhileThePreviousRunsOn() throws Exception {
        List<Integer> running = agentApp("node-a").getStatus().getProgramsList().stream().map(p -> p.getProgramId()).toList();
        kube.resources(BpfApplication.class).inNamespace(NS).withName(APP).edit(a -> {
            a.setSpec(spec(3, true));
            return a;
        });
        await("Stalled at generation 3", () -> status(3, 0, 2, "False")
                && Conditions.isTrue(app().getStatus().getConditions(), "Stalled"));
        var s = app().getStatus();
        Condition stalled = Conditions.find(s.getConditions(), "Stalled");
        assertEquals("VerifierRejected", stalled.getReason(), stalled.toString());
        assertTrue(stalled.getMessage().contains("node-a: VerifierRejected") && stalled.getMessage().contains("node-b"),
                stalled.getMessage());
        assertEquals(3L, stalled.getObservedGeneration());
        assertEquals(2, s.getFailingNodes().size());
        // a refused spec is not applied again and again (each failed apply changes the agent's status,
        // which the watch reports): the agent's resource version stands still while nothing changes
        long rv = agentApp("node-a").getResourceVersion();
        Thread.sleep(2000);
        assertEquals(rv, agentApp("node-a").getResourceVersion(), "no apply loop");
        for (int id : running) {
            assertTrue(clients.get("node-a").programExists(id), "the previous version's program " + id + " runs on");
        }
        // back to a good version
        kube.resources(BpfApplication.class).inNamespace(NS).withName(APP).edit(a -> {
            a.setSpec(spec(4, false));
            return a;
        });
        await("Ready 2/2 at generation 4", () -> status(4, 2, 2, "True"));
        assertFalse(Conditions.isTrue(app().getStatus().getConditions(), "Stalled"));
    }

    @Test
    @Order(5)
    void aRelabelledNodeJoins() throws Exception {
        kube.nodes().withName("node-c").edit(n -> {
            n.getMetadata().getLabels().put("role", "edge");
            return n;
        });
        await("Ready 3/3", () -> status(4, 3, 3, "True"));
        assertNotNull(agentApp("node-c"));
    }

    @Test
    @Order(6)
    void deletingTheApplicationRemovesItsProgramsFromEveryNodeFirst() throws Exception {
        Map<String, List<Integer>> programs = new LinkedHashMap<>();
        for (String n : NODES) {
            programs.put(n, agentApp(n).getStatus().getProgramsList().stream().map(p -> p.getProgramId()).toList());
        }
        kube.resources(BpfApplication.class).inNamespace(NS).withName(APP).delete();
        await("the resource is gone", () -> app() == null);
        for (String n : NODES) {
            assertNull(agentApp(n), n);
            for (int id : programs.get(n)) {
                BpfClient c = clients.get(n);
                assertTrue(Kernel.eventually(() -> !c.programExists(id)), n + ": program " + id + " is gone from the kernel");
            }
            assertEquals(0, clients.get(n).agentInfo().getProgramsHeld(), n);
            try (Stream<Path> pins = Files.walk(agents.get(n).bpffsDir)) {
                assertEquals(List.of(agents.get(n).bpffsDir), pins.toList(), n + ": no pin is left");
            }
        }
        assertTrue(kube.resources(BpfApplicationNode.class).inNamespace(NS).list().getItems().isEmpty());
    }

    @Test
    @Order(7)
    void anObjectFromAnOciImageIsPulledOncePerDigestAndItsDigestRecorded() throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue(Files.isExecutable(OciRegistry.BINARY), "needs Debian's docker-registry");
        registry = OciRegistry.start();
        String repo = "bytecode/firewall";
        String digest = registry.push(repo, "v1", "firewall.o", firewall, Map.of("firewall", "xdp", "udp_verdict", "xdp"),
                Map.of("blocked", "hash"));
        String layer = registry.layerOf(repo, digest);
        String name = "fw-image";
        BpfApplication a = new BpfApplication();
        a.getMetadata().setName(name);
        a.getMetadata().setNamespace(NS);
        a.setSpec(imageSpec(registry.host() + "/" + repo + "@" + digest, "1"));
        kube.resources(BpfApplication.class).inNamespace(NS).resource(a).create();
        await(name, "Ready 3/3 from the image", () -> status(name, 1, 3, 3, "True"));
        String sha = OciRegistry.sha256(firewall);
        for (String n : NODES) {
            BpfApplicationNode st = kube.resources(BpfApplicationNode.class).inNamespace(NS).withName(name + "." + n).get();
            Map<String, Object> image = st.getStatus().getImages().get(0);
            assertEquals(digest, image.get("digest"), n);
            assertEquals(sha, image.get("blobSha256"), n);
            assertEquals(sha, agentApp(n, name).getSpec().getObjects(0).getSource().getBlobSha256(), n);
            assertEquals(2, agentApp(n, name).getStatus().getProgramsCount(), n);
        }
        assertEquals(3, registry.blobGets(repo, layer), "one pull per node");
        // a restarted controller, and a new generation naming the same digest: no node pulls again
        nodeControllers.remove("node-a").close();
        nodeControllers.put("node-a", nodeController("node-a"));
        kube.resources(BpfApplication.class).inNamespace(NS).withName(name).edit(x -> {
            x.setSpec(imageSpec(registry.host() + "/" + repo + "@" + digest, "2"));
            return x;
        });
        await(name, "Ready 3/3 at generation 2", () -> status(name, 2, 3, 3, "True"));
        assertEquals(3, registry.blobGets(repo, layer), "the digest's object is in every agent's blob store already");
        // an image the registry does not have: Stalled, the reason and the node named
        String absent = registry.host() + "/" + repo + "@sha256:" + "1".repeat(64);
        kube.resources(BpfApplication.class).inNamespace(NS).withName(name).edit(x -> {
            x.setSpec(imageSpec(absent, "3"));
            return x;
        });
        await(name, "Stalled with ImageNotFound", () -> status(name, 3, 0, 3, "False")
                && Conditions.isTrue(app(name).getStatus().getConditions(), "Stalled"));
        Condition stalled = Conditions.find(app(name).getStatus().getConditions(), "Stalled");
        assertEquals("ImageNotFound", stalled.getReason());
        assertTrue(stalled.getMessage().contains("node-a: ImageNotFound"), stalled.getMessage());
        assertEquals(2, agentApp("node-a", name).getStatus().getProgramsCount(), "the previous version runs on");
        kube.resources(BpfApplication.class).inNamespace(NS).withName(name).delete();
        await(name, "the resource is gone", () -> app(name) == null);
        for (String n : NODES) {
            assertNull(agentApp(n, name), n);
        }
    }

    static BpfApplicationSpec imageSpec(String reference, String team) {
        BpfApplicationSpec s = new BpfApplicationSpec();
        s.setNodeSelector(new LinkedHashMap<>(Map.of("role", "edge")));
        s.setLabels(new LinkedHashMap<>(Map.of("team", team)));
        Map<String, Object> fw = new LinkedHashMap<>();
        fw.put("name", "fw");
        fw.put("source", Map.of("image", Map.of("reference", reference)));
        fw.put("programs", List.of(Map.of("name", "firewall"), Map.of("name", "udp_verdict")));
        s.setObjects(new ArrayList<>(List.of(fw)));
        return s;
    }

    @Test
    @Order(8)
    void aClusterApplicationRunsWithoutANamespaceAndReportsFromTheControllersNamespace() throws Exception {
        var op = kube.resources(dev.bpfagent.kubernetes.resource.ClusterBpfApplication.class);
        var a = new dev.bpfagent.kubernetes.resource.ClusterBpfApplication();
        a.getMetadata().setName("fw-everywhere");
        BpfApplicationSpec spec = spec(7, false);
        spec.setNodeSelector(new LinkedHashMap<>()); // every node
        a.setSpec(spec);
        op.resource(a).create();
        BooleanSupplier ready = () -> {
            var got = op.withName("fw-everywhere").get();
            return got != null && got.getStatus() != null && Integer.valueOf(3).equals(got.getStatus().getReadyNodes())
                    && Conditions.isTrue(got.getStatus().getConditions(), "Ready");
        };
        assertTrue(Kernel.eventually(ready, 60), "Ready 3/3: " + (op.withName("fw-everywhere").get() == null ? "gone"
                : new KubernetesSerialization().asYaml(op.withName("fw-everywhere").get().getStatus()))
                + "\n" + String.join("\n", LOG));
        for (String n : NODES) {
            Application on = clients.get(n).applications().list().stream()
                    .filter(x -> x.getName().equals("k8s-cluster.fw-everywhere")).findFirst().orElse(null);
            assertNotNull(on, n);
            BpfApplicationNode st = kube.resources(BpfApplicationNode.class).inNamespace("bpf-agent")
                    .withName("cluster.fw-everywhere." + n).get();
            assertNotNull(st, "the node resource of a cluster application is in the controllers' namespace");
            assertEquals("ClusterBpfApplication", st.getSpec().getApplicationKind());
            assertEquals("ClusterBpfApplication", st.getMetadata().getOwnerReferences().get(0).getKind());
        }
        op.withName("fw-everywhere").delete();
        assertTrue(Kernel.eventually(() -> op.withName("fw-everywhere").get() == null, 60), String.join("\n", LOG));
        for (String n : NODES) {
            assertTrue(clients.get(n).applications().list().isEmpty(), n);
        }
        assertTrue(kube.resources(BpfApplicationNode.class).inNamespace("bpf-agent").list().getItems().isEmpty());
    }
}
