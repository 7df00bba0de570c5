package dev.bpfagent.kubernetes.node;

import dev.bpfagent.client.BpfAgentException;
import dev.bpfagent.client.BpfClient;
import dev.bpfagent.kubernetes.control.ApplicationKey;
import dev.bpfagent.kubernetes.control.Handlers;
import dev.bpfagent.kubernetes.control.WorkQueue;
import dev.bpfagent.kubernetes.image.ImagePuller;
import dev.bpfagent.kubernetes.resource.BpfApplication;
import dev.bpfagent.kubernetes.resource.BpfApplicationNode;
import dev.bpfagent.kubernetes.resource.BpfApplicationSpec;
import dev.bpfagent.kubernetes.resource.BpfApplicationStatus;
import dev.bpfagent.kubernetes.resource.ClusterBpfApplication;
import dev.bpfagent.kubernetes.resource.Conditions;
import dev.bpfagent.kubernetes.resource.Names;
import dev.bpfagent.kubernetes.resource.Resources;
import dev.bpfagent.proto.v1.Application;
import dev.bpfagent.proto.v1.ApplicationSpec;
import dev.bpfagent.proto.v1.ListApplicationsRequest;
import dev.bpfagent.proto.v1.WatchApplicationsResponse;
import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.OwnerReferenceBuilder;
import io.fabric8.kubernetes.client.CustomResource;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import io.grpc.Status;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.Flow;
import java.util.function.Consumer;
import java.util.function.UnaryOperator;

/**
 * The node controller: runs beside one node's agent, watches the BpfApplications and
 * ClusterBpfApplications whose {@code nodeSelector} the node's labels satisfy, applies each through the
 * agent (ApplyApplication), and writes the node's {@code BpfApplicationNode} with the agent's status.
 * While it runs an application it holds a finalizer on it ({@code bpfagent.dev/node.NODE}): deleting the
 * application first deletes the agent's application on this node (every program, link and pin of it),
 * then this node's status resource, then the finalizer, so the resource goes only when no node runs it.
 *
 * <p>Changes the agent makes by itself (drift repaired, interfaces found, a restart rebuilt) reach the
 * status through WatchApplications. Agent applications labelled {@code bpfagent.dev/managed-by:
 * kubernetes} whose resource is gone or no longer selects the node are deleted at start and at each
 * resync. Failures to reach the agent or the API server are retried with backoff.
 */
public final class NodeController implements AutoCloseable {
    private final KubernetesClient kube;
    private final BpfClient agent;
    private final String node;
    private final String statusNamespace;
    private final Consumer<String> log;
    private final WorkQueue<ApplicationKey> queue;
    private final List<SharedIndexInformer<?>> informers = new ArrayList<>();
    /** Agent application name -> the generation and spec applied there (skip no-op applies). */
    private final Map<String, String> applied = new HashMap<>();
    private final Map<String, Failed> failed = new HashMap<>();
    /** A refused spec is applied again after this long (another application may have freed a hook). */
    static final long RETRY_FAILED_MS = 30_000;
    private final Bytecode bytecode;
    private SharedIndexInformer<BpfApplication> apps;
    private SharedIndexInformer<ClusterBpfApplication> clusterApps;
    private SharedIndexInformer<Node> nodes;
    private volatile Flow.Subscription agentWatch;
    private volatile boolean closed;
    private volatile boolean started;

    /**
     * @param statusNamespace where ClusterBpfApplications' node resources go (the controllers' namespace)
     */
    public NodeController(KubernetesClient kube, BpfClient agent, String node, String statusNamespace,
                          Consumer<String> log) {
        this.kube = Objects.requireNonNull(kube);
        this.agent = Objects.requireNonNull(agent);
        this.node = Objects.requireNonNull(node);
        this.statusNamespace = Objects.requireNonNull(statusNamespace);
        this.log = log;
        this.bytecode = new Bytecode(new ImagePuller(), agent);
        this.queue = new WorkQueue<>("node-controller-" + node, this::reconcile, m -> log.accept(node + ": " + m));
    }

