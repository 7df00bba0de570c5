package dev.bpfagent.client;

import com.google.protobuf.ByteString;
import dev.bpfagent.proto.v1.DumpMapRequest;
import dev.bpfagent.proto.v1.DumpMapResponse;
import dev.bpfagent.proto.v1.UpdateMode;
import java.util.AbstractMap;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Objects;
import java.util.Optional;
import java.util.Spliterator;
import java.util.Spliterators;
import java.util.stream.Stream;
import java.util.stream.StreamSupport;

/**
 * A held map seen through codecs: keys of type K, values of type V, instead of the kernel's bytes
 * ({@link MapHandle#typed}). Reading every entry is lazy: {@link #entries(int)} fetches one packed page
 * of the dump at a time, as it is iterated, so a million-entry map is never materialised whole.
 *
 * <pre>
 *   TypedMap&lt;Integer, Long&gt; counts = bpf.map(id).typed(MapCodec.U32, MapCodec.U64);
 *   counts.put(53, 0L);
 *   for (Map.Entry&lt;Integer, Long&gt; e : counts.entries(10_000)) { ... }
 * </pre>
 */
public final class TypedMap<K, V> {
    private final MapHandle map;
    private final MapCodec.Codec<K> keys;
    private final MapCodec.Codec<V> values;
    private final int keySize;
    private final int valueSize;

    TypedMap(MapHandle map, MapCodec.Codec<K> keys, MapCodec.Codec<V> values) {
        this.map = map;
        this.keys = Objects.requireNonNull(keys, "keys");
        this.values = Objects.requireNonNull(values, "values");
        var k = map.map().getKernel();
        if (k.getValuesPerKey() > 1 || k.getType().name().contains("PERCPU")) {
            throw new IllegalArgumentException("map " + map.id() + " is a per-CPU map (" + k.getValuesPerKey()
                    + " values a key): read it with MapHandle.lookupPerCpu");
        }
        this.keySize = k.getKeySize();
        this.valueSize = k.getValueSize();
    }

    /** The map underneath, for everything in bytes. */
    public MapHandle handle() {
        return map;
    }

    public Optional<V> get(K key) {
        return map.lookup(key(key)).map(values::decode);
    }

    /** Creates or replaces the entry. */
    public void put(K key, V value) {
        map.put(key(key), value(value));
    }

    /** ANY, NOEXIST (only if absent) or EXIST (only if present), as BPF_MAP_UPDATE_ELEM's flags. */
    public void update(K key, V value, UpdateMode mode) {
        map.update(key(key), value(value), mode);
    }

    /** Whether there was an entry to delete. */
    public boolean delete(K key) {
        return map.delete(key(key));
    }

    /** Every entry of m in batches (BPF_MAP_UPDATE_BATCH where the kernel has it); how many were written. */
    public int putAll(Map<K, V> m) {
        List<byte[]> ks = new ArrayList<>(m.size());
        List<byte[]> vs = new ArrayList<>(m.size());
        m.forEach((k, v) -> {
            ks.add(key(k));
            vs.add(value(v));
        });
        return map.putAll(ks, vs);
    }

    /**
     * Every entry, read lazily in packed pages of pageSize (0: the agent's default): the next page is
     * asked for only when the previous one is used up. Each call starts a new walk; a map changed
     * while it is walked gives each key at most once, as BPF_MAP_LOOKUP_BATCH does.
     */
    public Iterable<Map.Entry<K, V>> entries(int pageSize) {
        return () -> new Pages(pageSize);
    }

    /** {@link #entries} as a sequential stream (lazy: a limit stops the paging). */
    public Stream<Map.Entry<K, V>> stream(int pageSize) {
        return StreamSupport.stream(Spliterators.spliteratorUnknownSize(new Pages(pageSize),
                Spliterator.ORDERED | Spliterator.NONNULL), false);
    }

    private byte[] key(K k) {
        byte[] b = keys.encode(k);
        if (b.length != keySize) {
            throw new IllegalArgumentException("the key codec gave " + b.length + " bytes; map " + map.id()
                    + " has " + keySize + "-byte keys");
        }
        return b;
    }

    private byte[] value(V v) {
        byte[] b = values.encode(v);
        if (b.length != valueSize) {
            throw new IllegalArgumentException("the value codec gave " + b.length + " bytes; map " + map.id()
                    + " has " + valueSize + "-byte values");
        }
        return b;
    }

    private final class Pages implements Iterator<Map.Entry<K, V>> {
        private final int pageSize;
        private ByteString token = ByteString.EMPTY;
        private boolean last;
        private byte[] pageKeys = new byte[0];
        private byte[] pageValues = new byte[0];
        private int count;
        private int next;

        Pages(int pageSize) {
            this.pageSize = pageSize;
        }

        @Override
        public boolean hasNext() {
            while (next == count && !last) {
                DumpMapResponse page = map.client().dumpMap(DumpMapRequest.newBuilder().setMap(map.ref())
                        .setPageSize(pageSize).setPageToken(token).setPacked(true).build());
                pageKeys = page.getPackedKeys().toByteArray();
                pageValues = page.getPackedValues().toByteArray();
                count = page.getCount();
                next = 0;
                token = page.getNextPageToken();
                last = token.isEmpty();
            }
            return next < count;
        }

        @Override
        public Map.Entry<K, V> next() {
            if (!hasNext()) {
                throw new NoSuchElementException();
            }
            int i = next++;
            byte[] k = java.util.Arrays.copyOfRange(pageKeys, i * keySize, (i + 1) * keySize);
            byte[] v = java.util.Arrays.copyOfRange(pageValues, i * valueSize, (i + 1) * valueSize);
            return new AbstractMap.SimpleImmutableEntry<>(keys.decode(k), values.decode(v));
        }
    }
}
