package dev.bpfagent.agent.service;

import dev.bpfagent.agent.bpf.BpfMap;
import dev.bpfagent.agent.bpf.Link;
import dev.bpfagent.agent.bpf.ObjectKind;
import dev.bpfagent.agent.bpf.Pins;
import dev.bpfagent.agent.bpf.Program;
import dev.bpfagent.agent.bpf.WrongKindException;
import dev.bpfagent.agent.errno.KernelException;
import dev.bpfagent.agent.service.auth.Caller;
import dev.bpfagent.agent.service.errors.RequestException;
import dev.bpfagent.agent.service.state.PinPaths;
import dev.bpfagent.agent.service.state.PinRecords;
import dev.bpfagent.agent.service.state.Registry;
import dev.bpfagent.proto.v1.GetPinnedRequest;
import dev.bpfagent.proto.v1.GetPinnedResponse;
import dev.bpfagent.proto.v1.PinRequest;
import dev.bpfagent.proto.v1.PinResponse;
import dev.bpfagent.proto.v1.UnpinRequest;
import dev.bpfagent.proto.v1.UnpinResponse;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.logging.Logger;

/** Pins of every kind of object: pin, unpin, open a pin, and at start adopt the agent's old pins. */
final class PinHandler {
    private static final Logger LOG = Logger.getLogger(PinHandler.class.getName());

    private final Registry registry;
    private final Refs refs;
    private final PinPaths pins;
    private final ProgramHandler programs;

    private final MapHandler maps;
    private final LinkHandler links;

    PinHandler(Registry registry, Refs refs, ProgramHandler programs, MapHandler maps, LinkHandler links) {
        this.links = links;
        this.maps = maps;
        this.registry = registry;
        this.refs = refs;
        this.pins = refs.pins();
        this.programs = programs;
    }

    PinResponse pin(PinRequest req) {
        Refs.require(req.hasObject(), req.getObject(), "object");
        Registry.Kind kind = kindOf(req.getObject().getKind(), "object.kind");
        if (req.getObject().getKind() == dev.bpfagent.proto.v1.ObjectKind.OBJECT_KIND_UNSPECIFIED
                && req.getObject().getRefCase() == dev.bpfagent.proto.v1.ObjectRef.RefCase.PATH) {
            // by one of its pins: whatever the agent holds there
            Registry.Entry there = registry.byPin(pins.any(req.getObject().getPath(), "object.path"));
            if (there != null) {
                kind = there.key().kind();
            }
        }
        Registry.Entry entry = refs.held(true, req.getObject(), kind, "object");
        Path path = pins.own(req.getPath(), "path");
        entry.pinWhileOpen(path, () -> pins.pin(path, entry.object(), "path"));
        return PinResponse.newBuilder().setPath(path.toString()).setObject(ProtoConvert.ref(entry.key())).build();
    }

    /** The kind a request names; unspecified, by id, means a program (ids of each kind are separate). */
    private static Registry.Kind kindOf(dev.bpfagent.proto.v1.ObjectKind k, String field) {
        return switch (k) {
            case OBJECT_KIND_UNSPECIFIED, OBJECT_KIND_PROGRAM -> Registry.Kind.PROGRAM;
            case OBJECT_KIND_MAP -> Registry.Kind.MAP;
            case OBJECT_KIND_LINK -> Registry.Kind.LINK;
            case UNRECOGNIZED -> throw RequestException.invalid(field, "unknown object kind number");
            case OBJECT_KIND_CHAIN -> throw RequestException.invalid(field, "a chain is the agent's, not the kernel's,"
                    + " and has no pin: pin its prog array (Chain.prog_array_id, kind MAP) and its programs; a pinned"
                    + " prog array keeps its entries after the agent lets go");
            case OBJECT_KIND_COLLECTION -> throw RequestException.invalid(field, "a collection is the agent's, not the"
                    + " kernel's, and has no pin: pin its maps and programs (Collection.maps, .programs)");
        };
    }

