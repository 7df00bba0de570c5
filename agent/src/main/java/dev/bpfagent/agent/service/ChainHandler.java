package dev.bpfagent.agent.service;

import dev.bpfagent.agent.bpf.BpfMap;
import dev.bpfagent.agent.bpf.MapSpec;
import dev.bpfagent.agent.bpf.MapType;
import dev.bpfagent.agent.bpf.Program;
import dev.bpfagent.agent.service.auth.Caller;
import dev.bpfagent.agent.service.errors.RequestException;
import dev.bpfagent.agent.service.state.Chain;
import dev.bpfagent.agent.service.state.Labels;
import dev.bpfagent.agent.service.state.Registry;
import dev.bpfagent.proto.v1.ChainEntry;
import dev.bpfagent.proto.v1.ChainSlot;
import dev.bpfagent.proto.v1.ClearChainEntryRequest;
import dev.bpfagent.proto.v1.CloseChainRequest;
import dev.bpfagent.proto.v1.CloseChainResponse;
import dev.bpfagent.proto.v1.CreateChainRequest;
import dev.bpfagent.proto.v1.GetChainRequest;
import dev.bpfagent.proto.v1.ListChainsRequest;
import dev.bpfagent.proto.v1.ListChainsResponse;
import dev.bpfagent.proto.v1.ObjectRef;
import dev.bpfagent.proto.v1.OwnerFilter;
import dev.bpfagent.proto.v1.SetChainEntryRequest;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Tail-call chains: a prog array the chain creates (held in the registry as a map, so programs can
 * name it in their loads) and the programs at its indices. The chain depends on its prog array and
 * on every program in it, so those cannot be closed from under it.
 */
final class ChainHandler {
    static final Registry.Kind KIND = Registry.Kind.CHAIN;
    static final int DEFAULT_ENTRIES = 32;
    static final int MAX_ENTRIES = 65_536;
    private static final Pattern MAP_NAME = Pattern.compile("[A-Za-z0-9_.]{1,15}");

    private final Registry registry;
    private final Refs refs;
    private final MapHandler maps;

    ChainHandler(Registry registry, Refs refs, MapHandler maps) {
        this.registry = registry;
        this.refs = refs;
        this.maps = maps;
    }

    dev.bpfagent.proto.v1.Chain create(CreateChainRequest req) {
        if (req.getName().length() > 63 || req.getName().chars().anyMatch(Character::isISOControl)) {
            throw RequestException.invalid("name", "at most 63 characters, no control characters");
        }
        Map<String, String> labels = Labels.check(req.getLabelsMap(), "labels");
        int max = req.getMaxEntries() == 0 ? DEFAULT_ENTRIES : req.getMaxEntries();
        if (max < 0 || max > MAX_ENTRIES) {
            throw RequestException.invalid("max_entries", Integer.toUnsignedString(req.getMaxEntries()) + " is above "
                    + MAX_ENTRIES);
        }
        // Every entry checked before anything is made: nothing is half-created.
        Map<Integer, Registry.Entry> programs = new java.util.TreeMap<>();
        for (int i = 0; i < req.getEntriesCount(); i++) {
            ChainEntry e = req.getEntries(i);
            String field = "entries[" + i + "]";
            checkIndex(e.getIndex(), max, field + ".index");
            if (programs.containsKey(e.getIndex())) {
                throw RequestException.invalid(field + ".index", "index " + e.getIndex() + " is given twice");
            }
            programs.put(e.getIndex(), refs.held(e.hasProgram(), e.getProgram(), Registry.Kind.PROGRAM,
                    field + ".program"));
        }
        String mapName = MAP_NAME.matcher(req.getName()).matches() ? req.getName() : "";
        BpfMap array = BpfMap.create(MapSpec.builder(MapType.PROG_ARRAY, 4, 4, max).name(mapName).build());
        Registry.Entry arrayEntry = registry.add(Registry.Kind.MAP, array, Caller.current(), labels, Set.of());
        Chain chain = new Chain(registry.nextAgentId(), req.getName(), arrayEntry.key(), max);
        try {
            for (var e : programs.entrySet()) {
                array.setProgram(e.getKey(), e.getValue().object(Program.class));
                chain.slotsView().put(e.getKey(), e.getValue().key().id());
            }
            Set<Registry.Key> deps = new HashSet<>();
            deps.add(arrayEntry.key());
            programs.values().forEach(p -> deps.add(p.key()));
            Registry.Entry entry = registry.add(KIND, chain, Caller.current(), labels, deps);
            return describe(entry);
        } catch (RuntimeException e) {
            // the prog array was made for this chain: it goes with the failure
            for (Registry.Entry made : registry.beginClose(arrayEntry.key(), false)) {
                registry.remove(made);
                made.object().close();
            }
            throw e;
        }
    }

