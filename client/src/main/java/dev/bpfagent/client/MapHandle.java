package dev.bpfagent.client;

import com.google.protobuf.ByteString;
import dev.bpfagent.proto.v1.*;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * A map the agent holds on this client's behalf. Keys and values are the kernel's bytes
 * ({@link MapCodec} converts integers and structs). {@link #close()} asks the agent to close it.
 */
public final class MapHandle extends AgentHandle {
    private final BpfClient client;
    private final dev.bpfagent.proto.v1.Map map;

    MapHandle(BpfClient client, dev.bpfagent.proto.v1.Map map) {
        this.client = client;
        this.map = map;
    }

    /** The kernel's map id: names it in every call, and in a program load's maps. */
    public int id() {
        return map.getId();
    }

    public MapType type() {
        return map.getKernel().getType();
    }

    /** The map as the agent described it when the handle was made. */
    public dev.bpfagent.proto.v1.Map map() {
        return map;
    }

    /**
     * This map through codecs (e.g. {@code typed(MapCodec.U32, MapCodec.U64)}): get, put, delete by
     * typed keys and values, and a lazy walk over every entry. Not for per-CPU maps (lookupPerCpu).
     */
    public <K, V> TypedMap<K, V> typed(MapCodec.Codec<K> keys, MapCodec.Codec<V> values) {
        return new TypedMap<>(this, keys, values);
    }

    BpfClient client() {
        return client;
    }

    ObjectRef ref() {
        return ObjectRef.newBuilder().setKind(ObjectKind.OBJECT_KIND_MAP).setId(id()).build();
    }

    /** The value at key, or empty. Per-CPU maps: use {@link #lookupPerCpu}. */
    public Optional<byte[]> lookup(byte[] key) {
        LookupMapElemResponse r = client.lookupMapElem(LookupMapElemRequest.newBuilder().setMap(ref())
                .setKey(ByteString.copyFrom(key)).build());
        return r.getFound() ? Optional.of(r.getValue().toByteArray()) : Optional.empty();
    }

    /** A per-CPU map's values at key, one per possible CPU, or empty. */
    public Optional<List<byte[]>> lookupPerCpu(byte[] key) {
        LookupMapElemResponse r = client.lookupMapElem(LookupMapElemRequest.newBuilder().setMap(ref())
                .setKey(ByteString.copyFrom(key)).build());
        return r.getFound() ? Optional.of(r.getPerCpuValuesList().stream().map(ByteString::toByteArray).toList())
                : Optional.empty();
    }

    /** Creates or replaces the value at key. */
    public void put(byte[] key, byte[] value) {
        update(key, value, UpdateMode.UPDATE_MODE_ANY);
    }

    public void update(byte[] key, byte[] value, UpdateMode mode) {
        client.updateMapElem(UpdateMapElemRequest.newBuilder().setMap(ref()).setKey(ByteString.copyFrom(key))
                .setValue(ByteString.copyFrom(value)).setMode(mode).build());
    }

    /** Writes many entries in one call; returns how many were written. */
    public int putAll(List<byte[]> keys, List<byte[]> values) {
        if (keys.size() != values.size()) {
            throw new IllegalArgumentException(keys.size() + " keys and " + values.size() + " values");
        }
        UpdateMapBatchRequest.Builder b = UpdateMapBatchRequest.newBuilder().setMap(ref());
        for (int i = 0; i < keys.size(); i++) {
            b.addEntries(MapEntry.newBuilder().setKey(ByteString.copyFrom(keys.get(i)))
                    .setValue(ByteString.copyFrom(values.get(i))));
        }
        return client.updateMapBatch(b.build()).getCount();
    }

    /** Deletes many keys in one call; returns how many were there. */
    public int deleteAll(List<byte[]> keys) {
        DeleteMapBatchRequest.Builder b = DeleteMapBatchRequest.newBuilder().setMap(ref());
        keys.forEach(k -> b.addKeys(ByteString.copyFrom(k)));
        return client.deleteMapBatch(b.build()).getDeleted();
    }

    /** A ring buffer's records written so far (up to max, 0: the agent's default), oldest first; consumed. */
    /** A live subscription to this ring buffer's or perf event array's records, with the agent's defaults. */
    public EventStream subscribe() {
        return client.subscribe(SubscribeOptions.map(this));
    }

    public List<byte[]> readRingBuffer(int max) {
        return client.readRingBuffer(ReadRingBufferRequest.newBuilder().setMap(ref()).setMaxRecords(max).build())
                .getRecordsList().stream().map(ByteString::toByteArray).toList();
    }

    /**
     * A bloom filter's test: true when value may have been pushed (false positives happen), false when it
     * surely was not.
     */
    public boolean mayContain(byte[] value) {
        return client.lookupMapElem(LookupMapElemRequest.newBuilder().setMap(ref())
                .setValue(ByteString.copyFrom(value)).build()).getFound();
    }

    /** Pushes onto a queue or stack, or adds a value to a bloom filter. */
    public void push(byte[] value) {
        update(new byte[0], value, UpdateMode.UPDATE_MODE_ANY);
    }

    /** Pops a queue or stack, or empty when it is empty. */
    public Optional<byte[]> pop() {
        LookupMapElemResponse r = client.lookupAndDeleteMapElem(LookupAndDeleteMapElemRequest.newBuilder()
                .setMap(ref()).build());
        return r.getFound() ? Optional.of(r.getValue().toByteArray()) : Optional.empty();
    }

    /** False when the key was not there. */
    public boolean delete(byte[] key) {
        return client.deleteMapElem(DeleteMapElemRequest.newBuilder().setMap(ref()).setKey(ByteString.copyFrom(key))
                .build()).getDeleted();
    }

    /** The key after key (the first when key is null), or empty at the end. */
    public Optional<byte[]> nextKey(byte[] key) {
        GetNextMapKeyRequest.Builder b = GetNextMapKeyRequest.newBuilder().setMap(ref());
        if (key != null) {
            b.setKey(ByteString.copyFrom(key));
        }
        GetNextMapKeyResponse r = client.getNextMapKey(b.build());
        return r.getFound() ? Optional.of(r.getNextKey().toByteArray()) : Optional.empty();
    }

    /** Every entry, in pages of pageSize (0: the agent's default). */
    public List<MapEntry> dump(int pageSize) {
        List<MapEntry> out = new ArrayList<>();
        ByteString token = ByteString.EMPTY;
        while (true) {
            DumpMapResponse page = client.dumpMap(DumpMapRequest.newBuilder().setMap(ref()).setPageSize(pageSize)
                    .setPageToken(token).build());
            out.addAll(page.getEntriesList());
            if (page.getNextPageToken().isEmpty()) {
                return out;
            }
            token = page.getNextPageToken();
        }
    }

    /** One page of a packed dump: count keys and values, each end to end in the kernel's layout. */
    public interface PackedPage {
        void accept(byte[] keys, byte[] values, int count);
    }

    /**
     * Every entry, in packed pages (no message per entry: the fast way for large maps); returns how
     * many entries there were. Keys are key_size bytes each; values value_size each (per-CPU maps:
     * every CPU's, each padded to a multiple of 8).
     */
    public long dumpPacked(int pageSize, PackedPage pages) {
        long n = 0;
        ByteString token = ByteString.EMPTY;
        while (true) {
            DumpMapResponse page = client.dumpMap(DumpMapRequest.newBuilder().setMap(ref()).setPageSize(pageSize)
                    .setPageToken(token).setPacked(true).build());
            pages.accept(page.getPackedKeys().toByteArray(), page.getPackedValues().toByteArray(), page.getCount());
            n += page.getCount();
            if (page.getNextPageToken().isEmpty()) {
                return n;
            }
            token = page.getNextPageToken();
        }
    }

    /** No more writes from userspace. */
    public void freeze() {
        client.freezeMap(FreezeMapRequest.newBuilder().setMap(ref()).build());
    }

    /** Pins under the agent's bpffs directory; returns the absolute path. */
    public String pin(String path) {
        return client.pin(ref(), path).getPath();
    }

    /** Closes the map and removes the agent's pins of it (see {@link #close()}). */
    @Override
    void closeInAgent() {
        client.closeMap(CloseMapRequest.newBuilder().setMap(ref()).build());
    }

    @Override
    public String toString() {
        return "MapHandle[id=" + id() + ", type=" + type() + "]";
    }
}