    UnpinResponse unpin(UnpinRequest req) {
        Path path = pins.own(req.getPath(), "path");
        if (req.getExpectedKind() == dev.bpfagent.proto.v1.ObjectKind.UNRECOGNIZED) {
            throw RequestException.invalid("expected_kind", "unknown object kind number");
        }
        Registry.Entry holder = registry.byPin(path);
        if (req.getExpectedKind() != dev.bpfagent.proto.v1.ObjectKind.OBJECT_KIND_UNSPECIFIED && Files.exists(path)
                && !Files.isDirectory(path)) {
            ObjectKind actual = holder != null ? ObjectKind.PROGRAM : Pins.kindAt(path.toString());
            ObjectKind expected = bpfKind(req.getExpectedKind());
            if (actual != expected) {
                throw new WrongKindException(path.toString(), expected, actual);
            }
        }
        if (!pins.remove(path, "path")) {
            throw RequestException.notFound("PIN_NOT_FOUND", "nothing is pinned at " + path);
        }
        UnpinResponse.Builder out = UnpinResponse.newBuilder().setPath(path.toString());
        if (holder != null) {
            holder.forgetPin(path);
            out.setObject(ProtoConvert.ref(holder.key()));
        }
        return out.build();
    }

    /** The kernel object kind a pin of this requested kind holds (chains are not kernel objects: none). */
    private static ObjectKind bpfKind(dev.bpfagent.proto.v1.ObjectKind k) {
        return switch (k) {
            case OBJECT_KIND_MAP -> ObjectKind.MAP;
            case OBJECT_KIND_LINK -> ObjectKind.LINK;
            case OBJECT_KIND_PROGRAM -> ObjectKind.PROGRAM;
            default -> ObjectKind.OTHER;
        };
    }

    GetPinnedResponse getPinned(GetPinnedRequest req) {
        Path path = pins.any(req.getPath(), "path");
        Registry.Kind kind = kindOf(req.getExpectedKind(), "expected_kind");
        boolean anyKind = req.getExpectedKind() == dev.bpfagent.proto.v1.ObjectKind.OBJECT_KIND_UNSPECIFIED;
        if (kind == Registry.Kind.MAP || (anyKind && !Files.isDirectory(path) && Files.exists(path)
                && Pins.kindAt(path.toString()) == ObjectKind.MAP)) {
            BpfMap m;
            try {
                m = BpfMap.fromPinned(path.toString());
            } catch (KernelException.NotFound e) {
                throw RequestException.notFound("PIN_NOT_FOUND", "nothing is pinned at " + path);
            }
            Registry.Entry entry = registry.add(Registry.Kind.MAP, m, Caller.current(), Map.of(), Set.of());
            entry.addReference(Caller.current()); // held already by another: a reference of its own
            if (path.startsWith(pins.root())) {
                entry.recordPin(path);
            }
            return GetPinnedResponse.newBuilder().setMap(maps.describe(entry)).build();
        }
        if (kind == Registry.Kind.LINK || (anyKind && !Files.isDirectory(path) && Files.exists(path)
                && Pins.kindAt(path.toString()) == ObjectKind.LINK)) {
            Link l;
            try {
                l = Link.fromPinned(path.toString());
            } catch (KernelException.NotFound e) {
                throw RequestException.notFound("PIN_NOT_FOUND", "nothing is pinned at " + path);
            }
            Registry.Entry entry = holdLink(l, Caller.current());
            entry.addReference(Caller.current()); // held already by another: a reference of its own
            if (path.startsWith(pins.root())) {
                entry.recordPin(path);
            }
            return GetPinnedResponse.newBuilder().setLink(links.describe(entry)).build();
        }
        var expect = req.getProgram();
        if (expect.getType() == dev.bpfagent.proto.v1.ProgramType.UNRECOGNIZED) {
            throw RequestException.invalid("program.type", "unknown program type number");
        }
        Program p = openPinnedProgram(path);
        try {
            if (expect.getType() != dev.bpfagent.proto.v1.ProgramType.PROGRAM_TYPE_UNSPECIFIED
                    && expect.getTypeValue() != p.type().value) {
                throw RequestException.failedPrecondition("TYPE_MISMATCH", "the program pinned at " + path + " is "
                        + p.type() + ", not " + expect.getType());
            }
            if (!expect.getName().isEmpty() && !expect.getName().equals(p.name())) {
                throw RequestException.failedPrecondition("NAME_MISMATCH", "the program pinned at " + path
                        + " is named '" + p.name() + "', not '" + expect.getName() + "'");
            }
        } catch (RuntimeException e) {
            p.close();
            throw e;
        }
        Registry.Entry entry = registry.add(kind, p, Caller.current(), Map.of(), Set.of());
        entry.addReference(Caller.current()); // held already by another: a reference of its own
        if (path.startsWith(pins.root())) {
            entry.recordPin(path);
        }
        return GetPinnedResponse.newBuilder().setProgram(programs.describe(entry, false)).build();
    }