    /** Starts the informers and the agent watch; returns when the caches are synced. */
    public NodeController start() {
        nodes = kube.nodes().withName(node).runnableInformer(0);
        apps = kube.resources(BpfApplication.class).inAnyNamespace().runnableInformer(60_000);
        clusterApps = kube.resources(ClusterBpfApplication.class).runnableInformer(60_000);
        nodes.addEventHandler(Handlers.each(n -> enqueueAll()));
        apps.addEventHandler(Handlers.each(a -> queue.add(ApplicationKey.of(a))));
        clusterApps.addEventHandler(Handlers.each(a -> queue.add(ApplicationKey.of(a))));
        informers.addAll(List.of(nodes, apps, clusterApps));
        Handlers.startAll(informers);
        started = true;
        watchAgent(0);
        enqueueAll();
        queue.add(SWEEP);
        queue.every(30_000, () -> queue.add(SWEEP));
        return this;
    }

    /** Not a resource: the queue's key for "delete agent applications no resource wants here". */
    private static final ApplicationKey SWEEP = new ApplicationKey("\0", "\0sweep");

    private void reconcile(ApplicationKey key) {
        if (closed) {
            return;
        }
        if (!started) {
            queue.addAfter(key, 100);
            return;
        }
        if (key == SWEEP) {
            sweep();
            return;
        }
        CustomResource<BpfApplicationSpec, BpfApplicationStatus> res = cached(key);
        String agentName = key.agentApplication();
        String finalizer = Resources.finalizer(node);
        if (res == null || res.getMetadata().getDeletionTimestamp() != null || !selected(res)) {
            if (deleteAgentApplication(agentName)) {
                failed.clear();
                enqueueAll(); // what it held (an XDP hook, a shared map) may be what another one waits for
            }
            deleteNodeResource(key);
            if (res != null && res.getMetadata().getFinalizers().contains(finalizer)) {
                editResource(key, r -> {
                    r.getMetadata().getFinalizers().remove(finalizer);
                    return r;
                });
            }
            return;
        }
        if (!res.getMetadata().getFinalizers().contains(finalizer)) {
            res = editResource(key, r -> {
                if (!r.getMetadata().getFinalizers().contains(finalizer)) {
                    r.getMetadata().getFinalizers().add(finalizer);
                }
                return r;
            });
            if (res == null || res.getMetadata().getDeletionTimestamp() != null) {
                queue.add(key);
                return;
            }
        }
        long generation = res.getMetadata().getGeneration() == null ? 0 : res.getMetadata().getGeneration();
        ApplicationSpec spec;
        Bytecode.Resolved resolved;
        try {
            BpfApplicationNode before = nodeResource(key).get();
            if (before != null && before.getStatus() != null) {
                bytecode.remember(before.getStatus().getImages());
            }
            resolved = bytecode.resolve(res.getSpec().getObjects());
            spec = Specs.toAgent(res.getSpec(), resolved.objects(), key.kind(), key.namespace(), key.name());
        } catch (IllegalArgumentException e) {
            writeNodeStatus(res, key, null, new Failure(true, "InvalidSpec", e.getMessage()), generation, List.of());
            return;
        } catch (ImagePuller.PullException e) {
            boolean registryDown = e.reason().equals("RegistryUnavailable");
            writeNodeStatus(res, key, existing(agentName), new Failure(!registryDown, e.reason(), e.getMessage()),
                    generation, List.of());
            if (registryDown) {
                throw new IllegalStateException(e.getMessage(), e);
            }
            queue.addAfter(key, 30_000); // an image may be pushed later: look again
            return;
        }
        Application app;
        Failure failure = null;
        try {
            String version = generation + ":" + spec.hashCode();
            Failed f = failed.get(agentName);
            if (version.equals(applied.get(agentName))) {
                app = agent.applications().get(agentName);
            } else if (f != null && f.version.equals(version) && System.currentTimeMillis() - f.atMs < RETRY_FAILED_MS) {
                // this spec failed a moment ago: its status stands; it is tried again after RETRY_FAILED_MS
                writeNodeStatus(res, key, existing(agentName), f.failure, generation, resolved.images());
                return;
            } else {
                app = agent.applications().apply(agentName, spec).getApplication();
                applied.put(agentName, version);
                failed.remove(agentName);
            }
        } catch (BpfAgentException e) {
            if (transientCode(e.code())) {
                writeNodeStatus(res, key, null, new Failure(false, "AgentUnavailable", e.getMessage()), generation,
                        resolved.images());
                throw e;
            }
            applied.remove(agentName);
            if ("BLOB_NOT_FOUND".equals(e.reason())) {
                bytecode.forget(); // the agent dropped the blob: pull the image again
                throw e;
            }
            failure = new Failure(true, reason(e), e.getMessage());
            failed.put(agentName, new Failed(generation + ":" + spec.hashCode(), System.currentTimeMillis(), failure));
            app = existing(agentName);
            // the same spec may succeed once another application frees what this one needs (a hook)
            queue.addAfter(key, RETRY_FAILED_MS + 100);
        }
        writeNodeStatus(res, key, app, failure, generation, resolved.images());
    }

