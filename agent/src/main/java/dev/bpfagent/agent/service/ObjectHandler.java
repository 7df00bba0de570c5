package dev.bpfagent.agent.service;

import dev.bpfagent.agent.bpf.BpfMap;
import dev.bpfagent.agent.bpf.Program;
import dev.bpfagent.agent.bpf.object.ObjectLoader;
import dev.bpfagent.agent.bpf.object.ObjectSpec;
import dev.bpfagent.agent.bpf.object.SectionDefs;
import dev.bpfagent.agent.service.auth.Caller;
import dev.bpfagent.agent.service.errors.RequestException;
import dev.bpfagent.agent.service.state.Collection;
import dev.bpfagent.agent.service.state.Labels;
import dev.bpfagent.agent.service.state.Registry;
import dev.bpfagent.proto.v1.*;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Set;

/**
 * ELF objects: inspected (parsed only), or loaded as a collection whose maps and programs the agent
 * holds each as its own resource (a program depends on the maps it uses; the collection on all of
 * them), so a collection's program attaches, pins and test-runs like any other.
 */
final class ObjectHandler {
    static final Registry.Kind KIND = Registry.Kind.COLLECTION;
    /** The largest object taken (bytes or file): real ones are KBs to a few MB. */
    static final int MAX_OBJECT_BYTES = 64 << 20;

    private final Registry registry;
    private final Refs refs;

    private final dev.bpfagent.agent.service.auth.Authorizer authorizer;

    private final LinkHandler links;

    ObjectHandler(Registry registry, Refs refs, dev.bpfagent.agent.service.auth.Authorizer authorizer,
                  LinkHandler links) {
        this.authorizer = authorizer;
        this.links = links;
        this.registry = registry;
        this.refs = refs;
    }

    /** The object's bytes and name from the request's source. */
    record Source(byte[] bytes, String name) {
    }

    static Source source(boolean present, ObjectSource src) {
        if (!present || src.getSourceCase() == ObjectSource.SourceCase.SOURCE_NOT_SET) {
            throw RequestException.invalid("object", "is required: the ELF bytes (object.elf) or a path on the agent's"
                    + " host (object.path)");
        }
        String name = src.getName();
        if (name.length() > 255 || name.chars().anyMatch(Character::isISOControl)) {
            throw RequestException.invalid("object.name", "at most 255 characters, no control characters");
        }
        if (src.getSourceCase() == ObjectSource.SourceCase.ELF) {
            if (src.getElf().isEmpty()) {
                throw RequestException.invalid("object.elf", "is empty");
            }
            return new Source(src.getElf().toByteArray(), name.isEmpty() ? "object" : name);
        }
        Path path = Path.of(src.getPath());
        if (!path.isAbsolute() || src.getPath().indexOf('\0') >= 0) {
            throw RequestException.invalid("object.path", "'" + src.getPath() + "' is not an absolute path");
        }
        readableByCaller(path);
        try {
            long size = Files.size(path);
            if (size > MAX_OBJECT_BYTES) {
                throw RequestException.invalid("object.path", path + " is " + size + " bytes; at most "
                        + MAX_OBJECT_BYTES);
            }
            return new Source(Files.readAllBytes(path), name.isEmpty() ? path.getFileName().toString() : name);
        } catch (IOException e) {
            throw RequestException.notFound("OBJECT_NOT_FOUND", "object.path: cannot read " + path + ": " + e);
        }
    }

    /** Only what the caller could read itself: the agent reads as root, the caller may not be. */
    static void readableByCaller(Path path) {
        Caller c = Caller.current();
        if (!Files.isRegularFile(path)) {
            throw RequestException.of(io.grpc.Status.Code.NOT_FOUND, "OBJECT_NOT_FOUND", "object.path",
                    "object.path: no file " + path + " on the agent's host");
        }
        if (c.transport() == Caller.Transport.TCP) {
            throw RequestException.permissionDenied("PATH_NOT_READABLE", "object.path: callers over TCP send the"
                    + " object's bytes (object.elf); paths on the agent's host are for local callers");
        }
        if (c.transport() != Caller.Transport.UNIX || c.uid() == 0) {
            return;
        }
        try {
            PosixFileAttributes a = Files.readAttributes(path, PosixFileAttributes.class);
            Set<PosixFilePermission> p = a.permissions();
            int owner = (Integer) Files.getAttribute(path, "unix:uid");
            int group = (Integer) Files.getAttribute(path, "unix:gid");
            boolean ok = owner == c.uid() ? p.contains(PosixFilePermission.OWNER_READ)
                    : group == c.gid() ? p.contains(PosixFilePermission.GROUP_READ)
                    : p.contains(PosixFilePermission.OTHERS_READ);
            if (!ok) {
                throw RequestException.permissionDenied("PATH_NOT_READABLE", "object.path: uid " + c.uid()
                        + " may not read " + path + ": send its bytes (object.elf) instead");
            }
        } catch (IOException e) {
            throw RequestException.notFound("OBJECT_NOT_FOUND", "object.path: " + e.getMessage());
        }
    }

