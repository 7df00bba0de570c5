package dev.bpfagent.agent.service;

import com.google.protobuf.ByteString;
import dev.bpfagent.agent.bpf.BpfMap;
import dev.bpfagent.agent.bpf.InvalidSpecException;
import dev.bpfagent.agent.bpf.KernelObjects;
import dev.bpfagent.agent.bpf.MapBatch;
import dev.bpfagent.agent.bpf.MapSpec;
import dev.bpfagent.agent.bpf.Program;
import dev.bpfagent.agent.errno.KernelException;
import dev.bpfagent.agent.service.auth.Caller;
import dev.bpfagent.agent.service.errors.RequestException;
import dev.bpfagent.agent.service.state.Labels;
import dev.bpfagent.agent.service.state.Registry;
import dev.bpfagent.proto.v1.*;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/** The map resource: create, get, list, close, and element calls. */
final class MapHandler {
    static final Registry.Kind KIND = Registry.Kind.MAP;
    static final int DEFAULT_DUMP_PAGE = 1000;
    static final int MAX_DUMP_PAGE = 100_000;

    private final Registry registry;
    private final Refs refs;

    MapHandler(Registry registry, Refs refs) {
        this.registry = registry;
        this.refs = refs;
    }

    dev.bpfagent.proto.v1.Map create(CreateMapRequest req) {
        Map<String, String> labels = Labels.check(req.getLabelsMap(), "labels");
        Set<Registry.Key> dependsOn = Set.of();
        BpfMap inner = null;
        if (req.hasInnerMap()) {
            Registry.Entry e = refs.held(true, req.getInnerMap(), KIND, "inner_map");
            inner = e.object(BpfMap.class);
        }
        if (req.getType() == dev.bpfagent.proto.v1.MapType.UNRECOGNIZED) {
            throw RequestException.invalid("type", "unknown map type number");
        }
        var type = dev.bpfagent.agent.bpf.MapType.of(req.getTypeValue()).orElseThrow(
                () -> RequestException.invalid("type", "map type " + req.getType() + " is not known to this agent"));
        MapSpec spec = MapSpec.builder(type, req.getKeySize(), req.getValueSize(), req.getMaxEntries())
                .flags(req.getFlags()).name(req.getName()).numaNode(req.hasNumaNode() ? req.getNumaNode() : -1)
                .innerMap(inner).mapExtra(req.getMapExtra())
                .btf(req.hasBtf() ? new MapSpec.Btf(req.getBtf().getBtf().toByteArray(), req.getBtf().getKeyTypeId(),
                        req.getBtf().getValueTypeId()) : MapSpec.Btf.NONE)
                .build();
        BpfMap map = BpfMap.create(spec);
        Registry.Entry entry = registry.add(KIND, map, Caller.current(), labels, dependsOn);
        return describe(entry);
    }

    dev.bpfagent.proto.v1.Map describe(Registry.Entry e) {
        BpfMap m = e.object(BpfMap.class);
        return ProtoConvert.map(m.info(), m.valuesPerKey(), e, registry.dependents(e.key()));
    }

    dev.bpfagent.proto.v1.Map get(GetMapRequest req) {
        Refs.require(req.hasMap(), req.getMap(), "map");
        ObjectRef ref = req.getMap();
        Refs.checkKind(ref, KIND, "map");
        if (ref.getRefCase() == ObjectRef.RefCase.PATH) {
            return describe(refs.held(true, ref, KIND, "map"));
        }
        int id = Refs.id(ref, "map");
        Registry.Entry e = registry.find(new Registry.Key(KIND, id));
        if (e != null) {
            return describe(e);
        }
        try (BpfMap m = BpfMap.fromId(id)) {
            return ProtoConvert.map(m.info(), m.valuesPerKey(), null, List.of());
        } catch (KernelException.NotFound nf) {
            throw RequestException.notFound("MAP_NOT_FOUND", "the kernel has no map with id " + Integer.toUnsignedString(id));
        }
    }

    ListMapsResponse list(ListMapsRequest req) {
        Listing.Query q = Listing.query(req.getPageSize(), req.getPageToken(), req.getIncludeKernel(),
                req.getLabelsMap(), req.getOwner(), refs::visible);
        if (req.getType() == dev.bpfagent.proto.v1.MapType.UNRECOGNIZED) {
            throw RequestException.invalid("type", "unknown map type number");
        }
        int type = req.getTypeValue();
        Listing.Page<dev.bpfagent.proto.v1.Map> page = Listing.page(registry, KIND, q, KernelObjects::nextMapId,
                this::describeIfOpen, MapHandler::kernelMap,
                m -> type == 0 || m.getKernel().getTypeValue() == type);
        return ListMapsResponse.newBuilder().addAllMaps(page.items()).setNextPageToken(page.nextPageToken()).build();
    }