    /** The durable record of a pin of this object, when there is one naming it. */
    private java.util.Optional<dev.bpfagent.proto.v1.PinRecord> recorded(Path pin, Registry.Kind kind, int id) {
        PinRecords r = registry.records();
        return r == null ? java.util.Optional.empty() : r.at(pin, kind, id);
    }

    /** BPF_OBJ_GET of a program pin, with the errors a caller can act on. */
    static Program openPinnedProgram(Path path) {
        if (Files.isDirectory(path)) {
            throw RequestException.failedPrecondition("IS_A_DIRECTORY", path + " is a directory, not a pin");
        }
        try {
            return Program.fromPinned(path.toString());
        } catch (KernelException.NotFound e) {
            throw RequestException.notFound("PIN_NOT_FOUND", "nothing is pinned at " + path);
        }
    }

    /**
     * At start: hold again the programs a previous agent pinned under the agent's directory, so they are
     * listed, closable by id, and their pins known. Pins of other objects are left alone, and so are
     * the applications' (under _apps, held again by the applications at their start).
     *
     * @return how many programs were adopted
     */
    int adoptPins() {
        int adopted = 0;
        List<Path> files;
        try (var walk = Files.walk(pins.root())) {
            // applications hold their own pins again, from their records
            files = walk.filter(Files::isRegularFile).filter(f -> !f.startsWith(pins.apps())).sorted().toList();
        } catch (IOException e) {
            LOG.warning("cannot walk " + pins.root() + ": " + e.getMessage());
            return 0;
        }
        List<Path> linkPins = new java.util.ArrayList<>();
        Set<Path> held = new java.util.HashSet<>();
        for (Path pin : files) {
            try {
                ObjectKind pinned = Pins.kindAt(pin.toString());
                if (pinned == ObjectKind.LINK) {
                    linkPins.add(pin); // after the programs they run
                    continue;
                }
                boolean map = pinned == ObjectKind.MAP;
                dev.bpfagent.agent.bpf.BpfObject o = map ? BpfMap.fromPinned(pin.toString())
                        : Program.fromPinned(pin.toString());
                Registry.Kind kind = map ? Registry.Kind.MAP : Registry.Kind.PROGRAM;
                var rec = recorded(pin, kind, o.id());
                var entry = registry.add(kind, o, rec.map(r -> PinRecords.fromProto(r.getOwner())).orElse(Caller.ADOPTED),
                        rec.map(r -> r.getLabelsMap()).orElse(Map.of()), Set.of());
                entry.recordPin(pin);
                held.add(pin);
                adopted++;
            } catch (RuntimeException e) {
                LOG.info("not adopting " + pin + ": " + e.getMessage());
            }
        }
        for (Path pin : linkPins) {
            try {
                Link l = Link.fromPinned(pin.toString());
                var rec = recorded(pin, Registry.Kind.LINK, l.id());
                holdLink(l, rec.map(r -> PinRecords.fromProto(r.getOwner())).orElse(Caller.ADOPTED)).recordPin(pin);
                held.add(pin);
                adopted++;
            } catch (RuntimeException e) {
                LOG.info("not adopting " + pin + ": " + e.getMessage());
            }
        }
        if (registry.records() != null) {
            registry.records().dropAllBut(held); // records of pins that are gone (a crash between unpin and record)
        }
        return adopted;
    }

    /**
     * Holds a link opened from a pin, with the program it runs (held already, or opened by id and held
     * as the link's owner's): a held link always has its program held.
     */
    private Registry.Entry holdLink(Link l, Caller owner) {
        try {
            Registry.Key progKey = new Registry.Key(Registry.Kind.PROGRAM, l.programId());
            if (registry.find(progKey) == null) {
                registry.add(Registry.Kind.PROGRAM, Program.fromId(l.programId()), owner, Map.of(), Set.of());
            }
            return registry.add(Registry.Kind.LINK, l, owner, Map.of(), Set.of(progKey));
        } catch (RuntimeException e) {
            l.close();
            throw e;
        }
    }
}