    static String lower(Enum<?> e) {
        return e == null ? "" : e.name().toLowerCase(Locale.ROOT);
    }

    InspectObjectResponse inspect(InspectObjectRequest req) {
        Source src = source(req.hasObject(), req.getObject());
        ObjectSpec spec = ObjectSpec.parse(src.bytes(), src.name());
        var b = InspectObjectResponse.newBuilder().setLicense(spec.license()).setKernVersion(spec.kernVersion())
                .setHasBtf(spec.btf() != null);
        for (ObjectSpec.MapDef m : spec.maps()) {
            b.addMaps(ObjectMap.newBuilder().setName(m.name()).setType(m.mapType().map(ObjectHandler::lower)
                    .orElse("type " + m.type())).setKeySize(m.keySize()).setValueSize(m.valueSize())
                    .setMaxEntries(m.maxEntries()).setFlags(m.flags()).setSection(m.section())
                    .setPinByName(m.pinning() == 1));
        }
        for (ObjectSpec.ProgramDef p : spec.programs()) {
            Optional<SectionDefs.Def> d = p.def();
            var op = ObjectProgram.newBuilder().setName(p.name()).setSection(p.section())
                    .setProgType(d.map(x -> lower(x.type())).orElse(""))
                    .setExpectedAttachType(d.map(x -> lower(x.attachType())).orElse(""))
                    .setInsnCnt(p.ownInsnCount()).addAllMaps(p.maps()).addAllSubprograms(p.subprograms())
                    .setAttachTo(p.attachTo());
            spec.xdpRunConfig(p.name()).ifPresent(rc -> op.setXdpRunConfig(dev.bpfagent.proto.v1.XdpRunConfig
                    .newBuilder().setPriority(rc.priority()).addAllProceedOn(ProtoConvert.xdpActions(rc.chainCallActions()))));
            b.addPrograms(op);
        }
        return b.build();
    }

