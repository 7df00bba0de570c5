package dev.bpfagent.agent.service;

import dev.bpfagent.agent.bpf.BpfMap;
import dev.bpfagent.agent.bpf.Link;
import dev.bpfagent.agent.bpf.MapType;
import dev.bpfagent.agent.bpf.Program;
import dev.bpfagent.agent.bpf.VerifierException;
import dev.bpfagent.agent.bpf.object.ObjectLoader;
import dev.bpfagent.agent.bpf.object.ObjectSpec;
import dev.bpfagent.agent.service.AppState.App;
import dev.bpfagent.agent.service.AppState.Att;
import dev.bpfagent.agent.service.AppState.MapMember;
import dev.bpfagent.agent.service.AppState.Obj;
import dev.bpfagent.agent.service.AppState.ProgMember;
import dev.bpfagent.agent.service.auth.Authorizer;
import dev.bpfagent.agent.service.auth.Caller;
import dev.bpfagent.agent.service.errors.ErrorMapper;
import dev.bpfagent.agent.service.errors.RequestException;
import dev.bpfagent.agent.service.errors.VerifierRejection;
import dev.bpfagent.agent.service.state.ApplicationRecords;
import dev.bpfagent.agent.service.state.Blobs;
import dev.bpfagent.agent.service.state.PinRecords;
import dev.bpfagent.agent.service.state.Registry;
import dev.bpfagent.agent.service.state.VerifierLogs;
import dev.bpfagent.proto.v1.*;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.logging.Logger;

/**
 * Applications: desired state the agent makes true and keeps true. An apply validates the spec, works
 * out a plan against what runs now, and converges in one transaction: objects whose bytes and settings
 * did not change stay as they are; a changed object is loaded anew (its defined maps of unchanged shape
 * taken over, unchanged programs kept), its programs put on the existing links by BPF_LINK_UPDATE, and
 * only then is the previous generation's rest closed. Any failure undoes what the apply did: the
 * previous generation runs on untouched and its status says why the new one was refused.
 *
 * <p>A reconcile pass (every {@link #RESYNC_MILLIS}) keeps it true: interfaces that appear matching a
 * rule are attached, those gone forgotten, attachments another tool removed re-made, objects someone
 * closed reloaded; each such change is an event in the status. Records (spec, generation, owner, what
 * is held) live under the state directory, and what an application holds is pinned under the agent's
 * bpffs directory ({@link ApplicationPins}): an agent that starts holds it again as it was, and loads
 * anew only what lost its pins (after a reboot: everything).
 */
