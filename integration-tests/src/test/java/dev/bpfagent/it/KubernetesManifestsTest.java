package dev.bpfagent.it;

import static org.junit.jupiter.api.Assertions.*;

import dev.bpfagent.agent.kernel.Capabilities;
import dev.bpfagent.kubernetes.crd.Crds;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.KubernetesList;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeMount;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.api.model.apps.DaemonSet;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.rbac.ClusterRole;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * deploy/kubernetes as a cluster would get it: rendered by `kubectl kustomize` (which needs no API server)
 * and parsed into fabric8's model classes. Kinds, the DaemonSet's capabilities against the agent's own
 * start-up check, the host paths the agent needs with their propagation, the socket the two containers
 * share, probes and resources, RBAC without wildcards, and CRDs equal to the ones built from the proto.
 */
class KubernetesManifestsTest {
    static final Path KUSTOMIZE_DIR = Path.of("..", "deploy", "kubernetes");
    static List<HasMetadata> objects;

    @BeforeAll
    static void render() throws Exception {
        Path kubectl = Path.of("/usr/bin/kubectl");
        Assumptions.assumeTrue(Files.isExecutable(kubectl), "needs kubectl (Debian's kubectl package) to render");
        Process p = new ProcessBuilder(kubectl.toString(), "kustomize", KUSTOMIZE_DIR.toString())
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), out);
        objects = new ArrayList<>();
        KubernetesSerialization yaml = new KubernetesSerialization();
        for (String doc : out.split("(?m)^---\\s*$")) {
            if (!doc.isBlank()) {
                Object o = yaml.unmarshal(doc);
                objects.add((HasMetadata) o);
            }
        }
    }

    static <T extends HasMetadata> T one(Class<T> type, String name) {
        return objects.stream().filter(type::isInstance).map(type::cast)
                .filter(o -> o.getMetadata().getName().equals(name)).findFirst()
                .orElseThrow(() -> new AssertionError("no " + type.getSimpleName() + " " + name));
    }

    @Test
    void theKindsAreThere() {
        Set<String> kinds = objects.stream().map(o -> o.getKind() + "/" + o.getMetadata().getName())
                .collect(Collectors.toCollection(TreeSet::new));
        assertEquals(new TreeSet<>(List.of("Namespace/bpf-agent",
                "CustomResourceDefinition/bpfapplications.bpfagent.dev",
                "CustomResourceDefinition/clusterbpfapplications.bpfagent.dev",
                "CustomResourceDefinition/bpfapplicationnodes.bpfagent.dev",
                "ServiceAccount/bpf-agent-node", "ServiceAccount/bpf-agent-cluster",
                "ClusterRole/bpf-agent-node", "ClusterRole/bpf-agent-cluster",
                "ClusterRoleBinding/bpf-agent-node", "ClusterRoleBinding/bpf-agent-cluster",
                "DaemonSet/bpf-agent", "Deployment/bpf-agent-cluster")), kinds);
        for (HasMetadata o : objects) {
            if (!(o.getKind().startsWith("Cluster") || o.getKind().equals("Namespace")
                    || o.getKind().equals("CustomResourceDefinition"))) {
                assertEquals("bpf-agent", o.getMetadata().getNamespace(), o.getKind() + " " + o.getMetadata().getName());
            }
        }
    }

    @Test
    void theCrdsAreTheOnesBuiltFromTheProto() {
        for (CustomResourceDefinition want : Crds.all()) {
            CustomResourceDefinition got = one(CustomResourceDefinition.class, want.getMetadata().getName());
            var json = new tools.jackson.databind.ObjectMapper();
            KubernetesSerialization ser = new KubernetesSerialization();
            assertTrue(json.readTree(ser.asJson(want.getSpec())).equals(json.readTree(ser.asJson(got.getSpec()))),
                    want.getMetadata().getName() + ": the rendered CRD differs from Crds.all()");
        }
    }

    @Test
    void theDaemonSetGivesTheAgentWhatItChecksAtStartAndNoMore() {
        DaemonSet ds = one(DaemonSet.class, "bpf-agent");
        var pod = ds.getSpec().getTemplate().getSpec();
        assertTrue(pod.getHostNetwork(), "XDP and tc attach to the node's interfaces");
        assertEquals(1, ds.getSpec().getUpdateStrategy().getRollingUpdate().getMaxUnavailable().getIntVal());
        Container agent = container(pod.getContainers(), "agent");
        var sc = agent.getSecurityContext();
        assertNotEquals(Boolean.TRUE, sc.getPrivileged(), "capabilities, not privileged");
        assertEquals(List.of("ALL"), sc.getCapabilities().getDrop());
        long caps = 0;
        for (String c : sc.getCapabilities().getAdd()) {
            caps |= 1L << switch (c) {
                case "BPF" -> Capabilities.CAP_BPF;
                case "PERFMON" -> Capabilities.CAP_PERFMON;
                case "NET_ADMIN" -> Capabilities.CAP_NET_ADMIN;
                case "SYS_ADMIN" -> Capabilities.CAP_SYS_ADMIN;
                case "SYS_RESOURCE" -> 24;
                default -> throw new AssertionError("a capability the agent does not use: " + c);
            };
        }
        assertEquals(List.of(), Capabilities.missingForAgent(caps));
        assertEquals(List.of(), Capabilities.missingForAgent(caps & ~(1L << Capabilities.CAP_SYS_ADMIN)),
                "the agent's own needs are met without CAP_SYS_ADMIN (that one is for netns hooks and mounts)");
        // the host paths, mounted where the agent looks, bpffs with Bidirectional propagation
        Map<String, String> hostPaths = pod.getVolumes().stream().filter(v -> v.getHostPath() != null)
                .collect(Collectors.toMap(Volume::getName, v -> v.getHostPath().getPath()));
        Map<String, VolumeMount> mounts = agent.getVolumeMounts().stream()
                .collect(Collectors.toMap(VolumeMount::getMountPath, m -> m));
        for (String path : List.of("/sys/fs/bpf", "/sys/kernel/tracing", "/run/bpf-agent", "/var/lib/bpf-agent")) {
            VolumeMount m = mounts.get(path);
            assertNotNull(m, "the agent mounts " + path);
            assertEquals(path, hostPaths.get(m.getName()), path + " is the host's");
        }
        assertEquals("Bidirectional", mounts.get("/sys/fs/bpf").getMountPropagation());
        List<String> cmd = agent.getCommand();
        assertEquals("/run/bpf-agent/agent.sock", cmd.get(cmd.indexOf("--socket") + 1));
        assertEquals("/var/lib/bpf-agent", cmd.get(cmd.indexOf("--state-dir") + 1));
        assertTrue(cmd.get(cmd.indexOf("--bpffs-dir") + 1).startsWith("/sys/fs/bpf/"), "its own directory in bpffs");
        assertNotNull(agent.getReadinessProbe().getExec());
        assertNotNull(agent.getLivenessProbe().getExec());
        assertNotNull(agent.getResources().getRequests().get("memory"));
        assertNotNull(agent.getResources().getLimits().get("memory"));
        assertEquals("localhost:5000/bpf-agent:0.1.0", agent.getImage());
        // the node controller: same socket, its node from the downward API, no capabilities
        Container ctl = container(pod.getContainers(), "node-controller");
        List<String> ccmd = ctl.getCommand();
        assertEquals("unix:/run/bpf-agent/agent.sock", ccmd.get(ccmd.indexOf("--agent") + 1));
        assertTrue(ctl.getVolumeMounts().stream().anyMatch(m -> m.getMountPath().equals("/run/bpf-agent")));
        assertEquals("spec.nodeName", ctl.getEnv().stream().filter(e -> e.getName().equals("NODE_NAME")).findFirst()
                .orElseThrow().getValueFrom().getFieldRef().getFieldPath());
        assertEquals(List.of("ALL"), ctl.getSecurityContext().getCapabilities().getDrop());
        assertTrue(ctl.getSecurityContext().getCapabilities().getAdd() == null
                || ctl.getSecurityContext().getCapabilities().getAdd().isEmpty(), "the node controller needs no capability");
        assertEquals("bpf-agent-node", pod.getServiceAccountName());
    }

    @Test
    void rbacNamesEveryResourceAndVerbWithoutWildcards() {
        for (String name : List.of("bpf-agent-node", "bpf-agent-cluster")) {
            for (var rule : one(ClusterRole.class, name).getRules()) {
                assertFalse(rule.getVerbs().contains("*") || rule.getResources().contains("*")
                        || rule.getApiGroups().contains("*"), name + ": " + rule);
            }
        }
        var node = one(ClusterRole.class, "bpf-agent-node").getRules();
        assertTrue(node.stream().anyMatch(r -> r.getResources().contains("bpfapplicationnodes/status")
                && r.getVerbs().contains("update")));
        var cluster = one(ClusterRole.class, "bpf-agent-cluster").getRules();
        assertTrue(cluster.stream().noneMatch(r -> r.getResources().contains("bpfapplications")
                && r.getVerbs().contains("update")), "the cluster part writes status only");
        Deployment d = one(Deployment.class, "bpf-agent-cluster");
        assertEquals(1, d.getSpec().getReplicas());
        assertEquals("bpf-agent-cluster", d.getSpec().getTemplate().getSpec().getServiceAccountName());
    }

    static Container container(List<Container> cs, String name) {
        return cs.stream().filter(c -> c.getName().equals(name)).findFirst()
                .orElseThrow(() -> new AssertionError("no container " + name));
    }
}