    LoadObjectResponse load(LoadObjectRequest req) {
        Map<String, String> labels = Labels.check(req.getLabelsMap(), "labels");
        dev.bpfagent.agent.bpf.ProgramSpec.Log.checkLevel(req.getLogLevel(), "log_level");
        Source src = source(req.hasObject(), req.getObject());
        ObjectSpec spec = ObjectSpec.parse(src.bytes(), src.name());
        Map<String, byte[]> rodata = new java.util.LinkedHashMap<>();
        req.getRodataMap().forEach((k, v) -> rodata.put(k, v.toByteArray()));
        for (String var : rodata.keySet()) {
            if (spec.variableOffsets().keySet().stream().noneMatch(k -> k.startsWith(".rodata") && k.endsWith("/" + var))) {
                throw RequestException.invalid("rodata[" + var + "]", "the object has no .rodata variable '" + var
                        + "'");
            }
        }
        Map<String, ObjectLoader.ProgramOverride> overrides = new java.util.LinkedHashMap<>();
        req.getOverridesMap().forEach((name, o) -> overrides.put(name, new ObjectLoader.ProgramOverride(
                o.hasType() ? ProtoConvert.programType(o.getType(), "overrides[" + name + "].type") : null,
                o.hasExpectedAttachType() ? ProtoConvert.attachType(o.getExpectedAttachType(),
                        "overrides[" + name + "].expected_attach_type") : null, o.getAttachTo())));
        // one plan: what is authorized is exactly what is loaded (an override's type, a ".s" section's flags)
        ObjectLoader.Plan plan = ObjectLoader.plan(spec, new ObjectLoader.Options(new HashSet<>(
                req.getProgramsList()), rodata, req.getLogLevel(), pinnedMaps(req.getPinDir()), overrides));
        for (ObjectLoader.PlannedProgram p : plan.programs()) {
            authorizer.authorizeProgram(Caller.current(), "LoadObject", p.type().value,
                    p.attachType() == null ? -1 : p.attachType().value, p.progFlags(),
                    com.google.protobuf.UnsafeByteOperations.unsafeWrap(p.insns()), p.name());
        }
        ObjectLoader.Loaded loaded = ObjectLoader.load(plan);
        Caller caller = Caller.current();
        // only what this load made is undone on a failure; what it found held (borrowed) stays as it was
        List<Registry.Entry> made = new ArrayList<>();
        try {
            Map<String, Registry.Key> mapKeys = new java.util.LinkedHashMap<>();
            List<Collection.Member> mapMembers = new ArrayList<>();
            Set<Registry.Key> borrowed = new HashSet<>();
            for (var e : loaded.maps().entrySet()) {
                Registry.Entry entry = registry.add(Registry.Kind.MAP, e.getValue(), caller, labels, Set.of());
                if (entry.object() == e.getValue()) {
                    made.add(entry);
                } else {
                    borrowed.add(entry.key()); // the agent held it already: add closed our second fd of it
                }
                mapKeys.put(e.getKey(), entry.key());
                mapMembers.add(new Collection.Member(e.getKey(), spec.map(e.getKey()).map(ObjectSpec.MapDef::section)
                        .orElse(""), entry.key(), 0));
            }
            List<Collection.Member> progMembers = new ArrayList<>();
            for (var e : loaded.programs().entrySet()) {
                ObjectSpec.ProgramDef def = spec.program(e.getKey()).orElseThrow();
                Set<Registry.Key> deps = new HashSet<>();
                def.maps().forEach(m -> deps.add(mapKeys.get(m)));
                Registry.Entry entry = registry.add(Registry.Kind.PROGRAM, e.getValue(), caller, labels, deps);
                made.add(entry);
                progMembers.add(new Collection.Member(e.getKey(), def.section(), entry.key(), def.insnCount()));
            }
            Collection c = new Collection(registry.nextAgentId(), spec.name(), mapMembers, borrowed, progMembers,
                    loaded.btfLoaded(), loaded.btfError());
            Set<Registry.Key> deps = new HashSet<>(mapKeys.values());
            made.forEach(m -> deps.add(m.key()));
            Registry.Entry entry = registry.add(KIND, c, caller, labels, deps);
            made.add(entry);
            if (req.getAttach()) {
                attachAll(c, labels);
            }
            return LoadObjectResponse.newBuilder().setCollection(describe(entry))
                    .putAllVerifierLogs(loaded.verifierLogs()).build();
        } catch (RuntimeException e) {
            for (int i = made.size() - 1; i >= 0; i--) {
                if (registry.find(made.get(i).key()) != made.get(i)) {
                    continue; // closed already, with what depended on it
                }
                for (Registry.Entry gone : registry.beginClose(made.get(i).key(), true)) {
                    registry.remove(gone);
                    gone.object().close();
                }
            }
            loaded.unpinMade();
            loaded.close();
            throw e;
        }
    }

    /** Maps pinned by name under the agent's directory (pin_dir, default "maps"). */
    ObjectLoader.PinnedMaps pinnedMaps(String dir) {
        String d = dir.isEmpty() ? "maps" : dir;
        Path base = refs.pins().own(d + "/x", "pin_dir").getParent();
        return new ObjectLoader.PinnedMaps() {
            @Override
            public Optional<BpfMap> open(String name) {
                Path p = base.resolve(name);
                if (!Files.exists(p)) {
                    return Optional.empty();
                }
                return Optional.of(BpfMap.fromPinned(p.toString()));
            }

            @Override
            public void pin(String name, BpfMap map) {
                refs.pins().pin(refs.pins().own(base.resolve(name).toString(), "pin_dir"), map, "pin_dir");
            }

            @Override
            public void unpin(String name) {
                refs.pins().remove(refs.pins().own(base.resolve(name).toString(), "pin_dir"), "pin_dir");
            }
        };
    }

    dev.bpfagent.proto.v1.Collection attach(AttachCollectionRequest req) {
        Registry.Entry entry = refs.held(req.hasCollection(), req.getCollection(), KIND, "collection");
        attachAll(entry.object(Collection.class), entry.labels());
        return describe(entry);
    }