final class ApplicationHandler implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(ApplicationHandler.class.getName());
    /** The label every object an application makes carries, with the application's name. */
    static final String APP_LABEL = "bpf-agent.dev/application";
    static final long RESYNC_MILLIS = 500;
    static final int MAX_EVENTS = 32;
    static final int MAX_APPLICATIONS = 10_000;
    static final long MAX_BACKOFF_MILLIS = 30_000;

    private final Registry registry;
    private final Refs refs;
    private final LinkHandler links;
    private final Authorizer authorizer;
    private final VerifierLogs logs;
    private final ApplicationPins appPins;
    private ApplicationRecords records;
    private Blobs blobs;

    /** Guarded by this. */
    private final TreeMap<String, App> apps = new TreeMap<>();
    private long resourceVersion;
    /** Applies and deletes so far: a reconcile pass reads the host again after one. */
    private long changes;
    private final ApplicationWatch watch = new ApplicationWatch();
    /** Reconcile passes over every application, and the repairs they made (drift repaired, objects rebuilt). */
    private final java.util.concurrent.atomic.LongAdder passes = new java.util.concurrent.atomic.LongAdder();
    private final java.util.concurrent.atomic.LongAdder repairs = new java.util.concurrent.atomic.LongAdder();
    /**
     * The specs the programs the applications loaded were loaded from (not after a restart): what a rule
     * with mechanism XDP_DISPATCHER loads again as an extension of a dispatcher slot.
     */
    private final Map<Registry.Key, dev.bpfagent.agent.bpf.ProgramSpec> programSpecs =
            new java.util.concurrent.ConcurrentHashMap<>();
    /** The XDP_RUN_CONFIG (libxdp's priority and chain call actions) of those programs that carry one. */
    private final Map<Registry.Key, dev.bpfagent.agent.bpf.object.XdpRunConfig> runConfigs =
            new java.util.concurrent.ConcurrentHashMap<>();
    private Thread loop;
    private dev.bpfagent.agent.bpf.Host.LinkChanges linkChanges;
    private volatile boolean stopping;

    ApplicationHandler(Registry registry, Refs refs, LinkHandler links, Authorizer authorizer, VerifierLogs logs) {
        this.registry = registry;
        this.refs = refs;
        this.links = links;
        this.authorizer = authorizer;
        this.logs = logs;
        this.appPins = new ApplicationPins(registry, refs.pins());
    }

    // ---- state ----

    /** An object as the spec wants it: its bytes, parsed, with its plan. */
    /**
     * What one apply or reconcile pass reads of the host, once: the interfaces by name, and (when first
     * asked) every interface's XDP program. Forget the XDP programs after changing them.
     */
    private static final class HostView {
        private final Map<String, Map<String, Integer>> ifaces = new HashMap<>();
        private final Map<String, Map<Integer, Integer>> xdp = new HashMap<>();

        /** The interfaces of a network namespace by name ("": the agent's), read once per view. */
        Map<String, Integer> ifaces(String netns) {
            return ifaces.computeIfAbsent(netns, n -> n.isEmpty() ? ApplicationSpecs.interfaces()
                    : dev.bpfagent.agent.bpf.Host.interfaces(n));
        }

        int xdpProgramId(String netns, int ifindex) {
            return xdp.computeIfAbsent(netns, dev.bpfagent.agent.bpf.Host::xdpProgramIds).getOrDefault(ifindex, 0);
        }

        void changed() {
            xdp.clear();
        }
    }

    /** spec and plan are null when the object is held already with this load key (nothing to load). */
    private record Desired(String name, byte[] elf, ObjectSpec spec, ObjectLoader.Plan plan, String loadKey,
                           ApplicationObject source, List<AppState.Authorized> authorized) {
    }

    /**
     * Sets where records and blobs live; holds again what each recorded application pinned, removes
     * pins nobody holds, and reconciles each application (what was not held again is made anew); starts
     * the loop.
     */
    synchronized int start(java.nio.file.Path stateDir) throws IOException {
        records = new ApplicationRecords(stateDir);
        blobs = new Blobs(stateDir);
        int n = 0;
        HostView host = new HostView();
        for (ApplicationRecord r : records.readAll()) {
            Application a = r.getApplication();
            App app = new App(a.getName(), PinRecords.fromProto(a.getOwner()));
            app.generation = a.getGeneration();
            app.spec = a.getSpec();
            app.resourceVersion = a.getResourceVersion();
            resourceVersion = Math.max(resourceVersion, a.getResourceVersion());
            for (Condition c : a.getStatus().getConditionsList()) {
                app.conditions.put(c.getType(), c);
            }
            a.getStatus().getEventsList().forEach(app.events::add);
            apps.put(app.name, app);
            n++;
            Map<String, ApplicationSpecs.Target> targets = new HashMap<>();
            ApplicationSpecs.targets(app.spec, host::ifaces, false).forEach(t -> targets.put(t.key(), t));
            int held = appPins.adopt(app, r, targets, objectLabels(app, app.spec));
            if (held > 0) {
                event(app, "Held", "the agent started: holding " + held + " object(s) and link(s) of generation "
                        + app.generation + " again from their pins");
            }
        }
        appPins.sweep(apps.values());
        for (App app : apps.values()) {
            reconcile(app, host);
        }
        try {
            linkChanges = dev.bpfagent.agent.bpf.Host.linkChanges();
        } catch (RuntimeException e) {
            LOG.warning("no rtnetlink link announcements (" + e.getMessage() + "): new interfaces are found by the"
                    + " resync every " + RESYNC_MILLIS + " ms");
        }
        loop = new Thread(this::loop, "applications");
        loop.setDaemon(true);
        loop.start();
        return n;
    }

    /**
     * The reconcile loop: a pass at once when rtnetlink announces an interface change in the agent's
     * namespace, else a full resync every RESYNC_MILLIS (interfaces in other namespaces, drift).
     */
    private void loop() {
        while (!stopping) {
            try {
                if (linkChanges != null) {
                    if (linkChanges.await((int) RESYNC_MILLIS)) {
                        Thread.sleep(20); // a burst (a veth pair is two interfaces and their peers' changes): one pass
                        linkChanges.await(0);
                    }
                } else {
                    Thread.sleep(RESYNC_MILLIS);
                }
            } catch (InterruptedException e) {
                return;
            } catch (RuntimeException e) {
                LOG.warning("link announcements: " + e);
            }
            if (!stopping) {
                reconcileAll();
            }
        }
    }

    @Override
    public void close() {
        stopping = true;
        if (loop != null) {
            if (linkChanges != null) {
                linkChanges.wakeup();
            }
            loop.interrupt();
            try {
                loop.join(10_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            if (linkChanges != null && !loop.isAlive()) {
                linkChanges.close();
            }
        }
        watch.endAll();
    }

    private void requireStarted() {
        if (records == null) {
            throw RequestException.failedPrecondition("APPLICATIONS_UNAVAILABLE", "this agent keeps no state"
                    + " directory, so it cannot hold applications");
        }
    }

    // ---- apply ----

    synchronized ApplyApplicationResponse apply(ApplyApplicationRequest req) {
        requireStarted();
        String name = ApplicationSpecs.name(req.getName(), "name");
        if (!req.hasSpec()) {
            throw RequestException.invalid("spec", "is required");
        }
        ApplicationSpecs.check(req.getSpec(), "spec");
        Caller caller = Caller.current();
        App cur = apps.get(name);
        if (cur != null) {
            mayChange(cur, caller);
        } else if (apps.size() >= MAX_APPLICATIONS) {
            throw RequestException.of(Status.Code.RESOURCE_EXHAUSTED, "TOO_MANY_APPLICATIONS", "name",
                    "the agent holds " + MAX_APPLICATIONS + " applications: delete some first");
        }
        if (req.hasExpectedGeneration()) {
            long have = cur == null ? 0 : cur.generation;
            if (have != req.getExpectedGeneration()) {
                throw RequestException.of(Status.Code.ABORTED, "GENERATION_MISMATCH", "expected_generation",
                        "expected_generation " + req.getExpectedGeneration() + ", but application '" + name + "' is "
                                + (cur == null ? "not there" : "at generation " + have) + ": read it again and"
                                + " re-apply");
            }
        }
        App app = cur != null ? cur : new App(name, caller);
        Map<String, byte[]> bytes = new LinkedHashMap<>();
        ApplicationSpec recorded = recordable(req.getSpec(), bytes);
        List<Desired> desired = new ArrayList<>();
        for (int i = 0; i < recorded.getObjectsCount(); i++) {
            desired.add(desired(app, recorded.getObjects(i), bytes.get(recorded.getObjects(i).getName()),
                    "spec.objects[" + i + "]"));
        }
        authorize(caller, desired, recorded);
        HostView host = new HostView();
        List<ApplicationSpecs.Target> targets = ApplicationSpecs.targets(recorded, host::ifaces, true);
        conflicts(name, targets);
        List<PlanStep> plan = new ArrayList<>();
        boolean changed = cur == null || !cur.spec.equals(recorded);
        if (req.getDryRun()) {
            planOnly(app, desired, targets, plan);
            return ApplyApplicationResponse.newBuilder().setApplication(view(app, cur == null ? recorded : cur.spec))
                    .addAllPlan(plan).build();
        }
        Set<String> fresh = new HashSet<>(); // stored by this apply: dropped again if it is refused
        for (ApplicationObject o : req.getSpec().getObjectsList()) {
            if (o.getSource().getSourceCase() != ObjectSource.SourceCase.ELF) {
                continue; // a blob is stored already; a host path is read again when needed
            }
            byte[] elf = bytes.get(o.getName());
            try {
                String sha = Blobs.sha256(elf);
                if (cur != null && blobsOf(cur.spec).contains(sha) && blobs.has(sha)) {
                    continue; // stored, and named by this application: nothing to write
                }
                if (!blobs.has(sha)) {
                    fresh.add(sha);
                }
                blobs.put(elf);
            } catch (IOException ex) {
                throw RequestException.of(Status.Code.RESOURCE_EXHAUSTED, "BLOB_STORE_FULL", "spec.objects",
                        "cannot store object '" + o.getName() + "': " + ex.getMessage());
            }
        }
        Set<String> blobsBefore = cur == null ? Set.of() : blobsOf(cur.spec);
        Runnable retire;
        changes++;
        try {
            retire = converge(app, recorded, desired, targets, plan, true, host);
        } catch (RuntimeException e) {
            if (cur != null) {
                com.google.rpc.Status s = ErrorMapper.toStatus(e);
                condition(app, "Degraded", true, reasonOf(e), "generation " + (app.generation + 1) + " was refused,"
                        + " generation " + app.generation + " runs on: " + s.getMessage(), logIdOf(e));
                event(app, "ApplyFailed", s.getMessage());
                changedStatus(app);
            }
            blobs.collect(allBlobs(), fresh);
            throw e;
        }
        if (changed) {
            app.generation++;
            app.spec = recorded;
        }
        condition(app, "Degraded", false, "Applied", "", "");
        readiness(app);
        if (cur == null) {
            apps.put(name, app);
        }
        if (changed || cur == null) {
            event(app, "Applied", "generation " + app.generation + " applied");
        }
        persist(app, cur == null ? WatchApplicationsResponse.Type.TYPE_ADDED
                : WatchApplicationsResponse.Type.TYPE_MODIFIED, changed || plan.stream().anyMatch(
                s -> s.getAction() != PlanStep.Action.ACTION_KEEP && s.getAction() != PlanStep.Action.ACTION_KEEP_MAP));
        retire.run();
        Set<String> dropped = new HashSet<>(blobsBefore);
        dropped.removeAll(blobsOf(app.spec));
        blobs.collect(allBlobs(), dropped);
        return ApplyApplicationResponse.newBuilder().setApplication(view(app, app.spec)).addAllPlan(plan).build();
    }

    private static void mayChange(App app, Caller caller) {
        if (caller.transport() == Caller.Transport.IN_PROCESS || caller.sameIdentity(app.owner)
                || caller.transport() == Caller.Transport.UNIX && caller.uid() == 0) {
            return;
        }
        throw RequestException.permissionDenied("NOT_OWNER", "application '" + app.name + "' belongs to "
                + app.owner + "; only its owner or root may change or delete it");
    }

    /** The spec as recorded: ELF bytes replaced by their blob digest (bytes collects them by object name). */
    private ApplicationSpec recordable(ApplicationSpec spec, Map<String, byte[]> bytes) {
        ApplicationSpec.Builder b = spec.toBuilder();
        for (int i = 0; i < b.getObjectsCount(); i++) {
            ApplicationObject o = b.getObjects(i);
            byte[] elf = resolve(o, "spec.objects[" + i + "]");
            if (o.getSource().getSourceCase() == ObjectSource.SourceCase.ELF) {
                b.setObjects(i, o.toBuilder().setSource(o.getSource().toBuilder().setBlobSha256(Blobs.sha256(elf))));
                bytes.put(o.getName(), elf);
            } else {
                bytes.put(o.getName(), elf);
            }
        }
        return b.build();
    }

    /** The object's bytes from its source, errors naming field.source. */
    private byte[] resolve(ApplicationObject o, String field) {
        ObjectSource src = o.getSource();
        if (src.getSourceCase() == ObjectSource.SourceCase.BLOB_SHA256) {
            String sha = src.getBlobSha256();
            if (!Blobs.wellFormed(sha)) {
                throw RequestException.invalid(field + ".source.blob_sha256", "'" + sha + "' is not a sha256: 64"
                        + " lowercase hex digits");
            }
            return blobs.get(sha).orElseThrow(() -> RequestException.of(Status.Code.NOT_FOUND, "BLOB_NOT_FOUND",
                    field + ".source.blob_sha256", field + ".source.blob_sha256: no blob " + sha + " in the agent's"
                            + " store: UploadBlob it first"));
        }
        try {
            return ObjectHandler.source(true, src).bytes();
        } catch (RequestException e) {
            throw RequestException.of(e.code(), e.reason(), field + ".source", field + ".source: " + e.getMessage());
        }
    }

    /** Parses and plans one object; the plan's kept maps come from the application's current object. */
    private Desired desired(App app, ApplicationObject o, byte[] elf, String field) {
        String loadKey = loadKey(o, elf);
        Obj held = app.objects.get(o.getName());
        if (held != null && held.loadKey().equals(loadKey) && held.authorized() != null && held(held)) {
            // the same bytes and settings were parsed, checked and loaded before: nothing to load
            return new Desired(o.getName(), elf, null, null, loadKey, o, held.authorized());
        }
        ObjectSpec spec;
        try {
            spec = ObjectSpec.parse(elf, o.getName());
        } catch (RuntimeException e) {
            throw prefixed(e, field + ".source");
        }
        Map<String, byte[]> rodata = new TreeMap<>();
        o.getRodataMap().forEach((k, v) -> rodata.put(k, v.toByteArray()));
        for (String var : rodata.keySet()) {
            if (spec.variableOffsets().keySet().stream().noneMatch(k -> k.startsWith(".rodata") && k.endsWith("/" + var))) {
                throw RequestException.invalid(field + ".rodata[" + var + "]", "object '" + o.getName()
                        + "' has no .rodata variable '" + var + "'");
            }
        }
        for (var ms : o.getMapsMap().entrySet()) {
            String m = ms.getKey();
            if (spec.map(m).isEmpty()) {
                throw RequestException.invalid(field + ".maps[" + m + "]", "object '" + o.getName() + "' has no map '"
                        + m + "' (it has " + spec.maps().stream().map(ObjectSpec.MapDef::name).toList() + ")");
            }
            String share = ms.getValue().getShare();
            if (!share.isEmpty()) {
                if (spec.map(m).get().kind() != ObjectSpec.MapKind.DEFINED) {
                    throw RequestException.invalid(field + ".maps[" + m + "].share", "'" + m + "' is global data"
                            + " (.data, .rodata, .bss), which each object has its own of: share maps the object defines");
                }
                checkShare(app, share, spec.map(m).get(), field + ".maps[" + m + "].share");
            }
        }
        Set<String> progs = new java.util.LinkedHashSet<>();
        for (int p = 0; p < o.getProgramsCount(); p++) {
            String pn = o.getPrograms(p).getName();
            if (spec.program(pn).isEmpty()) {
                throw RequestException.invalid(field + ".programs[" + p + "].name", "object '" + o.getName()
                        + "' has no program '" + pn + "' (it has " + spec.programs().stream()
                        .map(ObjectSpec.ProgramDef::name).toList() + ")");
            }
            progs.add(pn);
        }
        ObjectLoader.KeptMaps kept = def -> keptMap(app, o, def);
        ObjectLoader.Plan plan;
        try {
            plan = ObjectLoader.plan(spec, new ObjectLoader.Options(progs, rodata, 0, null, Map.of(), kept));
        } catch (RuntimeException e) {
            throw prefixed(e, field + ".programs");
        }
        List<AppState.Authorized> authorized = new ArrayList<>();
        for (ObjectLoader.PlannedProgram p : plan.programs()) {
            authorized.add(new AppState.Authorized(p.type().value, p.attachType() == null ? -1 : p.attachType().value,
                    p.progFlags(), com.google.protobuf.ByteString.copyFrom(p.insns()), p.name()));
        }
        return new Desired(o.getName(), elf, spec, plan, loadKey, o, List.copyOf(authorized));
    }

    /** What an object is loaded from: its bytes, the programs asked for, .rodata values, map settings. */
    private static String loadKey(ApplicationObject o, byte[] elf) {
        StringBuilder key = new StringBuilder(Blobs.sha256(elf)).append('|').append(new java.util.TreeSet<>(
                o.getProgramsList().stream().map(ApplicationProgram::getName).toList()));
        new TreeMap<>(o.getRodataMap()).forEach((k, v) -> key.append('|').append(k).append('=')
                .append(java.util.HexFormat.of().formatHex(v.toByteArray())));
        new TreeMap<>(o.getMapsMap()).forEach((k, v) -> key.append("|map ").append(k).append(v.getRecreate()));
        return key.toString();
    }

    private Optional<BpfMap> keptMap(App app, ApplicationObject o, ObjectSpec.MapDef def) {
        ApplicationMapSettings s = o.getMapsMap().get(def.name());
        if (s != null && !s.getShare().isEmpty()) {
            Optional<Registry.Entry> shared = shared(s.getShare());
            if (shared.isPresent()) {
                return Optional.of(BpfMap.fromId(shared.get().key().id())); // checked in desired()
            }
        }
        Obj old = app.objects.get(o.getName());
        if (s != null && s.getRecreate() || old == null || !old.maps().containsKey(def.name())
                || def.type() == MapType.PROG_ARRAY.value) { // it holds its own version's programs: see PROG_ARRAY_NEW
            return Optional.empty();
        }
        Registry.Entry e = registry.find(old.maps().get(def.name()).key());
        if (e == null) {
            return Optional.empty();
        }
        BpfMap m = e.object(BpfMap.class);
        return ObjectLoader.sameShape(m.info(), def) ? Optional.of(BpfMap.fromId(m.id())) : Optional.empty();
    }

    /**
     * Why a map the previous version had is made anew. A program array is never kept: its slots hold
     * the programs of its own version, so the old entry program keeps jumping to the old targets until
     * its link moves to the new one, and no packet meets one version's entry and another's tail.
     */
    static final String PROG_ARRAY_NEW = "recreated: a program array holds its own version's programs"
            + " (the old version keeps its targets until its links move)";

    private static String recreatedReason(ObjectSpec.MapDef m) {
        return m.type() == MapType.PROG_ARRAY.value ? PROG_ARRAY_NEW
                : m.kind() != ObjectSpec.MapKind.DEFINED ? "recreated: global data is each version's own"
                : "recreated: its shape changed, or its settings say recreate";
    }

    // ---- maps shared by name ----

    /** The map held under this share name by any application, if one is. */
    private Optional<Registry.Entry> shared(String share) {
        for (App a : apps.values()) {
            for (Obj o : a.objects.values()) {
                for (MapMember m : o.maps().values()) {
                    if (share.equals(m.share())) {
                        Registry.Entry e = registry.find(m.key());
                        if (e != null) {
                            return Optional.of(e);
                        }
                    }
                }
            }
        }
        return Optional.empty();
    }

    /** The application (other than app) that holds a map under this share name, if one does. */
    private Optional<App> sharer(String share, App app) {
        for (App a : apps.values()) {
            if (a != app && a.objects.values().stream().anyMatch(o -> o.maps().values().stream()
                    .anyMatch(m -> share.equals(m.share()) && registry.find(m.key()) != null))) {
                return Optional.of(a);
            }
        }
        return Optional.empty();
    }

    /** A map the spec shares must be shaped as the shared one and belong to the same owner. */
    private void checkShare(App app, String share, ObjectSpec.MapDef def, String field) {
        Optional<App> other = sharer(share, app);
        if (other.isEmpty()) {
            return;
        }
        if (!(other.get().owner.sameIdentity(app.owner) || other.get().owner.transport() == Caller.Transport.IN_PROCESS
                && app.owner.transport() == Caller.Transport.IN_PROCESS)) {
            throw RequestException.of(Status.Code.PERMISSION_DENIED, "SHARED_MAP_OWNER", field, field + ": '" + share
                    + "' is shared by application '" + other.get().name + "' of another owner: choose another name");
        }
        BpfMap m = shared(share).orElseThrow().object(BpfMap.class);
        if (!ObjectLoader.sameShape(m.info(), def)) {
            var i = m.info();
            throw RequestException.of(Status.Code.FAILED_PRECONDITION, "SHARED_MAP_MISMATCH", field, field + ": map '"
                    + def.name() + "' is not shaped as the map '" + share + "' that application '" + other.get().name
                    + "' shares (type " + i.type().map(Object::toString).orElse(Integer.toString(i.typeNumber()))
                    + ", key " + i.keySize() + " B, value " + i.valueSize() + " B, " + i.maxEntries() + " entries,"
                    + " flags " + i.mapFlags() + ")");
        }
    }

    /** Whether another application uses this map (one it shares). */
    private boolean usedByOthers(Registry.Key k, App app) {
        for (App a : apps.values()) {
            if (a != app && a.objects.values().stream().anyMatch(o -> o.maps().values().stream()
                    .anyMatch(m -> m.key().equals(k)))) {
                return true;
            }
        }
        return false;
    }

    /** The application no longer uses this object: closed, or (a map others share) only its pin removed. */
    private void release(App app, Registry.Key k, List<ObjectRef> closed) {
        Registry.Entry e = registry.find(k);
        if (e != null && k.kind() == Registry.Kind.MAP && usedByOthers(k, app)) {
            appPins.unpinOwn(app, e);
            return;
        }
        closeHeld(k, closed);
    }

    private static RuntimeException prefixed(RuntimeException e, String field) {
        if (e instanceof RequestException re) {
            return RequestException.of(re.code(), re.reason(), field, field + ": " + re.getMessage());
        }
        if (e instanceof dev.bpfagent.agent.bpf.InvalidSpecException ise) {
            return RequestException.invalid(field, ise.getMessage());
        }
        if (e instanceof ObjectLoader.StageException se && se.cause() instanceof dev.bpfagent.agent.bpf.InvalidSpecException ise) {
            return RequestException.invalid(field, ise.getMessage());
        }
        if (e instanceof dev.bpfagent.agent.bpf.elf.ElfException) {
            return RequestException.of(Status.Code.INVALID_ARGUMENT, "MALFORMED_ELF", field, field + ": "
                    + e.getMessage());
        }
        return e;
    }

    /** The same policy checks as LoadObject (each planned program) and AttachProgram (each rule's hook). */
    private void authorize(Caller caller, List<Desired> desired, ApplicationSpec spec) {
        for (Desired d : desired) {
            for (AppState.Authorized p : d.authorized()) {
                authorizer.authorizeProgram(caller, "ApplyApplication", p.type(), p.attachType(), p.progFlags(),
                        p.insns(), p.name());
            }
        }
        for (ApplicationObject o : spec.getObjectsList()) {
            for (ApplicationProgram p : o.getProgramsList()) {
                for (AttachRule r : p.getAttachList()) {
                    authorizer.authorize(new Authorizer.Call(caller, BpfServiceGrpc.getAttachProgramMethod()
                            .getFullMethodName(), AttachProgramRequest.newBuilder().setHook(r.getHook()).build(),
                            List.of()));
                }
            }
        }
    }

    /** An exclusive hook (XDP on an interface) another application holds: refused, naming it. */
    private void conflicts(String name, List<ApplicationSpecs.Target> targets) {
        for (ApplicationSpecs.Target t : targets) {
            if (t.pending() || !t.hook().hasXdp()) {
                continue;
            }
            for (App other : apps.values()) {
                if (other.name.equals(name)) {
                    continue;
                }
                for (Att a : other.atts.values()) {
                    if (a.target.hook().hasXdp() && t.ifname().equals(a.target.ifname())
                            && t.netns().equals(a.target.netns()) && !(t.dispatched() && a.target.dispatched())) {
                        throw RequestException.of(Status.Code.FAILED_PRECONDITION, "HOOK_TAKEN",
                                "spec.objects", "xdp on " + t.ifname() + (t.netns().isEmpty() ? "" : " in netns "
                                        + t.netns()) + " is application '" + other.name
                                        + "''s (program " + a.target.program() + "); an interface runs one XDP"
                                        + " program here unless every application there has mechanism"
                                        + " ATTACH_MECHANISM_XDP_DISPATCHER: delete that application, or select other"
                                        + " interfaces (" + xdpSharing() + ")");
                    }
                }
            }
        }
    }

    /** Why one XDP hook runs one application's program, in words: what the kernel says of freplace. */
    private static String xdpSharing() {
        var f = dev.bpfagent.agent.bpf.KernelFeatures.freplaceCached();
        return switch (f.state()) {
            case REFUSED -> "several programs on one XDP hook need a dispatcher of freplace (EXT) programs, and this"
                    + " kernel refuses EXT loads to the agent; GetKernelFeatures: freplace " + f.state();
            case MISSING -> "several programs on one XDP hook need a dispatcher of freplace (EXT) programs, which"
                    + " this kernel lacks: " + f.detail();
            case SUPPORTED -> "this kernel takes freplace (EXT) programs: rules with mechanism"
                    + " ATTACH_MECHANISM_XDP_DISPATCHER share an interface";
        };
    }

    // ---- converge ----

    /** An undo step of a converge in progress. */
    private interface Undo {
        void run();
    }

    /**
     * Makes the kernel match desired and targets. strict (an apply): any failure undoes everything this
     * call did and throws. Not strict (reconcile): an attachment that fails is recorded as failed with its
     * error, and the rest goes on.
     */
    private Runnable converge(App app, ApplicationSpec spec, List<Desired> desired,
                              List<ApplicationSpecs.Target> targets, List<PlanStep> plan, boolean strict, HostView host) {
        List<Undo> undo = new ArrayList<>();
        Map<String, Obj> next = new LinkedHashMap<>();
        Map<String, Att> nextAtts = new LinkedHashMap<>();
        List<Registry.Key> retire = new ArrayList<>();
        try {
            for (Desired d : desired) {
                boolean dispatched = targets.stream().anyMatch(t -> t.object().equals(d.name()) && t.dispatched());
                next.put(d.name(), object(app, spec, d, plan, undo, dispatched));
            }
            if (desired.isEmpty()) {
                next.putAll(app.objects); // a reconcile that reloads nothing keeps every object
            }
            for (ApplicationSpecs.Target t : targets) {
                nextAtts.put(t.key(), attachment(app, spec, t, next, nextAtts, plan, undo, retire, strict, host));
            }
        } catch (RuntimeException e) {
            for (int i = undo.size() - 1; i >= 0; i--) {
                try {
                    undo.get(i).run();
                } catch (RuntimeException ex) {
                    LOG.warning("application " + app.name + ": undoing a failed apply: " + ex);
                }
            }
            throw e;
        }
        // committed: what the new state does not use goes
        for (var e : app.atts.entrySet()) {
            if (!nextAtts.containsKey(e.getKey()) && e.getValue().link != null) {
                plan.add(step(PlanStep.Action.ACTION_DETACH, "attachment", e.getValue().target, "no longer asked for"));
                retire.add(e.getValue().link);
            }
        }
        Set<Registry.Key> keep = new HashSet<>();
        next.values().forEach(o -> {
            o.maps().values().forEach(m -> keep.add(m.key()));
            o.programs().values().forEach(p -> keep.add(p.key()));
        });
        nextAtts.values().forEach(a -> {
            if (a.link != null) {
                keep.add(a.link);
            }
        });
        for (var e : app.objects.entrySet()) {
            Obj o = e.getValue();
            if (!next.containsKey(e.getKey())) {
                plan.add(PlanStep.newBuilder().setAction(PlanStep.Action.ACTION_CLOSE).setKind("object")
                        .setObject(e.getKey()).setReason("no longer in the spec").build());
            }
            o.programs().values().forEach(p -> retire.add(p.key()));
            o.maps().values().forEach(m -> retire.add(m.key()));
        }
        app.objects.clear();
        app.objects.putAll(next);
        app.atts.clear();
        app.atts.putAll(nextAtts);
        // closed after the new state is recorded: a crash before that finds the previous pins
        return () -> {
            for (Registry.Key k : retire) {
                if (!keep.contains(k)) {
                    release(app, k, new ArrayList<>());
                }
            }
        };
    }

    /** The object as desired: kept whole when loaded from the same bytes and settings, else loaded anew. */
    private Obj object(App app, ApplicationSpec spec, Desired d, List<PlanStep> plan, List<Undo> undo,
                       boolean dispatched) {
        Obj old = app.objects.get(d.name());
        if (old != null && old.loadKey().equals(d.loadKey()) && held(old) && (!dispatched
                || old.programs().values().stream().allMatch(p -> programSpecs.containsKey(p.key())))) {
            plan.add(PlanStep.newBuilder().setAction(PlanStep.Action.ACTION_KEEP).setKind("object")
                    .setObject(d.name()).setReason("the same bytes and settings").build());
            return old;
        }
        plan.add(PlanStep.newBuilder().setAction(PlanStep.Action.ACTION_LOAD).setKind("object").setObject(d.name())
                .setReason(old == null ? "new" : held(old) && old.loadKey().equals(d.loadKey())
                        ? "an XDP dispatcher loads its programs again, from their specs (held since the agent started)"
                        : held(old) ? "its bytes or settings changed"
                        : "some of its programs or maps were closed").build());
        ObjectLoader.Loaded loaded;
        try {
            loaded = ObjectLoader.load(d.plan());
        } catch (ObjectLoader.StageException se) {
            if (se.cause() instanceof VerifierException ve) {
                String id = logs.put(ve.log(), ve.truncated());
                throw new ObjectLoader.StageException(se.stage(), d.name() + "/" + se.object(),
                        new VerifierRejection(ve, id));
            }
            throw new ObjectLoader.StageException(se.stage(), d.name() + "/" + se.object(), se.cause());
        }
        Map<String, String> labels = objectLabels(app, spec);
        Map<String, MapMember> maps = new LinkedHashMap<>();
        Map<String, ProgMember> progs = new LinkedHashMap<>();
        List<Registry.Entry> made = new ArrayList<>();
        undo.add(() -> {
            for (int i = made.size() - 1; i >= 0; i--) {
                closeHeld(made.get(i).key(), new ArrayList<>());
            }
        });
        Set<String> slotTargets = new HashSet<>();
        d.spec().maps().forEach(m -> slotTargets.addAll(m.slots().values()));
        List<Program> unregistered = new ArrayList<>(loaded.programs().values());
        List<BpfMap> unregisteredMaps = new ArrayList<>(loaded.maps().values());
        try {
            for (var e : loaded.maps().entrySet()) {
                unregisteredMaps.remove(e.getValue());
                Registry.Entry entry = registry.add(Registry.Kind.MAP, e.getValue(), app.owner, labels, Set.of());
                MapMember was = old == null ? null : old.maps().get(e.getKey());
                boolean kept = was != null && was.key().equals(entry.key());
                boolean sharedBefore = !kept && entry.object() != e.getValue(); // another application's
                if (!kept && !sharedBefore) {
                    made.add(entry);
                }
                ApplicationMapSettings ms = d.source().getMapsMap().get(e.getKey());
                String share = ms == null ? "" : ms.getShare();
                maps.put(e.getKey(), new MapMember(entry.key(), kept, share));
                plan.add(PlanStep.newBuilder().setAction(kept || sharedBefore ? PlanStep.Action.ACTION_KEEP_MAP
                        : PlanStep.Action.ACTION_CREATE_MAP).setKind("map").setObject(d.name()).setName(e.getKey())
                        .setReason(sharedBefore ? "shared as '" + share + "' with another application"
                                : kept ? "the same name, type, sizes and flags" : was == null ? "new"
                                : recreatedReason(d.spec().map(e.getKey()).orElseThrow())).build());
            }
            for (var e : loaded.programs().entrySet()) {
                ObjectSpec.ProgramDef def = d.spec().program(e.getKey()).orElseThrow();
                Set<Registry.Key> deps = new HashSet<>();
                def.maps().forEach(m -> deps.add(maps.get(m).key()));
                Program p = e.getValue();
                unregistered.remove(p);
                String digest = Blobs.sha256(def.insns());
                ProgMember was = old == null ? null : old.programs().get(e.getKey());
                if (was != null && registry.find(was.key()) != null && was.tag().equals(p.tag())
                        && was.maps().equals(deps) && !slotTargets.contains(e.getKey())) {
                    p.close(); // the same code on the same maps: the running one stays
                    progs.put(e.getKey(), was);
                    plan.add(PlanStep.newBuilder().setAction(PlanStep.Action.ACTION_KEEP).setKind("program")
                            .setObject(d.name()).setName(e.getKey()).setReason("the same instructions and maps").build());
                    continue;
                }
                Registry.Entry entry = registry.add(Registry.Kind.PROGRAM, p, app.owner, labels, deps);
                made.add(entry);
                programSpecs.put(entry.key(), loaded.programSpecs().get(e.getKey()));
                d.spec().xdpRunConfig(e.getKey()).ifPresent(rc -> runConfigs.put(entry.key(), rc));
                progs.put(e.getKey(), new ProgMember(entry.key(), p.tag(), digest, deps));
                plan.add(PlanStep.newBuilder().setAction(was == null ? PlanStep.Action.ACTION_LOAD
                        : PlanStep.Action.ACTION_REPLACE).setKind("program").setObject(d.name()).setName(e.getKey())
                        .setReason(was == null ? "new" : "its instructions or maps changed").build());
            }
        } catch (RuntimeException e) {
            unregistered.forEach(Program::close);
            unregisteredMaps.forEach(BpfMap::close);
            throw e;
        }
        return new Obj(d.loadKey(), maps, progs, d.authorized());
    }

    /** The labels of what an application makes: the spec's, and its name under {@link #APP_LABEL}. */
    private static Map<String, String> objectLabels(App app, ApplicationSpec spec) {
        Map<String, String> l = new HashMap<>(spec == null ? Map.of() : spec.getLabelsMap());
        l.put(APP_LABEL, app.name);
        return l;
    }

    private boolean held(Obj o) {
        return o.maps().values().stream().allMatch(m -> registry.find(m.key()) != null)
                && o.programs().values().stream().allMatch(p -> registry.find(p.key()) != null);
    }

    /** One target: kept, its program replaced on its link, attached anew, or pending. */
    private Att attachment(App app, ApplicationSpec spec, ApplicationSpecs.Target t, Map<String, Obj> next,
                           Map<String, Att> placedSoFar, List<PlanStep> plan, List<Undo> undo, List<Registry.Key> retire, boolean strict,
                           HostView host) {
        Att old = app.atts.get(t.key());
        Att a = new Att(t);
        if (t.pending()) {
            a.state = AttachmentStatus.State.STATE_PENDING;
            plan.add(step(PlanStep.Action.ACTION_KEEP, "attachment", t, "pending: no interface matches yet"));
            return a;
        }
        Obj obj = next.get(t.object());
        ProgMember pm = obj == null ? null : obj.programs().get(t.program());
        if (pm == null) {
            throw RequestException.invalid("spec", "program '" + t.program() + "' of object '" + t.object()
                    + "' is not loaded");
        }
        Registry.Entry prog = registry.get(pm.key());
        a.program = pm.key();
        if (!strict && old != null && old.state == AttachmentStatus.State.STATE_FAILED
                && System.currentTimeMillis() < old.retryAt && old.program != null && old.program.equals(pm.key())) {
            return old; // backing off
        }
        boolean moved = old != null && (old.target.priority() != t.priority() && (t.hook().hasTcx() || t.hook().hasTc()
                || t.dispatched()) || old.target.proceedOn() != t.proceedOn());
        boolean sameWay = old != null && old.target.dispatched() == t.dispatched();
        if (old != null && old.link != null && alive(old, host)) {
            Registry.Entry le = registry.find(old.link);
            if (old.program.equals(pm.key()) && !moved && sameWay) {
                a.link = old.link;
                a.state = AttachmentStatus.State.STATE_ATTACHED;
                a.failures = 0;
                plan.add(step(PlanStep.Action.ACTION_KEEP, "attachment", t, "runs the same program"));
                return a;
            }
            Link link = le.object(Link.class);
            if (link instanceof Link.Dispatched dl && t.dispatched()) {
                var nextSpec = dispatchSpec(prog, t);
                Registry.Entry was = registry.find(old.program);
                var previous = was == null ? null : programSpecs.get(was.key());
                dl.update(nextSpec, runPriority(pm.key(), t), chainCallActions(pm.key(), t));
                Set<Registry.Key> before = le.dependsOn();
                registry.setDependsOn(le, Set.of(pm.key()));
                undo.add(() -> {
                    if (previous != null && registry.find(was.key()) != null) {
                        dl.update(remapped(previous), runPriority(was.key(), old.target),
                                chainCallActions(was.key(), old.target));
                    }
                    registry.setDependsOn(le, before);
                });
                a.link = old.link;
                a.state = AttachmentStatus.State.STATE_ATTACHED;
                plan.add(step(PlanStep.Action.ACTION_REPLACE, "attachment", t, "a new dispatcher "
                        + dl.dispatcherId() + " with program " + pm.key().id() + " at priority " + runPriority(pm.key(), t)
                        + ", swapped in by one netlink replace"));
                return a;
            }
            if (link.mechanism() == Link.Mechanism.BPF_LINK && !moved && !t.dispatched()) {
                Registry.Entry was = registry.find(old.program);
                Program previous = was == null ? null : was.object(Program.class);
                link.update(prog.object(Program.class), previous);
                Set<Registry.Key> before = le.dependsOn();
                registry.setDependsOn(le, Set.of(pm.key()));
                undo.add(() -> {
                    if (previous != null && !previous.isClosed()) {
                        link.update(previous, null);
                    }
                    registry.setDependsOn(le, before);
                });
                a.link = old.link;
                a.state = AttachmentStatus.State.STATE_ATTACHED;
                plan.add(step(PlanStep.Action.ACTION_REPLACE, "attachment", t, "BPF_LINK_UPDATE to program "
                        + pm.key().id()));
                return a;
            }
            // not updatable in place (or placed elsewhere now): the old goes first (the hook may be
            // exclusive, and one program runs once per tcx hook), remade where it was on failure
            closeHeld(old.link, new ArrayList<>());
            Registry.Entry oldProg = registry.find(old.program);
            undo.add(() -> {
                if (oldProg != null && registry.find(oldProg.key()) != null) {
                    old.link = attachNow(app, app.spec, oldProg, old.target, Map.of()).key();
                }
            });
        } else if (old != null && old.link != null) {
            closeHeld(old.link, new ArrayList<>()); // dead: the interface went, or another tool detached it
        }
        try {
            Registry.Entry le = attachNow(app, spec, prog, t, placedSoFar);
            undo.add(() -> closeHeld(le.key(), new ArrayList<>()));
            a.link = le.key();
            a.state = AttachmentStatus.State.STATE_ATTACHED;
            plan.add(step(PlanStep.Action.ACTION_ATTACH, "attachment", t, old == null ? "new" : moved
                    ? "priority " + old.target.priority() + " → " + t.priority() + ": attached again in its place"
                    : "the previous attachment was gone"));
        } catch (RuntimeException e) {
            if (strict) {
                throw new ObjectLoader.StageException("attach", t.object() + "/" + t.program() + " on "
                        + describe(t), e);
            }
            a.state = AttachmentStatus.State.STATE_FAILED;
            a.error = ErrorMapper.toStatus(e);
            a.failures = old == null ? 1 : old.failures + 1;
            a.retryAt = System.currentTimeMillis() + Math.min(MAX_BACKOFF_MILLIS, 250L << Math.min(7, a.failures));
        }
        return a;
    }

    private Registry.Entry attachNow(App app, ApplicationSpec spec, Registry.Entry prog, ApplicationSpecs.Target t,
                                     Map<String, Att> placedSoFar) {
        if (t.dispatched()) {
            return links.dispatch(dispatchSpec(prog, t), (dev.bpfagent.agent.bpf.Hook.Xdp) HookConvert.fromProto(t.hook()),
                    runPriority(prog.key(), t), chainCallActions(prog.key(), t), objectLabels(app, spec),
                    Set.of(prog.key()), app.owner);
        }
        return links.attach(prog, HookConvert.fromProto(placed(app, t, placedSoFar)), LinkHandler.mechanism(t.mechanism()),
                objectLabels(app, spec), Set.of(prog.key()), app.owner);
    }

    /**
     * The hook with the target's place among the applications' programs on it. tcx: before the first
     * (by priority, application name, rule) that runs after it (BPF_F_BEFORE its program), else after
     * all that are there. tc, and tcx before 6.6 (a clsact filter then): the priority is the filter's,
     * with a handle of its own so that equal priorities do not collide (cls_bpf runs them in order).
     */
    private Hook placed(App app, ApplicationSpecs.Target t, Map<String, Att> placedSoFar) {
        Hook h = t.hook();
        if (t.ifname().isEmpty() || !h.hasTcx() && !h.hasTc()) {
            return h;
        }
        if (h.hasTc() || !dev.bpfagent.agent.bpf.KernelVersion.atLeast(6, 6)) {
            TcHook.Builder tc = h.hasTc() ? h.getTc().toBuilder() : TcHook.newBuilder()
                    .setInterface(h.getTcx().getInterface()).setDirection(h.getTcx().getDirection());
            if (tc.getPriority() == 0) {
                tc.setPriority(t.priority());
            }
            if (tc.getHandle() == 0) {
                tc.setHandle(1 + Math.floorMod((app.name + "/" + t.key()).hashCode(), 0xfffe));
            }
            return Hook.newBuilder().setTc(tc).build();
        }
        TcDirection dir = h.getTcx().getDirection();
        java.util.Comparator<Object[]> order = java.util.Comparator.<Object[]>comparingInt(x -> (Integer) x[0])
                .thenComparing(x -> (String) x[1]).thenComparing(x -> (String) x[2]);
        Object[] self = {t.priority(), app.name, t.key()};
        Object[] next = null;
        for (App other : apps.values()) {
            Map<String, Att> atts = other.atts;
            if (other == app) {
                atts = new HashMap<>(app.atts);
                atts.putAll(placedSoFar); // this apply's attachments so far
            }
            for (Att a : atts.values()) {
                ApplicationSpecs.Target o = a.target;
                if (a.link == null || !o.hook().hasTcx() || o.hook().getTcx().getDirection() != dir
                        || !o.ifname().equals(t.ifname()) || !o.netns().equals(t.netns())
                        || other == app && o.key().equals(t.key())) {
                    continue;
                }
                Registry.Entry le = registry.find(a.link);
                if (le == null || le.object(Link.class).isClosed()) {
                    continue;
                }
                Object[] peer = {o.priority(), other.name, o.key(), le.object(Link.class).programId()};
                if (order.compare(peer, self) > 0 && (next == null || order.compare(peer, next) < 0)) {
                    next = peer;
                }
            }
        }
        if (next == null) {
            return h; // last of ours: appended
        }
        return h.toBuilder().setTcx(h.getTcx().toBuilder().setBeforeProgramId((Integer) next[3])).build();
    }

    /**
     * The spec a program was loaded from, for a dispatcher to load it again as an extension: its maps
     * the ones the registry holds (the load's own objects may have been closed as duplicates).
     */
    private dev.bpfagent.agent.bpf.ProgramSpec dispatchSpec(Registry.Entry prog, ApplicationSpecs.Target t) {
        var f = dev.bpfagent.agent.bpf.KernelFeatures.freplaceCached();
        if (f.state() != dev.bpfagent.agent.bpf.KernelFeatures.State.SUPPORTED) {
            throw RequestException.of(Status.Code.FAILED_PRECONDITION, "FREPLACE_UNAVAILABLE", "mechanism",
                    "mechanism ATTACH_MECHANISM_XDP_DISPATCHER runs programs as freplace (EXT) extensions of a"
                    + " dispatcher, and this kernel answers: " + f.detail() + " (GetKernelFeatures: freplace "
                    + f.state() + "); leave mechanism unset to run one program on the interface");
        }
        var s = programSpecs.get(prog.key());
        if (s == null) {
            throw RequestException.of(Status.Code.FAILED_PRECONDITION, "PROGRAM_SPEC_GONE", "mechanism",
                    "program " + prog.key().id() + " (" + t.object() + "/" + t.program() + ") was loaded before the"
                    + " agent started: apply the application again to load it anew");
        }
        return remapped(s);
    }

    /** A dispatched rule's run priority: the rule's, else the object's XDP_RUN_CONFIG, else libxdp's 50. */
    private int runPriority(Registry.Key prog, ApplicationSpecs.Target t) {
        return t.priority() != 0 ? t.priority() : runConfigs.getOrDefault(prog,
                dev.bpfagent.agent.bpf.object.XdpRunConfig.DEFAULT).priority();
    }

    /** A dispatched rule's chain call actions: its proceed_on, else the object's XDP_RUN_CONFIG, else PASS. */
    private int chainCallActions(Registry.Key prog, ApplicationSpecs.Target t) {
        return t.proceedOn() != 0 ? t.proceedOn() : runConfigs.getOrDefault(prog,
                dev.bpfagent.agent.bpf.object.XdpRunConfig.DEFAULT).chainCallActions();
    }

    private dev.bpfagent.agent.bpf.ProgramSpec remapped(dev.bpfagent.agent.bpf.ProgramSpec s) {
        List<BpfMap> maps = new ArrayList<>();
        for (BpfMap m : s.maps()) {
            Registry.Entry e = registry.find(new Registry.Key(Registry.Kind.MAP, m.id()));
            maps.add(e != null ? e.object(BpfMap.class) : m);
        }
        return new dev.bpfagent.agent.bpf.ProgramSpec(s.type(), s.instructions(), s.license(), s.name(), s.log(),
                s.kernVersion(), s.progFlags(), s.expectedAttachType(), s.attachTarget(), s.btf(), s.progIfindex(), maps);
    }

    /** Whether the attachment still does its job in the kernel (drift: detached by another tool, interface gone). */
    private boolean alive(Att a, HostView host) {
        Registry.Entry e = registry.find(a.link);
        if (e == null || a.program == null || registry.find(a.program) == null) {
            return false;
        }
        Link link = e.object(Link.class);
        if (link.isClosed()) {
            return false;
        }
        ApplicationSpecs.Target t = a.target;
        if (!t.ifname().isEmpty()) {
            Integer now = host.ifaces(t.netns()).get(t.ifname());
            if (now == null || now != t.ifindex()) {
                return false;
            }
        }
        try {
            if (link instanceof Link.Dispatched dl) {
                return dl.running(); // read afresh: an earlier attachment of this pass may have swapped the dispatcher
            }
            if (t.hook().hasXdp()) {
                return host.xdpProgramId(t.netns(), t.ifindex()) == a.program.id();
            }
            if (t.hook().hasTcx() && link.mechanism() == Link.Mechanism.BPF_LINK) {
                return link.info().ifindex() != 0;
            }
        } catch (RuntimeException gone) {
            return false;
        }
        return true;
    }

    private static String describe(ApplicationSpecs.Target t) {
        try {
            return HookConvert.fromProto(t.hook()).describe();
        } catch (RuntimeException e) {
            return t.hook().getHookCase().name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    private static PlanStep step(PlanStep.Action action, String kind, ApplicationSpecs.Target t, String reason) {
        return PlanStep.newBuilder().setAction(action).setKind(kind).setObject(t.object()).setName(t.program())
                .setTarget(t.pending() ? "(no interface yet)" : describe(t)).setReason(reason).build();
    }

    /** What an apply would do, without doing it. */
    private void planOnly(App app, List<Desired> desired, List<ApplicationSpecs.Target> targets, List<PlanStep> plan) {
        Set<String> reloaded = new HashSet<>();
        for (Desired d : desired) {
            Obj old = app.objects.get(d.name());
            if (old != null && old.loadKey().equals(d.loadKey()) && held(old)) {
                plan.add(PlanStep.newBuilder().setAction(PlanStep.Action.ACTION_KEEP).setKind("object")
                        .setObject(d.name()).setReason("the same bytes and settings").build());
                continue;
            }
            reloaded.add(d.name());
            plan.add(PlanStep.newBuilder().setAction(PlanStep.Action.ACTION_LOAD).setKind("object")
                    .setObject(d.name()).setReason(old == null ? "new" : "its bytes or settings changed").build());
            for (ObjectSpec.MapDef m : d.plan().maps()) {
                boolean keep = old != null && m.kind() == ObjectSpec.MapKind.DEFINED && keptMapShape(app, d, m);
                plan.add(PlanStep.newBuilder().setAction(keep ? PlanStep.Action.ACTION_KEEP_MAP
                        : PlanStep.Action.ACTION_CREATE_MAP).setKind("map").setObject(d.name()).setName(m.name())
                        .setReason(keep ? "the same name, type, sizes and flags" : old != null && old.maps().containsKey(m.name())
                                ? recreatedReason(m) : "new").build());
            }
            for (ObjectLoader.PlannedProgram p : d.plan().programs()) {
                boolean had = old != null && old.programs().containsKey(p.name());
                plan.add(PlanStep.newBuilder().setAction(had ? PlanStep.Action.ACTION_REPLACE
                        : PlanStep.Action.ACTION_LOAD).setKind("program").setObject(d.name()).setName(p.name())
                        .setReason(had ? "replaced unless its instructions and maps are unchanged" : "new").build());
            }
        }
        for (ApplicationSpecs.Target t : targets) {
            Att old = app.atts.get(t.key());
            plan.add(t.pending() ? step(PlanStep.Action.ACTION_KEEP, "attachment", t, "pending")
                    : old == null || old.link == null ? step(PlanStep.Action.ACTION_ATTACH, "attachment", t, "new")
                    : reloaded.contains(t.object()) ? step(PlanStep.Action.ACTION_REPLACE, "attachment", t,
                    "if its program is replaced") : step(PlanStep.Action.ACTION_KEEP, "attachment", t, ""));
        }
        Set<String> keys = new HashSet<>();
        targets.forEach(t -> keys.add(t.key()));
        app.atts.forEach((k, a) -> {
            if (!keys.contains(k)) {
                plan.add(step(PlanStep.Action.ACTION_DETACH, "attachment", a.target, "no longer asked for"));
            }
        });
    }

    private boolean keptMapShape(App app, Desired d, ObjectSpec.MapDef m) {
        Optional<BpfMap> k = keptMap(app, d.source(), m);
        k.ifPresent(BpfMap::close);
        return k.isPresent();
    }

    private void closeHeld(Registry.Key key, List<ObjectRef> closed) {
        if (key == null || registry.find(key) == null) {
            return;
        }
        try {
            for (Registry.Entry gone : registry.beginClose(key, true)) {
                appPins.unpin(gone);
                registry.remove(gone);
                programSpecs.remove(gone.key());
                runConfigs.remove(gone.key());
                gone.object().close();
                closed.add(ProtoConvert.ref(gone.key()));
            }
        } catch (RuntimeException e) {
            LOG.fine("closing " + key + ": " + e.getMessage()); // closed by another call meanwhile
        }
    }

    // ---- reconcile ----

    private void reconcileAll() {
        try {
            List<App> all;
            synchronized (this) {
                all = new ArrayList<>(apps.values());
            }
            HostView host = new HostView();
            long seen = -1;
            for (App app : all) {
                synchronized (this) {
                    if (seen != changes) {
                        host.changed(); // an apply or delete ran since: what it changed is read again
                        seen = changes;
                    }
                    if (apps.get(app.name) == app) {
                        reconcile(app, host);
                    }
                }
            }
            passes.increment();
        } catch (RuntimeException | Error e) {
            LOG.warning("reconcile pass: " + e);
        }
    }

    /** For metrics: how many applications have each condition true and false, and the reconcile counters. */
    synchronized ApplicationStats stats() {
        Map<String, Integer> byCondition = new java.util.TreeMap<>();
        for (App app : apps.values()) {
            for (Condition c : app.conditions.values()) {
                byCondition.merge(c.getType() + "=" + c.getStatus(), 1, Integer::sum);
            }
        }
        return new ApplicationStats(apps.size(), byCondition, passes.sum(), repairs.sum());
    }

    /** Brings one application back to its spec; each change made is an event. Caller holds the lock. */
    private void reconcile(App app, HostView host) {
        List<ApplicationSpecs.Target> targets = ApplicationSpecs.targets(app.spec, host::ifaces, false);
        long now = System.currentTimeMillis();
        List<Desired> reload = new ArrayList<>();
        boolean objectsMissing = false;
        for (int i = 0; i < app.spec.getObjectsCount(); i++) {
            ApplicationObject o = app.spec.getObjects(i);
            Obj have = app.objects.get(o.getName());
            if (have == null || !held(have)) {
                objectsMissing = true;
            }
        }
        boolean attsChanged = false;
        Set<String> keys = new HashSet<>();
        for (ApplicationSpecs.Target t : targets) {
            keys.add(t.key());
            Att a = app.atts.get(t.key());
            if (a == null) {
                attsChanged = true;
            } else if (a.state == AttachmentStatus.State.STATE_FAILED) {
                attsChanged |= now >= a.retryAt;
            } else if (a.state == AttachmentStatus.State.STATE_ATTACHED && !alive(a, host)) {
                attsChanged = true;
            }
        }
        attsChanged |= !keys.equals(app.atts.keySet());
        if (!objectsMissing && !attsChanged) {
            return;
        }
        Map<String, Att> before = new LinkedHashMap<>(app.atts);
        Map<String, Boolean> aliveBefore = new HashMap<>();
        before.forEach((k, a) -> aliveBefore.put(k, a.link != null && alive(a, host)));
        List<PlanStep> plan = new ArrayList<>();
        Runnable retire;
        try {
            if (objectsMissing) {
                for (int i = 0; i < app.spec.getObjectsCount(); i++) {
                    ApplicationObject o = app.spec.getObjects(i);
                    reload.add(desired(app, o, resolve(o, "spec.objects[" + i + "]"), "spec.objects[" + i + "]"));
                }
            }
            retire = converge(app, app.spec, reload, targets, plan, false, host);
            host.changed();
        } catch (RuntimeException e) {
            com.google.rpc.Status s = ErrorMapper.toStatus(e);
            condition(app, "Degraded", true, reasonOf(e), "cannot rebuild generation " + app.generation + ": "
                    + s.getMessage(), logIdOf(e));
            event(app, "ReconcileFailed", s.getMessage());
            readiness(app);
            changedStatus(app);
            return;
        }
        for (var e : app.atts.entrySet()) {
            Att a = e.getValue();
            Att was = before.get(e.getKey());
            if (a.state == AttachmentStatus.State.STATE_ATTACHED && (was == null || was.link == null)) {
                event(app, was == null && !a.target.ifname().isEmpty() ? "InterfaceAttached" : "Attached",
                        a.target.program() + " attached to " + describe(a.target));
            } else if (a.state == AttachmentStatus.State.STATE_ATTACHED && was != null && !aliveBefore.get(e.getKey())
                    && !a.link.equals(was.link)) {
                repairs.increment();
                event(app, "DriftRepaired", a.target.program() + " on " + describe(a.target) + " was gone (detached"
                        + " by another tool, or its interface re-made): attached again as link " + a.link.id());
            } else if (a.state == AttachmentStatus.State.STATE_FAILED && (was == null
                    || was.state != AttachmentStatus.State.STATE_FAILED)) {
                event(app, "AttachFailed", a.target.program() + " on " + describe(a.target) + ": "
                        + a.error.getMessage());
            }
        }
        for (var e : before.entrySet()) {
            if (!app.atts.containsKey(e.getKey()) && !e.getValue().target.ifname().isEmpty()) {
                event(app, "InterfaceForgotten", e.getValue().target.ifname() + " is gone: "
                        + e.getValue().target.program() + " forgotten there");
            }
        }
        if (objectsMissing) {
            repairs.increment();
            event(app, "Rebuilt", "objects of generation " + app.generation + " loaded again");
            condition(app, "Degraded", false, "Applied", "", "");
        }
        readiness(app);
        changedStatus(app);
        retire.run();
    }

    // ---- status ----

    private void readiness(App app) {
        long failed = app.atts.values().stream().filter(a -> a.state == AttachmentStatus.State.STATE_FAILED).count();
        long pending = app.atts.values().stream().filter(a -> a.state == AttachmentStatus.State.STATE_PENDING).count();
        boolean degraded = app.conditions.containsKey("Degraded") && app.conditions.get("Degraded").getStatus();
        boolean loaded = !app.objects.isEmpty() && app.objects.values().stream().allMatch(this::held);
        if (!loaded) {
            condition(app, "Ready", false, "NotLoaded", "the objects of generation " + app.generation
                    + " are not loaded", "");
        } else if (failed > 0) {
            condition(app, "Ready", false, "AttachFailed", failed + " attachment(s) failed: see attachments", "");
        } else {
            condition(app, "Ready", true, pending > 0 ? "Pending" : "Applied", pending > 0 ? pending
                    + " rule(s) match no interface yet" : "every attachment is in place", "");
        }
        condition(app, "Progressing", failed > 0 && !degraded, failed > 0 ? "Retrying" : "Settled",
                failed > 0 ? "retrying failed attachments with backoff" : "", "");
    }

    private static void condition(App app, String type, boolean status, String reason, String message, String logId) {
        Condition old = app.conditions.get(type);
        long since = old != null && old.getStatus() == status ? old.getLastTransitionMs() : System.currentTimeMillis();
        app.conditions.put(type, Condition.newBuilder().setType(type).setStatus(status).setReason(reason)
                .setMessage(message).setLastTransitionMs(since).setLogId(logId).build());
    }

    private static void event(App app, String reason, String message) {
        app.events.addLast(ApplicationEvent.newBuilder().setTimeMs(System.currentTimeMillis()).setReason(reason)
                .setMessage(message).build());
        while (app.events.size() > MAX_EVENTS) {
            app.events.removeFirst();
        }
        LOG.info("application " + app.name + ": " + reason + ": " + message);
    }

    private static String reasonOf(RuntimeException e) {
        Throwable c = e instanceof ObjectLoader.StageException se ? se.cause() : e;
        if (c instanceof VerifierRejection || c instanceof VerifierException) {
            return "VerifierRejected";
        }
        if (e instanceof ObjectLoader.StageException se && se.stage().equals("attach")) {
            return "AttachFailed";
        }
        if (c instanceof RequestException re && re.reason().equals("INTERFACE_MISSING")) {
            return "InterfaceMissing";
        }
        return e instanceof ObjectLoader.StageException ? "LoadFailed" : "ApplyFailed";
    }

    private static String logIdOf(RuntimeException e) {
        Throwable c = e instanceof ObjectLoader.StageException se ? se.cause() : e;
        return c instanceof VerifierRejection vr ? vr.logId() : "";
    }

    private Application view(App app, ApplicationSpec spec) {
        var st = ApplicationStatus.newBuilder().setObservedGeneration(app.generation)
                .addAllConditions(app.conditions.values()).addAllEvents(app.events);
        app.objects.forEach((on, o) -> {
            List<String> named = spec == null ? List.of() : spec.getObjectsList().stream()
                    .filter(x -> x.getName().equals(on)).flatMap(x -> x.getProgramsList().stream())
                    .map(ApplicationProgram::getName).toList();
            // the programs the spec names, in its order, then those loaded with them (tail-call targets)
            o.programs().entrySet().stream().sorted(java.util.Comparator.comparingInt(e -> named.contains(e.getKey())
                    ? named.indexOf(e.getKey()) : named.size())).forEach(e -> st.addPrograms(ProgramStatus
                    .newBuilder().setObject(on).setName(e.getKey()).setProgramId(e.getValue().key().id())
                    .setTag(e.getValue().tag()).setInsnDigest(e.getValue().digest())));
            o.maps().forEach((mn, m) -> st.addMaps(MapStatus.newBuilder().setObject(on).setName(mn).setShare(m.share())
                    .setMapId(m.key().id()).setKept(m.kept())));
        });
        app.atts.values().forEach(a -> {
            var b = AttachmentStatus.newBuilder().setObject(a.target.object()).setProgram(a.target.program())
                    .setRule(a.target.rule()).setTarget(a.target.pending() ? "" : describe(a.target))
                    .setState(a.state).setLinkId(a.link == null ? 0 : a.link.id());
            if (a.error != null) {
                b.setError(a.error);
            }
            Registry.Entry le = a.link == null ? null : registry.find(a.link);
            if (le != null && le.object() instanceof Link.Dispatched dl && !dl.isClosed()) {
                b.setDispatcherProgramId(dl.dispatcherId()).setExtensionProgramId(dl.programId());
            }
            st.addAttachments(b);
        });
        return Application.newBuilder().setName(app.name).setGeneration(app.generation)
                .setSpec(spec == null ? ApplicationSpec.getDefaultInstance() : spec).setStatus(st)
                .setResourceVersion(app.resourceVersion).setOwner(PinRecords.toProto(app.owner)).build();
    }

    private void changedStatus(App app) {
        persist(app, WatchApplicationsResponse.Type.TYPE_MODIFIED, true);
    }

    /** Records the application durably and tells watchers (when something changed). */
    private void persist(App app, WatchApplicationsResponse.Type type, boolean changed) {
        if (!changed && type == WatchApplicationsResponse.Type.TYPE_MODIFIED) {
            return;
        }
        app.resourceVersion = ++resourceVersion;
        Application view = view(app, app.spec);
        appPins.pinAll(app);
        try {
            records.write(ApplicationPins.record(app, view));
        } catch (IOException e) {
            LOG.warning("cannot record application " + app.name + " (it will not be rebuilt after a restart): " + e);
        }
        watch.publish(type, view);
    }

    private Set<String> allBlobs() {
        Set<String> s = new HashSet<>();
        apps.values().forEach(a -> s.addAll(blobsOf(a.spec)));
        return s;
    }

    private static Set<String> blobsOf(ApplicationSpec spec) {
        Set<String> s = new HashSet<>();
        if (spec != null) {
            spec.getObjectsList().forEach(o -> {
                if (o.getSource().getSourceCase() == ObjectSource.SourceCase.BLOB_SHA256) {
                    s.add(o.getSource().getBlobSha256());
                }
            });
        }
        return s;
    }

    // ---- get, list, delete ----

    synchronized Application get(GetApplicationRequest req) {
        requireStarted();
        return view(found(req.getName(), "name"), apps.get(req.getName()).spec);
    }

    private App found(String name, String field) {
        ApplicationSpecs.name(name, field);
        App app = apps.get(name);
        if (app == null || !authorizer.maySee(Caller.current(), app.owner, false)) {
            throw RequestException.of(Status.Code.NOT_FOUND, "APPLICATION_NOT_FOUND", field, "no application '"
                    + name + "' (ListApplications lists them)");
        }
        return app;
    }

    /** Which application's rule put a program on a hook: by the program id the hook runs (a slot's extension). */
    record Placement(String application, String object, String program, int rule, int linkId) {
    }

    /** The attachments of the applications the caller may see, by the program id their hook runs. */
    synchronized Map<Integer, Placement> placements() {
        Map<Integer, Placement> out = new HashMap<>();
        Caller caller = Caller.current();
        for (App app : apps.values()) {
            if (!authorizer.maySee(caller, app.owner, false)) {
                continue;
            }
            for (Att a : app.atts.values()) {
                Registry.Entry le = a.link == null ? null : registry.find(a.link);
                if (le != null && le.object() instanceof Link l && !l.isClosed()) {
                    out.put(l.programId(), new Placement(app.name, a.target.object(), a.target.program(),
                            a.target.rule(), a.link.id()));
                }
            }
        }
        return out;
    }

    synchronized ListApplicationsResponse list(ListApplicationsRequest req) {
        requireStarted();
        dev.bpfagent.agent.service.state.Labels.check(req.getLabelsMap(), "labels");
        int size = req.getPageSize() == 0 ? 100 : (int) Math.min(1000, Integer.toUnsignedLong(req.getPageSize()));
        String after = "";
        if (!req.getPageToken().isEmpty()) {
            try {
                after = new String(java.util.Base64.getUrlDecoder().decode(req.getPageToken()),
                        java.nio.charset.StandardCharsets.UTF_8);
            } catch (IllegalArgumentException e) {
                throw RequestException.invalid("page_token", "is not a token a ListApplications returned");
            }
        }
        var out = ListApplicationsResponse.newBuilder().setResourceVersion(resourceVersion);
        Caller caller = Caller.current();
        String last = null;
        for (App app : apps.tailMap(after, false).values()) {
            if (!authorizer.maySee(caller, app.owner, false) || !dev.bpfagent.agent.service.state.Labels.matches(
                    app.spec.getLabelsMap(), req.getLabelsMap())) {
                continue;
            }
            if (out.getApplicationsCount() == size) {
                out.setNextPageToken(java.util.Base64.getUrlEncoder().withoutPadding().encodeToString(
                        last.getBytes(java.nio.charset.StandardCharsets.UTF_8)));
                break;
            }
            out.addApplications(view(app, app.spec));
            last = app.name;
        }
        return out.build();
    }

    synchronized DeleteApplicationResponse delete(DeleteApplicationRequest req) {
        requireStarted();
        App app = found(req.getName(), "name");
        mayChange(app, Caller.current());
        if (req.hasExpectedGeneration() && req.getExpectedGeneration() != app.generation) {
            throw RequestException.of(Status.Code.ABORTED, "GENERATION_MISMATCH", "expected_generation",
                    "expected_generation " + req.getExpectedGeneration() + ", but application '" + app.name
                            + "' is at generation " + app.generation);
        }
        try {
            records.delete(app.name); // first: a crash after this leaves pins the next start removes
        } catch (IOException e) {
            throw RequestException.of(Status.Code.INTERNAL, "STATE_WRITE_FAILED", "name", "cannot remove the record"
                    + " of application '" + app.name + "' (" + e.getMessage() + "): it keeps running; fix the state"
                    + " directory and delete again");
        }
        changes++;
        List<ObjectRef> closed = new ArrayList<>();
        app.atts.values().forEach(a -> closeHeld(a.link, closed));
        app.objects.values().forEach(o -> {
            o.programs().values().forEach(p -> closeHeld(p.key(), closed));
            o.maps().values().forEach(m -> release(app, m.key(), closed));
        });
        apps.remove(app.name);
        blobs.collect(allBlobs(), blobsOf(app.spec));
        app.resourceVersion = ++resourceVersion;
        watch.publish(WatchApplicationsResponse.Type.TYPE_DELETED, view(app, app.spec));
        return DeleteApplicationResponse.newBuilder().addAllClosed(closed).build();
    }

    // ---- blobs ----

    StreamObserver<UploadBlobRequest> upload(StreamObserver<UploadBlobResponse> out) {
        return BlobUpload.observer(() -> blobs, out);
    }

    // ---- watch ----

    synchronized void watch(WatchApplicationsRequest req, StreamObserver<WatchApplicationsResponse> out) {
        requireStarted();
        if (!req.getName().isEmpty()) {
            ApplicationSpecs.name(req.getName(), "name");
        }
        Caller caller = Caller.current();
        watch.open((ServerCallStreamObserver<WatchApplicationsResponse>) out, req.getName(),
                a -> authorizer.maySee(caller, PinRecords.fromProto(a.getOwner()), false), req.getResourceVersion(),
                resourceVersion, () -> apps.values().stream().filter(app -> authorizer.maySee(caller, app.owner, false))
                        .map(app -> WatchApplicationsResponse.newBuilder().setType(WatchApplicationsResponse.Type
                                .TYPE_ADDED).setApplication(view(app, app.spec)).setResourceVersion(app.resourceVersion)
                                .build()).toList());
    }

    /** Applications held, for GetAgentInfo and tests. */
    synchronized int count() {
        return apps.size();
    }
}
