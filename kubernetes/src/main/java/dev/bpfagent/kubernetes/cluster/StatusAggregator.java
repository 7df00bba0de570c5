package dev.bpfagent.kubernetes.cluster;

import dev.bpfagent.kubernetes.control.ApplicationKey;
import dev.bpfagent.kubernetes.control.Handlers;
import dev.bpfagent.kubernetes.control.WorkQueue;
import dev.bpfagent.kubernetes.resource.BpfApplication;
import dev.bpfagent.kubernetes.resource.BpfApplicationNode;
import dev.bpfagent.kubernetes.resource.BpfApplicationSpec;
import dev.bpfagent.kubernetes.resource.BpfApplicationStatus;
import dev.bpfagent.kubernetes.resource.BpfApplicationStatus.NodeProblem;
import dev.bpfagent.kubernetes.resource.ClusterBpfApplication;
import dev.bpfagent.kubernetes.resource.Conditions;
import dev.bpfagent.kubernetes.resource.Resources;
import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.client.CustomResource;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.function.Consumer;

/**
 * The cluster part: one per cluster (a Deployment, or beside any node controller). For each application
 * it counts the nodes its {@code nodeSelector} selects and how many of their {@code BpfApplicationNode}s
 * are Ready for the application's current generation, and writes the application's status: {@code Ready}
 * ("Ready 7/8 nodes"), {@code Reconciling} while nodes catch up, {@code Stalled} when a node failed for
 * good (its reason, e.g. VerifierRejected), {@code Degraded} when a node's agent says so, the failing
 * nodes with their reasons, and {@code observedGeneration}.
 */
public final class StatusAggregator implements AutoCloseable {
    private final KubernetesClient kube;
    private final String statusNamespace;
    private final Consumer<String> log;
    private final WorkQueue<ApplicationKey> queue;
    private final List<SharedIndexInformer<?>> informers = new ArrayList<>();
    private SharedIndexInformer<BpfApplication> apps;
    private SharedIndexInformer<ClusterBpfApplication> clusterApps;
    private SharedIndexInformer<BpfApplicationNode> nodeStatuses;
    private SharedIndexInformer<Node> nodes;
    private volatile boolean started;

    public StatusAggregator(KubernetesClient kube, String statusNamespace, Consumer<String> log) {
        this.kube = kube;
        this.statusNamespace = statusNamespace;
        this.log = log;
        this.queue = new WorkQueue<>("status-aggregator", this::reconcile, log);
    }

    public StatusAggregator start() {
        apps = kube.resources(BpfApplication.class).inAnyNamespace().runnableInformer(60_000);
        clusterApps = kube.resources(ClusterBpfApplication.class).runnableInformer(60_000);
        nodeStatuses = kube.resources(BpfApplicationNode.class).inAnyNamespace().runnableInformer(60_000);
        nodes = kube.nodes().runnableInformer(60_000);
        apps.addEventHandler(Handlers.each(a -> queue.add(ApplicationKey.of(a))));
        clusterApps.addEventHandler(Handlers.each(a -> queue.add(ApplicationKey.of(a))));
        nodeStatuses.addEventHandler(Handlers.each(n -> {
            if (n.getSpec() != null && n.getSpec().getApplicationName() != null) {
                queue.add(new ApplicationKey("ClusterBpfApplication".equals(n.getSpec().getApplicationKind())
                        ? null : n.getSpec().getApplicationNamespace(), n.getSpec().getApplicationName()));
            }
        }));
        nodes.addEventHandler(Handlers.each(n -> enqueueAll()));
        informers.addAll(List.of(apps, clusterApps, nodeStatuses, nodes));
        Handlers.startAll(informers);
        started = true;
        enqueueAll();
        return this;
    }

    private void enqueueAll() {
        if (!started) {
            return;
        }
        apps.getStore().list().forEach(a -> queue.add(ApplicationKey.of(a)));
        clusterApps.getStore().list().forEach(a -> queue.add(ApplicationKey.of(a)));
    }