    /** A held map's description, or empty when it was closed while the list ran. */
    private Optional<dev.bpfagent.proto.v1.Map> describeIfOpen(Registry.Entry e) {
        try {
            return Optional.of(describe(e));
        } catch (KernelException.Closed | KernelException.NotFound gone) {
            return Optional.empty();
        }
    }

    private static Optional<dev.bpfagent.proto.v1.Map> kernelMap(int id) {
        try (BpfMap m = BpfMap.fromId(id)) {
            return Optional.of(ProtoConvert.map(m.info(), m.valuesPerKey(), null, List.of()));
        } catch (KernelException.NotFound gone) {
            return Optional.empty();
        }
    }

    CloseMapResponse close(CloseMapRequest req) {
        Registry.Entry target = refs.held(req.hasMap(), req.getMap(), KIND, "map");
        var closed = Closer.close(registry, refs.pins(), target, req.getCascade(), req.getKeepPins(), "map");
        return CloseMapResponse.newBuilder().addAllUnpinnedPaths(closed.unpinned()).addAllClosed(closed.closed()).build();
    }

    private BpfMap held(boolean present, ObjectRef ref) {
        return refs.held(present, ref, KIND, "map").object(BpfMap.class);
    }

    private static byte[] key(BpfMap m, ByteString key) {
        return m.hasKeys() ? key.toByteArray() : null;
    }

    LookupMapElemResponse lookup(LookupMapElemRequest req) {
        BpfMap m = held(req.hasMap(), req.getMap());
        if (m.type() == dev.bpfagent.agent.bpf.MapType.BLOOM_FILTER) {
            byte[] value = req.getValue().toByteArray();
            return LookupMapElemResponse.newBuilder().setFound(spec(() -> m.mayContain(value))).build();
        }
        if (!req.getValue().isEmpty()) {
            throw RequestException.invalid("value", "is only given to test a bloom filter; this is a " + m.type()
                    + " map");
        }
        return found(m, spec(() -> m.lookup(key(m, req.getKey()))));
    }

    LookupMapElemResponse lookupAndDelete(LookupAndDeleteMapElemRequest req) {
        BpfMap m = held(req.hasMap(), req.getMap());
        return found(m, spec(() -> m.lookupAndDelete(key(m, req.getKey()))));
    }

    private static LookupMapElemResponse found(BpfMap m, Optional<byte[]> value) {
        LookupMapElemResponse.Builder b = LookupMapElemResponse.newBuilder().setFound(value.isPresent());
        value.ifPresent(v -> {
            if (m.type().isPerCpu()) { // per CPU even on a one-CPU host
                m.perCpu(v).forEach(c -> b.addPerCpuValues(ByteString.copyFrom(c)));
            } else {
                b.setValue(ByteString.copyFrom(v));
            }
        });
        return b.build();
    }