    /** Attaches every program whose section names its hook; on a failure detaches what this call made. */
    void attachAll(Collection c, Map<String, String> labels) {
        List<Registry.Entry> made = new ArrayList<>();
        try {
            for (Collection.Member p : c.programs()) {
                Optional<dev.bpfagent.agent.bpf.Hook> hook = SectionDefs.hook(p.section());
                if (hook.isEmpty() || registry.find(p.key()) == null) {
                    continue;
                }
                Registry.Entry prog = registry.get(p.key());
                Registry.Entry le;
                try {
                    le = links.attach(prog, hook.get(), null, labels, Set.of(p.key()));
                } catch (RuntimeException e) {
                    throw new dev.bpfagent.agent.bpf.object.ObjectLoader.StageException("attach", p.name(), e);
                }
                made.add(le);
                c.links().add(new Collection.Member(p.name(), hook.get().describe(), le.key(), 0));
            }
        } catch (RuntimeException e) {
            for (Registry.Entry l : made) {
                c.links().removeIf(m -> m.key().equals(l.key()));
                for (Registry.Entry gone : registry.beginClose(l.key(), true)) {
                    registry.remove(gone);
                    gone.object().close();
                }
            }
            throw e;
        }
    }

    dev.bpfagent.proto.v1.Collection describe(Registry.Entry e) {
        Collection c = e.object(Collection.class);
        var b = dev.bpfagent.proto.v1.Collection.newBuilder().setId(c.id()).setName(c.name())
                .setBtfLoaded(c.btfLoaded()).setBtfError(c.btfError())
                .setAgent(ProtoConvert.agentView(e, registry.dependents(e.key())));
        c.maps().forEach(m -> b.addMaps(CollectionMap.newBuilder().setName(m.name()).setMapId(m.key().id())
                .setBorrowed(c.borrowed(m.key()))));
        c.programs().forEach(p -> b.addPrograms(CollectionProgram.newBuilder().setName(p.name())
                .setSection(p.section()).setProgramId(p.key().id()).setLoadedInsnCnt(p.loadedInsns())));
        c.links().stream().filter(l -> registry.find(l.key()) != null).forEach(l -> b.addLinks(CollectionLink
                .newBuilder().setProgram(l.name()).setLinkId(l.key().id()).setHook(l.section())));
        return b.build();
    }

    dev.bpfagent.proto.v1.Collection get(GetCollectionRequest req) {
        return describe(refs.held(req.hasCollection(), req.getCollection(), KIND, "collection"));
    }

    ListCollectionsResponse list(ListCollectionsRequest req) {
        Listing.Query q = Listing.query(req.getPageSize(), req.getPageToken(), false, req.getLabelsMap(),
                OwnerFilter.getDefaultInstance(), refs::visible);
        Listing.Page<dev.bpfagent.proto.v1.Collection> page = Listing.page(registry, KIND, q,
                id -> OptionalInt.empty(), e -> Optional.of(describe(e)), id -> Optional.empty(), c -> true);
        return ListCollectionsResponse.newBuilder().addAllCollections(page.items())
                .setNextPageToken(page.nextPageToken()).build();
    }

    /** The collection, then (unless kept) its programs with their links, then its maps, each unless still needed. */
    CloseCollectionResponse close(CloseCollectionRequest req) {
        Registry.Entry entry = refs.held(req.hasCollection(), req.getCollection(), KIND, "collection");
        Collection c = entry.object(Collection.class);
        var out = CloseCollectionResponse.newBuilder();
        out.addAllClosed(Closer.close(registry, refs.pins(), entry, false, false, "collection").closed());
        if (req.getKeepMembers()) {
            return out.build();
        }
        List<Registry.Key> members = new ArrayList<>();
        c.programs().forEach(p -> members.add(p.key()));
        c.maps().stream().filter(m -> !c.borrowed(m.key())).forEach(m -> members.add(m.key()));
        for (Registry.Key k : members) {
            Registry.Entry m = registry.find(k);
            if (m == null) {
                continue; // gone already (a chain closed the program, or it went with one of ours)
            }
            if (registry.dependents(k).stream().anyMatch(d -> d.kind() != Registry.Kind.LINK)) {
                m.release(); // still needed by something else: closed with the last thing that uses it
                continue;
            }
            out.addAllClosed(Closer.close(registry, refs.pins(), m, false, false, "collection").closed());
        }
        return out.build();
    }
}