    private static void checkIndex(int index, int max, String field) {
        if (index < 0 || index >= max) {
            throw RequestException.invalid(field, Integer.toUnsignedString(index) + " is outside the chain's 0.."
                    + (max - 1));
        }
    }

    dev.bpfagent.proto.v1.Chain describe(Registry.Entry e) {
        Chain c = e.object(Chain.class);
        var b = dev.bpfagent.proto.v1.Chain.newBuilder().setId(c.id()).setName(c.name())
                .setProgArrayId(c.progArray().id()).setMaxEntries(c.maxEntries())
                .setAgent(ProtoConvert.agentView(e, registry.dependents(e.key())));
        c.slotsView().forEach((index, program) -> b.addSlots(ChainSlot.newBuilder().setIndex(index).setProgramId(program)));
        return b.build();
    }

    private Registry.Entry held(boolean present, ObjectRef ref) {
        return refs.held(present, ref, KIND, "chain");
    }

    dev.bpfagent.proto.v1.Chain get(GetChainRequest req) {
        return describe(held(req.hasChain(), req.getChain()));
    }

    ListChainsResponse list(ListChainsRequest req) {
        Listing.Query q = Listing.query(req.getPageSize(), req.getPageToken(), false, req.getLabelsMap(),
                OwnerFilter.getDefaultInstance(), refs::visible);
        Listing.Page<dev.bpfagent.proto.v1.Chain> page = Listing.page(registry, KIND, q, id -> OptionalInt.empty(),
                e -> Optional.of(describe(e)), id -> Optional.empty(), c -> true);
        return ListChainsResponse.newBuilder().addAllChains(page.items()).setNextPageToken(page.nextPageToken()).build();
    }

    dev.bpfagent.proto.v1.Chain set(SetChainEntryRequest req) {
        Registry.Entry entry = held(req.hasChain(), req.getChain());
        Chain chain = entry.object(Chain.class);
        checkIndex(req.getIndex(), chain.maxEntries(), "index");
        Registry.Entry program = refs.held(req.hasProgram(), req.getProgram(), Registry.Kind.PROGRAM, "program");
        synchronized (chain) {
            Set<Registry.Key> deps = new HashSet<>(entry.dependsOn());
            deps.add(program.key());
            registry.setDependsOn(entry, deps); // first: a program closing meanwhile fails this, not the array
            registry.get(chain.progArray()).object(BpfMap.class).setProgram(req.getIndex(), program.object(Program.class));
            Integer previous = chain.slotsView().put(req.getIndex(), program.key().id());
            if (previous != null && !chain.slotsView().containsValue(previous)) {
                deps.remove(new Registry.Key(Registry.Kind.PROGRAM, previous));
                registry.setDependsOn(entry, deps);
            }
        }
        return describe(entry);
    }

    dev.bpfagent.proto.v1.Chain clear(ClearChainEntryRequest req) {
        Registry.Entry entry = held(req.hasChain(), req.getChain());
        Chain chain = entry.object(Chain.class);
        checkIndex(req.getIndex(), chain.maxEntries(), "index");
        synchronized (chain) {
            registry.get(chain.progArray()).object(BpfMap.class).delete(
                    ByteBuffer.allocate(4).order(ByteOrder.nativeOrder()).putInt(req.getIndex()).array());
            Integer previous = chain.slotsView().remove(req.getIndex());
            if (previous != null && !chain.slotsView().containsValue(previous)) {
                Set<Registry.Key> deps = new HashSet<>(entry.dependsOn());
                deps.remove(new Registry.Key(Registry.Kind.PROGRAM, previous));
                registry.setDependsOn(entry, deps);
            }
        }
        return describe(entry);
    }

    /**
     * The chain first (nothing depends on a chain); then, unless kept, its programs and its prog array,
     * each only when nothing else the agent holds still needs it (another chain, a program that names
     * the array).
     */
    CloseChainResponse close(CloseChainRequest req) {
        Registry.Entry entry = held(req.hasChain(), req.getChain());
        Chain chain = entry.object(Chain.class);
        CloseChainResponse.Builder out = CloseChainResponse.newBuilder();
        var closed = Closer.close(registry, refs.pins(), entry, false, false, "chain");
        out.addAllClosed(closed.closed());
        if (req.getKeepPrograms()) {
            return out.build();
        }
        List<Registry.Key> members = new java.util.ArrayList<>();
        chain.slotsView().values().stream().distinct()
                .forEach(id -> members.add(new Registry.Key(Registry.Kind.PROGRAM, id)));
        members.add(chain.progArray());
        for (Registry.Key k : members) {
            Registry.Entry m = registry.find(k);
            if (m == null) {
                continue; // gone already
            }
            if (!registry.dependents(k).isEmpty()) {
                m.release(); // still needed (a collection's program): closed with the last thing that uses it
                continue;
            }
            out.addAllClosed(Closer.close(registry, refs.pins(), m, false, false, "chain").closed());
        }
        return out.build();
    }
}