    UpdateMapElemResponse update(UpdateMapElemRequest req) {
        BpfMap m = held(req.hasMap(), req.getMap());
        if (req.getMode() == UpdateMode.UNRECOGNIZED) {
            throw RequestException.invalid("mode", "unknown update mode number");
        }
        long flags = req.getModeValue() | (req.getLock() ? BpfMap.BPF_F_LOCK : 0);
        byte[] key = key(m, req.getKey());
        if (m.carriesRedirectPrograms()) {
            if (req.getValue().size() != 8) {
                throw RequestException.invalid("value", req.getValue().size() + " bytes; this " + m.type() + " map's"
                        + " values are 8: a u32, then the u32 id of an XDP program the agent holds (or 0)");
            }
            // devmap / cpumap: a u32 (ifindex, queue size) then the id of an XDP program the agent holds, or 0
            ByteBuffer v = ByteBuffer.wrap(req.getValue().toByteArray()).order(ByteOrder.nativeOrder());
            int first = v.getInt();
            int progId = v.getInt();
            Program prog = null;
            if (progId != 0) {
                Registry.Entry p = registry.find(new Registry.Key(Registry.Kind.PROGRAM, progId));
                if (p == null) {
                    throw RequestException.notFound("PROGRAM_NOT_HELD", "value: program "
                            + Integer.toUnsignedString(progId) + " (bytes 4-7) is not held by the agent")
                            .with("field", "value");
                }
                prog = p.object(Program.class);
            }
            Program chosen = prog;
            spec(() -> {
                m.setRedirect(key, first, chosen);
                return null;
            });
            return UpdateMapElemResponse.getDefaultInstance();
        }
        if (m.holdsPrograms() || m.holdsMaps()) {
            // The kernel takes fds here; a client names a program or map the agent holds, by id.
            if (req.getValue().size() != 4) {
                throw RequestException.invalid("value", "a " + m.type() + " map's value is the u32 id of a "
                        + (m.holdsPrograms() ? "program" : "map") + " the agent holds");
            }
            int id = ByteBuffer.wrap(req.getValue().toByteArray()).order(ByteOrder.nativeOrder()).getInt();
            if (m.holdsPrograms()) {
                Registry.Entry p = registry.find(new Registry.Key(Registry.Kind.PROGRAM, id));
                if (p == null) {
                    throw RequestException.notFound("PROGRAM_NOT_HELD", "value: program " + Integer.toUnsignedString(id)
                            + " is not held by the agent").with("field", "value");
                }
                if (key == null || key.length != 4) {
                    throw RequestException.invalid("key", "a prog array's key is a u32 index, 4 bytes");
                }
                int index = ByteBuffer.wrap(key).order(ByteOrder.nativeOrder()).getInt();
                spec(() -> {
                    m.setProgram(index, p.object(Program.class));
                    return null;
                });
            } else {
                Registry.Entry inner = registry.find(new Registry.Key(KIND, id));
                if (inner == null) {
                    throw RequestException.notFound("MAP_NOT_HELD", "value: map " + Integer.toUnsignedString(id)
                            + " is not held by the agent").with("field", "value");
                }
                spec(() -> {
                    m.setInnerMap(key, inner.object(BpfMap.class));
                    return null;
                });
            }
            return UpdateMapElemResponse.getDefaultInstance();
        }
        byte[] value;
        if (m.type().isPerCpu()) { // per CPU even on a one-CPU host
            if (req.getPerCpuValuesCount() != m.valuesPerKey()) {
                throw RequestException.invalid("per_cpu_values", req.getPerCpuValuesCount() + " values; this per-CPU"
                        + " map takes one per possible CPU: " + m.valuesPerKey());
            }
            value = spec(() -> m.joinPerCpu(req.getPerCpuValuesList().stream().map(ByteString::toByteArray).toList()));
        } else {
            value = req.getValue().toByteArray();
        }
        spec(() -> {
            m.update(key, value, flags);
            return null;
        });
        return UpdateMapElemResponse.getDefaultInstance();
    }

    DeleteMapElemResponse delete(DeleteMapElemRequest req) {
        BpfMap m = held(req.hasMap(), req.getMap());
        return DeleteMapElemResponse.newBuilder().setDeleted(spec(() -> m.delete(key(m, req.getKey())))).build();
    }

    GetNextMapKeyResponse nextKey(GetNextMapKeyRequest req) {
        BpfMap m = held(req.hasMap(), req.getMap());
        Optional<byte[]> next = spec(() -> m.nextKey(req.hasKey() ? req.getKey().toByteArray() : null));
        return GetNextMapKeyResponse.newBuilder().setFound(next.isPresent())
                .setNextKey(next.map(ByteString::copyFrom).orElse(ByteString.EMPTY)).build();
    }

    DumpMapResponse dump(DumpMapRequest req) {
        BpfMap m = held(req.hasMap(), req.getMap());
        int size = req.getPageSize() == 0 ? DEFAULT_DUMP_PAGE : req.getPageSize();
        if (size < 0 || size > MAX_DUMP_PAGE) {
            throw RequestException.invalid("page_size", Integer.toUnsignedString(req.getPageSize()) + " is above "
                    + MAX_DUMP_PAGE + " entries a page");
        }
        MapBatch page = spec(() -> m.page(req.getPageToken().isEmpty() ? null : req.getPageToken().toByteArray(), size));
        DumpMapResponse.Builder out = DumpMapResponse.newBuilder();
        if (!page.done()) {
            out.setNextPageToken(ByteString.copyFrom(page.position()));
        }
        if (req.getPacked()) {
            return out.setPackedKeys(ByteString.copyFrom(page.packedKeys()))
                    .setPackedValues(ByteString.copyFrom(page.packedValues())).setCount(page.count()).build();
        }
        List<byte[]> keys = page.keys();
        List<byte[]> values = page.values();
        for (int i = 0; i < page.count(); i++) {
            MapEntry.Builder e = MapEntry.newBuilder().setKey(ByteString.copyFrom(keys.get(i)));
            byte[] v = values.get(i);
            if (m.type().isPerCpu()) { // per CPU even on a one-CPU host
                m.perCpu(v).forEach(c -> e.addPerCpuValues(ByteString.copyFrom(c)));
            } else {
                e.setValue(ByteString.copyFrom(v));
            }
            out.addEntries(e);
        }
        return out.build();
    }

