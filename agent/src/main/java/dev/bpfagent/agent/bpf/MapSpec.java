package dev.bpfagent.agent.bpf;

import java.nio.charset.StandardCharsets;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * What to create: a map not yet in the kernel. The constructor checks the kernel's rules for the type
 * before any syscall and names the field it breaks ({@link InvalidSpecException}); field names are the
 * ones a create request uses.
 *
 * @param type bpf_attr.map_type; required
 * @param keySize bytes; 4 for array-like maps, 0 for queues, stacks, ring buffers and bloom filters
 * @param valueSize bytes; 4 for maps whose values are fds (prog arrays, maps of maps), 0 for ring buffers
 * @param maxEntries entries; for a ring buffer its size in bytes (a power of two, a multiple of the page)
 * @param flags BPF_F_* map flags (BPF_F_NO_PREALLOC = 1, BPF_F_RDONLY_PROG = 0x80, BPF_F_MMAPABLE = 0x400, ...)
 * @param name at most 15 bytes of [A-Za-z0-9_.], or empty
 * @param numaNode a NUMA node to allocate on, or -1 for any (sets BPF_F_NUMA_NODE)
 * @param innerMap for maps of maps: a map of the kind its values will be (the kernel copies its shape)
 * @param mapExtra bpf_attr.map_extra: a bloom filter's hash count (low 4 bits), else 0
 * @param btf raw BTF describing the key and value, with their type ids, or {@link Btf#NONE}
 */
public record MapSpec(MapType type, int keySize, int valueSize, int maxEntries, int flags, String name, int numaNode,
                      BpfMap innerMap, long mapExtra, Btf btf) {

    /**
     * BTF for a map's key and value (bpf_attr.btf_fd, btf_key_type_id, btf_value_type_id): the agent loads
     * the raw BTF, passes its fd at create and closes it; the kernel keeps the BTF object with the map.
     * Key and value ids must name types of exactly key_size and value_size bytes (the kernel checks).
     */
    public record Btf(byte[] btf, int keyTypeId, int valueTypeId) {
        public static final Btf NONE = new Btf(null, 0, 0);

        public Btf {
            btf = btf == null ? new byte[0] : btf;
            if (btf.length == 0 && (keyTypeId != 0 || valueTypeId != 0)) {
                throw new InvalidSpecException("btf.btf", "is required with btf.key_type_id or btf.value_type_id");
            }
            if (btf.length > 0 && valueTypeId == 0) {
                throw new InvalidSpecException("btf.value_type_id", "is required with btf.btf: the id of the value's"
                        + " type in it");
            }
            if (keyTypeId < 0 || valueTypeId < 0) {
                throw new InvalidSpecException(keyTypeId < 0 ? "btf.key_type_id" : "btf.value_type_id",
                        "is not a type id");
            }
        }

        public boolean isEmpty() {
            return btf.length == 0;
        }
    }

    public static final int BPF_F_NO_PREALLOC = 1;
    public static final int BPF_F_NUMA_NODE = 4;
    public static final int BPF_F_RDONLY_PROG = 0x80;
    public static final int BPF_F_MMAPABLE = 0x400;
    /** The LPM trie's key: a u32 prefix length, then 1 to 256 bytes of data. */
    static final int LPM_MIN_KEY = 4 + 1;
    static final int LPM_MAX_KEY = 4 + 256;
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9_.]*");
    static final int PAGE_SIZE = 4096;

    public MapSpec {
        if (type == null || type == MapType.UNSPEC) {
            throw new InvalidSpecException("type", "is required (e.g. MAP_TYPE_HASH)");
        }
        name = name == null ? "" : name;
        if (!NAME.matcher(name).matches() || name.getBytes(StandardCharsets.UTF_8).length > ProgramSpec.MAX_NAME) {
            throw new InvalidSpecException("name", "'" + name + "' must be at most 15 characters of [A-Za-z0-9_.]");
        }
        if (keySize < 0) {
            throw new InvalidSpecException("key_size", Integer.toUnsignedString(keySize) + " is not a size");
        }
        if (valueSize < 0) {
            throw new InvalidSpecException("value_size", Integer.toUnsignedString(valueSize) + " is not a size");
        }
        if (maxEntries <= 0 && type != MapType.PERF_EVENT_ARRAY) {
            throw new InvalidSpecException("max_entries", "must be at least 1");
        }
        if (type == MapType.PERF_EVENT_ARRAY && maxEntries <= 0) {
            maxEntries = PossibleCpus.count(); // one per CPU, as libbpf does
        }
        if (type.hasIndexKeys() && keySize != 4) {
            throw new InvalidSpecException("key_size", keySize + " for a " + type + " map: its keys are u32 indices,"
                    + " 4 bytes");
        }
        if (type.isKeyless() && keySize != 0) {
            throw new InvalidSpecException("key_size", keySize + " for a " + type + " map, which has no keys: 0");
        }
        if (!type.isKeyless() && !type.hasIndexKeys() && keySize == 0) {
            throw new InvalidSpecException("key_size", "is required for a " + type + " map");
        }
        if (type.holdsFds() && valueSize != 4) {
            throw new InvalidSpecException("value_size", valueSize + " for a " + type + " map: its values are fds"
                    + " (a program's, a map's), 4 bytes");
        }
        if ((type == MapType.RINGBUF || type == MapType.USER_RINGBUF)) {
            if (valueSize != 0) {
                throw new InvalidSpecException("value_size", valueSize + " for a ring buffer: 0 (records have their own"
                        + " sizes)");
            }
            if (Integer.bitCount(maxEntries) != 1 || maxEntries % PAGE_SIZE != 0) {
                throw new InvalidSpecException("max_entries", maxEntries + " bytes for a ring buffer: a power of two and"
                        + " a multiple of the page size (" + PAGE_SIZE + "), e.g. 65536");
            }
        } else if (valueSize == 0) {
            throw new InvalidSpecException("value_size", "is required for a " + type + " map");
        }
        if (type == MapType.LPM_TRIE) {
            if ((flags & BPF_F_NO_PREALLOC) == 0) {
                throw new InvalidSpecException("flags", "an LPM trie needs BPF_F_NO_PREALLOC (1)");
            }
            if (keySize < LPM_MIN_KEY || keySize > LPM_MAX_KEY) {
                throw new InvalidSpecException("key_size", keySize + " for an LPM trie: a u32 prefix length and 1 to"
                        + " 256 bytes of data, " + LPM_MIN_KEY + " to " + LPM_MAX_KEY);
            }
        }
        boolean mapOfMaps = type == MapType.ARRAY_OF_MAPS || type == MapType.HASH_OF_MAPS;
        if (mapOfMaps && innerMap == null) {
            throw new InvalidSpecException("inner_map", "is required for a " + type + " map: a map of the kind its"
                    + " values will be");
        }
        if (!mapOfMaps && innerMap != null) {
            throw new InvalidSpecException("inner_map", "is only for maps of maps, not a " + type + " map");
        }
        if (numaNode < -1) {
            throw new InvalidSpecException("numa_node", numaNode + " is not a node (-1 for any)");
        }
        if (numaNode >= 0) {
            flags |= BPF_F_NUMA_NODE;
        }
        if (type != MapType.BLOOM_FILTER && mapExtra != 0) {
            throw new InvalidSpecException("map_extra", "is only for bloom filters (their hash count)");
        }
        if (type == MapType.BLOOM_FILTER && (mapExtra & ~0xfL) != 0) {
            throw new InvalidSpecException("map_extra", mapExtra + " for a bloom filter: its hash count, 0 to 15"
                    + " (0 means the kernel's default, 5)");
        }
        checkRedirectAndSocketValues(type, keySize, valueSize);
        btf = btf == null ? Btf.NONE : btf;
        if (!btf.isEmpty() && type.holdsFds()) {
            throw new InvalidSpecException("btf", "is not for a " + type + " map: its values are fds, not typed data");
        }
    }

    /**
     * Maps whose values name kernel objects: devmaps and cpumaps hold an ifindex / queue size with an
     * optional program fd after it, socket maps a socket fd (u32 or u64), XSK maps a socket fd.
     */
    private static void checkRedirectAndSocketValues(MapType type, int keySize, int valueSize) {
        switch (type) {
            case DEVMAP, DEVMAP_HASH -> {
                if (keySize != 4) {
                    throw new InvalidSpecException("key_size", keySize + " for a " + type + " map: 4 (u32)");
                }
                if (valueSize != 4 && valueSize != 8) {
                    throw new InvalidSpecException("value_size", valueSize + " for a " + type + " map: 4 (an ifindex)"
                            + " or 8 (an ifindex and an XDP program fd, struct bpf_devmap_val)");
                }
            }
            case CPUMAP -> {
                if (valueSize != 4 && valueSize != 8) {
                    throw new InvalidSpecException("value_size", valueSize + " for a CPUMAP map: 4 (a queue size) or 8"
                            + " (a queue size and an XDP program fd, struct bpf_cpumap_val)");
                }
            }
            case SOCKMAP, SOCKHASH -> {
                if (valueSize != 4 && valueSize != 8) {
                    throw new InvalidSpecException("value_size", valueSize + " for a " + type + " map: 4 or 8 (a socket"
                            + " fd; lookups return its cookie with 8)");
                }
            }
            case XSKMAP -> {
                if (valueSize != 4) {
                    throw new InvalidSpecException("value_size", valueSize + " for an XSKMAP map: 4 (an AF_XDP socket"
                            + " fd)");
                }
            }
            default -> {
            }
        }
    }

    /** A map with the usual defaults: no flags, no name, any node. */
    public static MapSpec of(MapType type, int keySize, int valueSize, int maxEntries) {
        return builder(type, keySize, valueSize, maxEntries).build();
    }

    public static Builder builder(MapType type, int keySize, int valueSize, int maxEntries) {
        return new Builder(type, keySize, valueSize, maxEntries);
    }

    /** Builder for {@link MapSpec}; the rules are checked once, by build(). */
    public static final class Builder {
        private final MapType type;
        private final int keySize;
        private final int valueSize;
        private final int maxEntries;
        private int flags;
        private String name = "";
        private int numaNode = -1;
        private BpfMap innerMap;
        private long mapExtra;
        private Btf btf = Btf.NONE;

        private Builder(MapType type, int keySize, int valueSize, int maxEntries) {
            this.type = type;
            this.keySize = keySize;
            this.valueSize = valueSize;
            this.maxEntries = maxEntries;
        }

        public Builder flags(int v) { flags = v; return this; }
        public Builder name(String v) { name = Objects.requireNonNullElse(v, ""); return this; }
        public Builder numaNode(int v) { numaNode = v; return this; }
        public Builder innerMap(BpfMap v) { innerMap = v; return this; }
        public Builder mapExtra(long v) { mapExtra = v; return this; }
        public Builder btf(Btf v) { btf = v; return this; }

        public MapSpec build() {
            return new MapSpec(type, keySize, valueSize, maxEntries, flags, name, numaNode, innerMap, mapExtra, btf);
        }
    }
}