    /** A spec the agent refused, when, and why: not applied again within RETRY_FAILED_MS. */
    private record Failed(String version, long atMs, Failure failure) {
    }

    /** Why an apply failed, for machines. */
    record Failure(boolean permanent, String reason, String message) {
    }

    private static boolean transientCode(Status.Code c) {
        return c == Status.Code.UNAVAILABLE || c == Status.Code.DEADLINE_EXCEEDED || c == Status.Code.ABORTED
                || c == Status.Code.RESOURCE_EXHAUSTED || c == Status.Code.INTERNAL || c == Status.Code.UNKNOWN;
    }

    private static String reason(BpfAgentException e) {
        if (e instanceof BpfAgentException.VerifierRejected) {
            return "VerifierRejected";
        }
        String r = e.reason();
        if (r != null && !r.isEmpty()) {
            return camel(r);
        }
        return camel(e.code().name());
    }

    /** "HOOK_TAKEN" -> "HookTaken". */
    static String camel(String upper) {
        StringBuilder b = new StringBuilder();
        for (String part : upper.toLowerCase(Locale.ROOT).split("_")) {
            if (!part.isEmpty()) {
                b.append(Character.toUpperCase(part.charAt(0))).append(part.substring(1));
            }
        }
        return b.toString();
    }

    private Application existing(String agentName) {
        try {
            return agent.applications().get(agentName);
        } catch (BpfAgentException e) {
            return null;
        }
    }

    private void writeNodeStatus(CustomResource<BpfApplicationSpec, BpfApplicationStatus> res, ApplicationKey key,
                                 Application app, Failure failure, long generation, List<Map<String, Object>> images) {
        String ns = key.cluster() ? statusNamespace : key.namespace();
        String name = Names.nodeResource(key.namespace(), key.name(), node);
        var op = kube.resources(BpfApplicationNode.class).inNamespace(ns);
        BpfApplicationNode current = op.withName(name).get();
        if (current == null) {
            BpfApplicationNode fresh = new BpfApplicationNode();
            fresh.getMetadata().setName(name);
            fresh.getMetadata().setNamespace(ns);
            fresh.getMetadata().setLabels(Map.of(Resources.LABEL_APPLICATION, key.name(),
                    Resources.LABEL_KIND, key.kind(), Resources.LABEL_NODE, node));
            fresh.getMetadata().setOwnerReferences(List.of(new OwnerReferenceBuilder()
                    .withApiVersion(res.getApiVersion()).withKind(key.kind()).withName(key.name())
                    .withUid(res.getMetadata().getUid()).withBlockOwnerDeletion(false).withController(false).build()));
            BpfApplicationNode.Spec spec = new BpfApplicationNode.Spec();
            spec.setApplicationKind(key.kind());
            spec.setApplicationNamespace(key.namespace());
            spec.setApplicationName(key.name());
            spec.setNode(node);
            spec.setAgentApplication(key.agentApplication());
            fresh.setSpec(spec);
            current = op.resource(fresh).create();
        }
        BpfApplicationNode.Status old = current.getStatus() == null ? new BpfApplicationNode.Status() : current.getStatus();
        BpfApplicationNode.Status s = status(old, app, failure, generation);
        s.setImages(images.isEmpty() ? old.getImages() : images);
        if (Objects.equals(old.getObservedGeneration(), s.getObservedGeneration())
                && Objects.equals(old.getAgentGeneration(), s.getAgentGeneration())
                && Conditions.sameFacts(old.getConditions(), s.getConditions())
                && Objects.equals(old.getPrograms(), s.getPrograms()) && Objects.equals(old.getMaps(), s.getMaps())
                && Objects.equals(old.getAttachments(), s.getAttachments())
                && Objects.equals(old.getImages(), s.getImages())) {
            return;
        }
        current.setStatus(s);
        op.resource(current).updateStatus();
    }