    /** The most entries one batch call takes (each a message field: the request stays well inside 64 MiB). */
    static final int MAX_BATCH = 100_000;

    UpdateMapBatchResponse updateBatch(UpdateMapBatchRequest req) {
        BpfMap m = held(req.hasMap(), req.getMap());
        if (m.holdsPrograms() || m.holdsMaps() || m.carriesRedirectPrograms()) {
            throw RequestException.invalid("map", "a " + m.type() + " map's values are objects the agent holds: use"
                    + " UpdateMapElem, one entry at a time");
        }
        if (req.getMode() == UpdateMode.UNRECOGNIZED) {
            throw RequestException.invalid("mode", "unknown update mode number");
        }
        if (req.getEntriesCount() > MAX_BATCH) {
            throw RequestException.invalid("entries", req.getEntriesCount() + " entries; at most " + MAX_BATCH
                    + " a call");
        }
        List<byte[]> keys = new java.util.ArrayList<>(req.getEntriesCount());
        List<byte[]> values = new java.util.ArrayList<>(req.getEntriesCount());
        for (int i = 0; i < req.getEntriesCount(); i++) {
            MapEntry e = req.getEntries(i);
            keys.add(e.getKey().toByteArray());
            if (m.type().isPerCpu()) { // per CPU even on a one-CPU host
                if (e.getPerCpuValuesCount() != m.valuesPerKey()) {
                    throw RequestException.invalid("entries[" + i + "].per_cpu_values", e.getPerCpuValuesCount()
                            + " values; this per-CPU map takes " + m.valuesPerKey());
                }
                values.add(spec(() -> m.joinPerCpu(e.getPerCpuValuesList().stream().map(ByteString::toByteArray).toList())));
            } else {
                values.add(e.getValue().toByteArray());
            }
        }
        int n = spec(() -> m.updateAll(keys, values, req.getModeValue()));
        return UpdateMapBatchResponse.newBuilder().setCount(n).build();
    }

    DeleteMapBatchResponse deleteBatch(DeleteMapBatchRequest req) {
        BpfMap m = held(req.hasMap(), req.getMap());
        if (req.getKeysCount() > MAX_BATCH) {
            throw RequestException.invalid("keys", req.getKeysCount() + " keys; at most " + MAX_BATCH + " a call");
        }
        List<byte[]> keys = req.getKeysList().stream().map(ByteString::toByteArray).toList();
        return DeleteMapBatchResponse.newBuilder().setDeleted(spec(() -> m.deleteAll(keys))).build();
    }

    ReadRingBufferResponse readRingBuffer(ReadRingBufferRequest req) {
        BpfMap m = held(req.hasMap(), req.getMap());
        int max = req.getMaxRecords() == 0 ? 1000 : req.getMaxRecords();
        if (max < 0 || max > MAX_BATCH) {
            throw RequestException.invalid("max_records", Integer.toUnsignedString(req.getMaxRecords()) + " is above "
                    + MAX_BATCH);
        }
        List<byte[]> records = spec(() -> m.readRingBuffer(max));
        ReadRingBufferResponse.Builder out = ReadRingBufferResponse.newBuilder();
        records.forEach(r -> out.addRecords(ByteString.copyFrom(r)));
        return out.build();
    }

    FreezeMapResponse freeze(FreezeMapRequest req) {
        BpfMap m = held(req.hasMap(), req.getMap());
        m.freeze();
        return FreezeMapResponse.getDefaultInstance();
    }

    /**
     * Runs a bpf-layer call whose argument checks name the map call's fields ("key", "value"); the
     * kernel's answers keep their errno (ALREADY_EXISTS for BPF_NOEXIST on a present key, ...).
     */
    private static <T> T spec(java.util.function.Supplier<T> call) {
        try {
            return call.get();
        } catch (InvalidSpecException e) {
            throw RequestException.invalid(e.field(), e.getMessage().substring(e.field().length() + 2));
        }
    }
}