    @SuppressWarnings("unchecked")
    private void reconcile(ApplicationKey key) {
        if (!started) {
            queue.addAfter(key, 100);
            return;
        }
        var res = (CustomResource<BpfApplicationSpec, BpfApplicationStatus>) (key.cluster()
                ? clusterApps.getStore().getByKey(key.cacheKey()) : apps.getStore().getByKey(key.cacheKey()));
        if (res == null || res.getMetadata().getDeletionTimestamp() != null) {
            return;
        }
        long generation = res.getMetadata().getGeneration() == null ? 0 : res.getMetadata().getGeneration();
        Map<String, String> selector = res.getSpec() == null ? Map.of() : res.getSpec().getNodeSelector();
        List<String> selected = new ArrayList<>();
        for (Node n : nodes.getStore().list()) {
            Map<String, String> labels = n.getMetadata().getLabels() == null ? Map.of() : n.getMetadata().getLabels();
            if (labels.entrySet().containsAll(selector.entrySet())) {
                selected.add(n.getMetadata().getName());
            }
        }
        selected.sort(null);
        Map<String, BpfApplicationNode> byNode = new HashMap<>();
        String ns = key.cluster() ? statusNamespace : key.namespace();
        for (BpfApplicationNode n : nodeStatuses.getStore().list()) {
            var s = n.getSpec();
            if (s != null && key.kind().equals(s.getApplicationKind()) && key.name().equals(s.getApplicationName())
                    && ns.equals(n.getMetadata().getNamespace())) {
                byNode.put(s.getNode(), n);
            }
        }
        BpfApplicationStatus st = summarize(res.getStatus(), selected, byNode, generation);
        BpfApplicationStatus old = res.getStatus();
        if (old != null && Objects.equals(old.getObservedGeneration(), st.getObservedGeneration())
                && Objects.equals(old.getReadyNodes(), st.getReadyNodes())
                && Objects.equals(old.getSelectedNodes(), st.getSelectedNodes())
                && Conditions.sameFacts(old.getConditions(), st.getConditions())
                && sameProblems(old.getFailingNodes(), st.getFailingNodes())) {
            return;
        }
        for (int attempt = 0; ; attempt++) {
            var latest = key.resource(kube).get();
            if (latest == null || latest.getMetadata().getDeletionTimestamp() != null) {
                return;
            }
            latest.setStatus(st);
            try {
                kube.resource(latest).updateStatus();
                return;
            } catch (KubernetesClientException e) {
                if (e.getCode() != 409 || attempt >= 20) {
                    throw e;
                }
            }
        }
    }

    /** The application's status from its selected nodes' node resources. */
    static BpfApplicationStatus summarize(BpfApplicationStatus old, List<String> selected,
                                          Map<String, BpfApplicationNode> byNode, long generation) {
        int ready = 0;
        boolean stalled = false;
        boolean degraded = false;
        List<NodeProblem> failing = new ArrayList<>();
        Map<String, Integer> stalledReasons = new TreeMap<>();
        for (String node : selected) {
            BpfApplicationNode n = byNode.get(node);
            if (n == null || n.getStatus() == null) {
                failing.add(new NodeProblem(node, "Pending", "no status from the node's controller yet"));
                continue;
            }
            var s = n.getStatus();
            List<Condition> c = s.getConditions();
            boolean current = Objects.equals(s.getObservedGeneration(), generation);
            if (current && Conditions.isTrue(c, "Ready")) {
                ready++;
            } else {
                Condition r = Conditions.find(c, "Ready");
                String reason = !current ? "Pending" : r == null ? "Unknown" : r.getReason();
                String message = !current ? "the node is at generation " + s.getObservedGeneration() + ", not " + generation
                        : r == null ? "" : r.getMessage();
                failing.add(new NodeProblem(node, reason, message));
            }
            if (current && Conditions.isTrue(c, "Stalled")) {
                stalled = true;
                Condition r = Conditions.find(c, "Stalled");
                stalledReasons.merge(r.getReason(), 1, Integer::sum);
            }
            if (current && Conditions.isTrue(c, "Degraded")) {
                degraded = true;
            }
        }
        BpfApplicationStatus st = new BpfApplicationStatus();
        st.setObservedGeneration(generation);
        st.setSelectedNodes(selected.size());
        st.setReadyNodes(ready);
        st.setFailingNodes(failing);
        String counts = "Ready " + ready + "/" + selected.size() + " nodes";
        String detail = failing.isEmpty() ? "" : "; " + String.join("; ", failing.stream().limit(5)
                .map(p -> p.getNode() + ": " + p.getReason() + (p.getMessage().isEmpty() ? "" : ": " + p.getMessage()))
                .toList()) + (failing.size() > 5 ? "; and " + (failing.size() - 5) + " more" : "");
        List<Condition> c = old == null ? List.of() : old.getConditions();
        boolean allReady = !selected.isEmpty() && ready == selected.size();
        String readyReason = selected.isEmpty() ? "NoNodesSelected" : allReady ? "AllNodesReady"
                : stalled ? stalledReasons.keySet().iterator().next() : "RollingOut";
        c = Conditions.set(c, "Ready", allReady, readyReason, counts + detail, generation);
        c = Conditions.set(c, "Reconciling", !allReady && !stalled, selected.isEmpty() ? "WaitingForNodes" : allReady
                ? "AllNodesReady" : stalled ? "Stalled" : "RollingOut", !allReady && !stalled ? counts : "", generation);
        c = Conditions.set(c, "Stalled", stalled, stalled ? stalledReasons.keySet().iterator().next() : "NotStalled",
                stalled ? counts + detail : "", generation);
        c = Conditions.set(c, "Degraded", degraded, degraded ? "NodeDegraded" : "NotDegraded",
                degraded ? counts + detail : "", generation);
        st.setConditions(c);
        return st;
    }

    private static boolean sameProblems(List<NodeProblem> a, List<NodeProblem> b) {
        if (a.size() != b.size()) {
            return false;
        }
        for (int i = 0; i < a.size(); i++) {
            NodeProblem x = a.get(i);
            NodeProblem y = b.get(i);
            if (!Objects.equals(x.getNode(), y.getNode()) || !Objects.equals(x.getReason(), y.getReason())
                    || !Objects.equals(x.getMessage(), y.getMessage())) {
                return false;
            }
        }
        return true;
    }

    @Override
    public void close() {
        informers.forEach(SharedIndexInformer::close);
        queue.close();
    }
}