    /** The node's conditions: the agent's Ready/Progressing/Degraded, or the apply's failure. */
    static BpfApplicationNode.Status status(BpfApplicationNode.Status old, Application app, Failure failure,
                                            long generation) {
        BpfApplicationNode.Status s = new BpfApplicationNode.Status();
        s.setObservedGeneration(generation);
        List<Condition> c = old.getConditions();
        Map<String, dev.bpfagent.proto.v1.Condition> agentConds = new HashMap<>();
        if (app != null) {
            s.setAgentGeneration(app.getStatus().getObservedGeneration());
            s.setPrograms(Specs.trees(app.getStatus().getProgramsList()));
            s.setMaps(Specs.trees(app.getStatus().getMapsList()));
            s.setAttachments(Specs.trees(app.getStatus().getAttachmentsList()));
            for (dev.bpfagent.proto.v1.Condition ac : app.getStatus().getConditionsList()) {
                agentConds.put(ac.getType(), ac);
            }
        }
        var ready = agentConds.get("Ready");
        var progressing = agentConds.get("Progressing");
        var degraded = agentConds.get("Degraded");
        if (failure != null) {
            c = Conditions.set(c, "Ready", false, failure.reason(), failure.message(), generation);
            c = Conditions.set(c, "Reconciling", !failure.permanent(), failure.permanent() ? "Failed" : failure.reason(),
                    failure.permanent() ? "" : failure.message(), generation);
            c = Conditions.set(c, "Stalled", failure.permanent(), failure.permanent() ? failure.reason() : "Retrying",
                    failure.permanent() ? failure.message() : "", generation);
        } else {
            boolean isReady = ready != null && ready.getStatus();
            c = Conditions.set(c, "Ready", isReady, ready == null ? "Unknown" : ready.getReason(),
                    ready == null ? "" : ready.getMessage(), generation);
            boolean prog = progressing != null && progressing.getStatus();
            c = Conditions.set(c, "Reconciling", prog, progressing == null ? "Applied" : progressing.getReason(),
                    progressing == null ? "" : progressing.getMessage(), generation);
            c = Conditions.set(c, "Stalled", false, "Applied", "", generation);
        }
        boolean deg = degraded != null && degraded.getStatus();
        c = Conditions.set(c, "Degraded", deg, degraded == null ? "Applied" : degraded.getReason(),
                degraded == null ? "" : degraded.getMessage(), generation);
        s.setConditions(c);
        return s;
    }

    private boolean selected(CustomResource<BpfApplicationSpec, BpfApplicationStatus> res) {
        Node n = nodes.getStore().getByKey(node);
        if (n == null) {
            return false;
        }
        Map<String, String> labels = n.getMetadata().getLabels() == null ? Map.of() : n.getMetadata().getLabels();
        Map<String, String> want = res.getSpec() == null ? Map.of() : res.getSpec().getNodeSelector();
        return labels.entrySet().containsAll(want.entrySet());
    }

    @SuppressWarnings("unchecked")
    private CustomResource<BpfApplicationSpec, BpfApplicationStatus> cached(ApplicationKey key) {
        Object r = key.cluster() ? clusterApps.getStore().getByKey(key.cacheKey()) : apps.getStore().getByKey(key.cacheKey());
        return (CustomResource<BpfApplicationSpec, BpfApplicationStatus>) r;
    }

    /** Reads, changes and updates the resource under its resourceVersion, again on a conflict. */
    private CustomResource<BpfApplicationSpec, BpfApplicationStatus> editResource(
            ApplicationKey key, UnaryOperator<CustomResource<BpfApplicationSpec, BpfApplicationStatus>> change) {
        for (int attempt = 0; ; attempt++) {
            var latest = key.resource(kube).get();
            if (latest == null) {
                return null;
            }
            try {
                return kube.resource(change.apply(latest)).update();
            } catch (KubernetesClientException e) {
                if (e.getCode() != 409 || attempt >= 20) {
                    throw e;
                }
            }
        }
    }

    /** True when the agent had it. */
    private boolean deleteAgentApplication(String agentName) {
        applied.remove(agentName);
        failed.remove(agentName);
        try {
            agent.applications().delete(agentName);
            return true;
        } catch (BpfAgentException e) {
            if (e.code() != Status.Code.NOT_FOUND) {
                throw e;
            }
            return false; // not here: nothing to remove
        }
    }

    private void deleteNodeResource(ApplicationKey key) {
        nodeResource(key).delete();
    }

    private io.fabric8.kubernetes.client.dsl.Resource<BpfApplicationNode> nodeResource(ApplicationKey key) {
        String ns = key.cluster() ? statusNamespace : key.namespace();
        return kube.resources(BpfApplicationNode.class).inNamespace(ns)
                .withName(Names.nodeResource(key.namespace(), key.name(), node));
    }

    /** Deletes the agent applications this layer made whose resource is gone or selects other nodes. */
    private void sweep() {
        Set<String> wanted = new HashSet<>();
        for (var a : apps.getStore().list()) {
            if (a.getMetadata().getDeletionTimestamp() == null && selected(a)) {
                wanted.add(ApplicationKey.of(a).agentApplication());
            }
        }
        for (var a : clusterApps.getStore().list()) {
            if (a.getMetadata().getDeletionTimestamp() == null && selected(a)) {
                wanted.add(ApplicationKey.of(a).agentApplication());
            }
        }
        List<Application> held = new ArrayList<>();
        String token = "";
        do {
            var r = agent.applications().list(ListApplicationsRequest.newBuilder()
                    .putLabels(Resources.LABEL_MANAGED_BY, Resources.MANAGED_BY).setPageToken(token).build());
            held.addAll(r.getApplicationsList());
            token = r.getNextPageToken();
        } while (!token.isEmpty());
        for (Application a : held) {
            if (!wanted.contains(a.getName())) {
                log.accept(node + ": deleting " + a.getName() + ": no resource selects this node for it");
                Map<String, String> l = a.getSpec().getLabelsMap();
                String ns = l.get(Resources.GROUP + "/namespace");
                String name = l.get(Resources.GROUP + "/name");
                deleteAgentApplication(a.getName());
                if (name != null) {
                    deleteNodeResource(new ApplicationKey(ns, name));
                }
            }
        }
    }

    private void enqueueAll() {
        if (apps == null || clusterApps == null) {
            return;
        }
        apps.getStore().list().forEach(a -> queue.add(ApplicationKey.of(a)));
        clusterApps.getStore().list().forEach(a -> queue.add(ApplicationKey.of(a)));
    }

    /** Agent changes (drift repaired, interfaces, restarts) refresh the node's status. */
    private void watchAgent(long from) {
        if (closed) {
            return;
        }
        agent.applications().changes(from).subscribe(new Flow.Subscriber<>() {
            long seen = from;

            @Override
            public void onSubscribe(Flow.Subscription s) {
                agentWatch = s;
                s.request(Long.MAX_VALUE);
            }

            @Override
            public void onNext(WatchApplicationsResponse r) {
                seen = Math.max(seen, r.getResourceVersion());
                if (!r.hasApplication()) {
                    return;
                }
                Map<String, String> l = r.getApplication().getSpec().getLabelsMap();
                if (!Resources.MANAGED_BY.equals(l.get(Resources.LABEL_MANAGED_BY))) {
                    return;
                }
                String name = l.get(Resources.GROUP + "/name");
                if (name != null) {
                    queue.add(new ApplicationKey(l.get(Resources.GROUP + "/namespace"), name));
                }
            }

            @Override
            public void onError(Throwable t) {
                if (!closed) {
                    log.accept(node + ": agent watch ended (" + t.getMessage() + "); again in 1 s");
                    new Thread(() -> {
                        try {
                            Thread.sleep(1000);
                        } catch (InterruptedException e) {
                            return;
                        }
                        watchAgent(0);
                        enqueueAll();
                    }, "agent-watch-retry").start();
                }
            }

            @Override
            public void onComplete() {
                onError(new IllegalStateException("the agent closed the stream"));
            }
        });
    }

    @Override
    public void close() {
        closed = true;
        Flow.Subscription s = agentWatch;
        if (s != null) {
            s.cancel();
        }
        informers.forEach(SharedIndexInformer::close);
        queue.close();
    }
}
