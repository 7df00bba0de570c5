package dev.bpfagent.agent.bpf;

import dev.bpfagent.agent.errno.KernelException;
import dev.bpfagent.agent.kernel.Bpf;
import dev.bpfagent.agent.kernel.BpfCmd;
import dev.bpfagent.agent.kernel.BpfMapInfo;
import dev.bpfagent.agent.kernel.Fd;
import dev.bpfagent.agent.kernel.MapCreateAttr;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * A map in the kernel, held through its fd. Keys and values are bytes in the kernel's layout (host
 * byte order). Per-CPU maps keep one value per possible CPU: their lookups return all of them, each
 * {@link #valueSize()} bytes. Closing it closes the fd exactly once; the kernel frees the map when
 * nothing else (a pin, a program using it, another process) holds it.
 */
public final class BpfMap implements BpfObject {
    /** Update flags: BPF_ANY, BPF_NOEXIST, BPF_EXIST, BPF_F_LOCK. */
    public static final long BPF_ANY = 0, BPF_NOEXIST = 1, BPF_EXIST = 2, BPF_F_LOCK = 4;

    private final Fd fd;
    private final int id;
    private final MapType type;
    private final int keySize;
    private final int valueSize;
    private final int maxEntries;
    private final String name;

    private BpfMap(Fd fd, BpfMapInfo info) {
        this.fd = fd;
        this.id = info.id();
        this.type = MapType.of(info.type()).orElse(MapType.UNSPEC);
        this.keySize = info.key_size();
        this.valueSize = info.value_size();
        this.maxEntries = info.max_entries();
        this.name = info.name();
    }

    /** BPF_MAP_CREATE. */
    public static BpfMap create(MapSpec spec) {
        Fd inner = spec.innerMap() != null ? spec.innerMap().fd : null;
        MapSpec.Btf btf = spec.btf();
        try (Fd btfFd = btf.isEmpty() ? null : Bpf.btfLoad(btf.btf())) {
            return adopt(Bpf.mapCreate(new MapCreateAttr(spec.type().value, spec.keySize(), spec.valueSize(),
                    spec.maxEntries(), spec.flags(), inner, Math.max(0, spec.numaNode()), spec.name(), 0, btfFd,
                    btf.keyTypeId(), btf.valueTypeId(), spec.mapExtra())));
        } catch (KernelException e) {
            if (!btf.isEmpty() && e.errno() == dev.bpfagent.agent.errno.Errno.EINVAL) {
                throw e.withContext("with btf: btf.key_type_id " + btf.keyTypeId() + " and btf.value_type_id "
                        + btf.valueTypeId() + " must name types of exactly key_size (" + spec.keySize()
                        + ") and value_size (" + spec.valueSize() + ") bytes in btf.btf");
            }
            throw e;
        }
    }

    /**
     * BPF_MAP_CREATE with a BTF object already loaded (shared by an object file's maps): the key and value
     * type ids name types in it (key 0: none). spec.btf() is ignored.
     */
    public static BpfMap create(MapSpec spec, Fd btf, int keyTypeId, int valueTypeId) {
        Fd inner = spec.innerMap() != null ? spec.innerMap().fd : null;
        return adopt(Bpf.mapCreate(new MapCreateAttr(spec.type().value, spec.keySize(), spec.valueSize(),
                spec.maxEntries(), spec.flags(), inner, Math.max(0, spec.numaNode()), spec.name(), 0, btf,
                btf != null ? keyTypeId : 0, btf != null ? valueTypeId : 0, spec.mapExtra())));
    }

    static BpfMap adopt(Fd fd) {
        try {
            return new BpfMap(fd, Bpf.mapInfo(fd));
        } catch (RuntimeException e) {
            fd.close();
            throw e;
        }
    }

    /** BPF_MAP_GET_FD_BY_ID: a new fd of a map made by anyone. */
    public static BpfMap fromId(int id) {
        return adopt(Bpf.getFdById(BpfCmd.BPF_MAP_GET_FD_BY_ID, id));
    }

    /** BPF_OBJ_GET on a bpffs path; {@link WrongKindException} if a program or link is pinned there. */
    public static BpfMap fromPinned(String path) {
        Fd fd = Bpf.objGet(path);
        ObjectKind kind = ObjectKind.ofInode(fd.kind());
        if (kind != ObjectKind.MAP) {
            fd.close();
            throw new WrongKindException(path, ObjectKind.MAP, kind);
        }
        return adopt(fd);
    }

    /** The bytes one key's value takes in a lookup: per-CPU maps round each CPU's value up to 8. */
    public int lookupSize() {
        return type.isPerCpu() ? roundUp8(valueSize) * PossibleCpus.count() : valueSize;
    }

    static int roundUp8(int n) {
        return (n + 7) & ~7;
    }

    private void checkKey(byte[] key) {
        if (type.isKeyless() ? key != null && key.length != 0 : key == null || key.length != keySize) {
            throw new InvalidSpecException("key", (key == null ? 0 : key.length) + " bytes; this " + type
                    + " map's keys are " + keySize + " bytes");
        }
    }

    /** BPF_MAP_LOOKUP_ELEM: the value (per-CPU: every CPU's, see {@link #perCpu}), or empty. */
    public Optional<byte[]> lookup(byte[] key) {
        checkKey(key);
        if (type == MapType.PERF_EVENT_ARRAY || type == MapType.CGROUP_ARRAY || type == MapType.XSKMAP) {
            throw new InvalidSpecException("map", "a " + type + " map's entries are not readable from user space (the"
                    + " kernel has no lookup for them)");
        }
        return Optional.ofNullable(Bpf.mapLookupElem(fd, key, lookupSize(), 0));
    }

    /**
     * A bloom filter's test: true when value may have been pushed (false positives happen, at a rate set
     * by max_entries and the hash count), false when it surely was not.
     */
    public boolean mayContain(byte[] value) {
        if (type != MapType.BLOOM_FILTER) {
            throw new InvalidSpecException("value", "is only tested for membership in bloom filters; this is a " + type
                    + " map: look its key up");
        }
        if (value == null || value.length != valueSize) {
            throw new InvalidSpecException("value", (value == null ? 0 : value.length) + " bytes; this bloom filter's"
                    + " values are " + valueSize + " bytes");
        }
        return Bpf.mapLookupElemValueIn(fd, value);
    }

    /** A per-CPU lookup's bytes split into one value per possible CPU. */
    public List<byte[]> perCpu(byte[] lookedUp) {
        int stride = roundUp8(valueSize);
        List<byte[]> out = new ArrayList<>();
        for (int off = 0; off + valueSize <= lookedUp.length; off += stride) {
            out.add(java.util.Arrays.copyOfRange(lookedUp, off, off + valueSize));
        }
        return out;
    }

    /**
     * BPF_MAP_UPDATE_ELEM with BPF_ANY, BPF_NOEXIST, BPF_EXIST (or BPF_F_LOCK). Per-CPU: every CPU's value.
     * Not for maps whose values hold fds ({@link #valuesHoldFds}): bytes from a caller would name this
     * process's fds; those maps are written through {@link #setProgram}, {@link #setInnerMap} and
     * {@link #setRedirect}.
     */
    public void update(byte[] key, byte[] value, long flags) {
        refuseRawFds();
        put(key, value, flags);
    }

    private void refuseRawFds() {
        if (valuesHoldFds()) {
            throw new InvalidSpecException("value", "a " + type + " map's values " + switch (type) {
                case PROG_ARRAY -> "are programs: set an entry to a program's id";
                case ARRAY_OF_MAPS, HASH_OF_MAPS -> "are maps: set an entry to a map's id";
                case DEVMAP, DEVMAP_HASH, CPUMAP -> "carry an XDP program: set the program by its id";
                case PERF_EVENT_ARRAY -> "are perf event fds the agent opens for an event stream; a client cannot"
                        + " write them";
                default -> "are fds (sockets, cgroups) of the process writing them: programs fill them (sock_ops"
                        + " with bpf_sock_map_update, ...), a client through the agent cannot";
            });
        }
    }

    /**
     * Values carry kernel object fds: prog arrays, maps of maps, perf event, cgroup and socket arrays, and
     * devmaps / cpumaps with 8-byte values (struct bpf_devmap_val / bpf_cpumap_val: a u32 then a program fd).
     */
    public boolean valuesHoldFds() {
        return switch (type) {
            case PROG_ARRAY, ARRAY_OF_MAPS, HASH_OF_MAPS, PERF_EVENT_ARRAY, CGROUP_ARRAY, SOCKMAP, SOCKHASH, XSKMAP,
                    REUSEPORT_SOCKARRAY -> true;
            case DEVMAP, DEVMAP_HASH, CPUMAP -> valueSize == 8;
            default -> false;
        };
    }

    /** A devmap or cpumap with 8-byte values: each entry may name an XDP program, see {@link #setRedirect}. */
    public boolean carriesRedirectPrograms() {
        return (type == MapType.DEVMAP || type == MapType.DEVMAP_HASH || type == MapType.CPUMAP) && valueSize == 8;
    }

    /**
     * A devmap's or cpumap's 8-byte entry: an ifindex (devmap) or queue size (cpumap), and an XDP program
     * run on redirected frames (null: none). Lookups read it back with the program's id in place of its fd.
     */
    public void setRedirect(byte[] key, int first, Program program) {
        if (!carriesRedirectPrograms()) {
            throw new InvalidSpecException("map", "a " + type + " map with " + valueSize + "-byte values does not take a"
                    + " program: only DEVMAP, DEVMAP_HASH and CPUMAP maps with 8-byte values do");
        }
        if (program == null) {
            put(key, ByteBuffer.allocate(8).order(ByteOrder.nativeOrder()).putInt(first).putInt(0).array(), BPF_ANY);
            return;
        }
        try (Fd.Held p = program.fd().hold()) {
            put(key, ByteBuffer.allocate(8).order(ByteOrder.nativeOrder()).putInt(first).putInt(p.fd()).array(),
                    BPF_ANY);
        }
    }

    private void put(byte[] key, byte[] value, long flags) {
        checkKey(key);
        if (value == null || value.length != lookupSize()) {
            throw new InvalidSpecException("value", (value == null ? 0 : value.length) + " bytes; this " + type
                    + " map's values are " + lookupSize() + " bytes" + (type.isPerCpu() ? " (one per possible CPU, each"
                    + " padded to 8)" : ""));
        }
        Bpf.mapUpdateElem(fd, type.isKeyless() ? null : key, value, flags);
    }

    /** BPF_MAP_DELETE_ELEM: false when the key was absent. */
    public boolean delete(byte[] key) {
        checkKey(key);
        return Bpf.mapDeleteElem(fd, key);
    }

    /** BPF_MAP_LOOKUP_AND_DELETE_ELEM: pops a queue or stack (key null), or takes a hash entry. */
    public Optional<byte[]> lookupAndDelete(byte[] key) {
        checkKey(key);
        return Optional.ofNullable(Bpf.mapLookupAndDeleteElem(fd, type.isKeyless() ? null : key, lookupSize()));
    }

    /** BPF_MAP_GET_NEXT_KEY: the key after key (the first when key is null), or empty at the end. */
    public Optional<byte[]> nextKey(byte[] key) {
        if (key != null) {
            checkKey(key);
        }
        return Optional.ofNullable(Bpf.mapGetNextKey(fd, key, keySize));
    }

    /**
     * Up to count entries after a position (null: the start), with BPF_MAP_LOOKUP_BATCH (5.6+) where
     * the kernel has it for this map type, else by walking next keys and looking each up. The
     * position returned continues the walk; the two ways' positions do not mix.
     */
    public MapBatch page(byte[] position, int count) {
        if (count <= 0) {
            throw new InvalidSpecException("count", count + ": at least 1 entry a page");
        }
        if (batchWorks) {
            try {
                int ask = count;
                while (true) {
                    try {
                        Bpf.BatchResult r = Bpf.mapLookupBatch(fd, position, Math.max(keySize, 8), keySize,
                                lookupSize(), ask);
                        return new MapBatch(r.keys(), r.values(), r.count(), keySize, lookupSize(), r.outBatch(),
                                r.done());
                    } catch (KernelException.NoSpace e) {
                        // a hash bucket holds more entries than the page asked for, and the kernel hands out
                        // whole buckets (ENOSPC): this page grows to hold it (a batch position cannot resume
                        // inside a bucket, and switching to a key walk would strand other dumps' positions)
                        if (ask >= maxEntries) {
                            throw e;
                        }
                        ask = (int) Math.min((long) ask * 2, maxEntries);
                    }
                }
            } catch (KernelException.NotSupported | KernelException.InvalidArgument e) {
                if (position != null) {
                    throw e; // a batch position cannot continue as a key walk
                }
                batchWorks = false; // this kernel or map type has no batch lookup: walk keys instead
            }
        }
        return walk(position, count);
    }

    /** Whether BPF_MAP_LOOKUP_BATCH works for this map; set false after the kernel said it does not. */
    private volatile boolean batchWorks = true;

    /** A page by BPF_MAP_GET_NEXT_KEY and a lookup per key; the position is the last key returned. */
    private MapBatch walk(byte[] position, int count) {
        List<byte[]> keys = new ArrayList<>();
        List<byte[]> values = new ArrayList<>();
        byte[] key = position;
        while (keys.size() < count) {
            byte[] next = Bpf.mapGetNextKey(fd, key, keySize);
            if (next == null) {
                return MapBatch.of(keys, values, keySize, lookupSize(), key, true);
            }
            byte[] value = Bpf.mapLookupElem(fd, next, lookupSize(), 0);
            if (value != null) { // deleted between the two calls: skip it
                keys.add(next);
                values.add(value);
            }
            key = next;
        }
        return MapBatch.of(keys, values, keySize, lookupSize(), key, Bpf.mapGetNextKey(fd, key, keySize) == null);
    }

    /**
     * Writes many entries: one BPF_MAP_UPDATE_BATCH (5.6+) where the kernel has it for this map type,
     * else one update each. Values are as {@link #update} takes them (per-CPU: every CPU's).
     *
     * @return how many were written; on a failure part way the kernel's error is thrown, and the
     *         entries before the failing one stay written
     */
    public int updateAll(List<byte[]> keys, List<byte[]> values, long flags) {
        refuseRawFds();
        if (keys.size() != values.size()) {
            throw new InvalidSpecException("entries", keys.size() + " keys and " + values.size() + " values");
        }
        if (keys.isEmpty()) {
            return 0;
        }
        for (int i = 0; i < keys.size(); i++) {
            checkKey(keys.get(i));
            if (values.get(i).length != lookupSize()) {
                throw new InvalidSpecException("entries[" + i + "].value", values.get(i).length + " bytes; this "
                        + type + " map's values are " + lookupSize() + " bytes");
            }
        }
        if (batchWrites && type.hasKeysForBatch()) {
            try {
                return Bpf.mapUpdateBatch(fd, concat(keys), concat(values), keys.size(), flags);
            } catch (KernelException.NotSupported | KernelException.InvalidArgument e) {
                batchWrites = false; // no batch for this map type here: one by one below
            }
        }
        for (int i = 0; i < keys.size(); i++) {
            Bpf.mapUpdateElem(fd, keys.get(i), values.get(i), flags);
        }
        return keys.size();
    }

    /** Deletes many keys (BPF_MAP_DELETE_BATCH where the kernel has it); returns how many were there. */
    public int deleteAll(List<byte[]> keys) {
        keys.forEach(this::checkKey);
        if (keys.isEmpty()) {
            return 0;
        }
        int deleted = 0;
        if (batchWrites && type.hasKeysForBatch()) {
            try {
                // a missing key stops the kernel's batch: delete the rest one by one after it
                int done = Bpf.mapDeleteBatch(fd, concat(keys), keys.size());
                deleted = done;
                for (int i = done + 1; i < keys.size(); i++) {
                    deleted += Bpf.mapDeleteElem(fd, keys.get(i)) ? 1 : 0;
                }
                return deleted;
            } catch (KernelException.NotSupported | KernelException.InvalidArgument e) {
                batchWrites = false;
            }
        }
        for (byte[] k : keys) {
            deleted += Bpf.mapDeleteElem(fd, k) ? 1 : 0;
        }
        return deleted;
    }

    /** The ring buffer mapped into the agent, made on the first read; guarded by this. */
    private dev.bpfagent.agent.kernel.RingBufferMapping ring;

    /**
     * Takes up to max records a program wrote to this ring buffer (bpf_ringbuf_output/submit), oldest
     * first; each is consumed. The buffer is mapped into the process on the first read and unmapped
     * when the map closes.
     */
    public synchronized List<byte[]> readRingBuffer(int max) {
        if (type != MapType.RINGBUF) {
            throw new InvalidSpecException("map", "a " + type + " map is not a ring buffer");
        }
        if (max <= 0) {
            throw new InvalidSpecException("max_records", max + ": at least 1");
        }
        if (reader != null) {
            throw new BusyException("map", "MAP_STREAMED", "map " + id + "'s records go to its event stream"
                    + " subscribers (SubscribeEvents); read them there, or end the subscriptions first");
        }
        if (ring == null) {
            ring = dev.bpfagent.agent.kernel.RingBufferMapping.map(fd, maxEntries);
        }
        return ring.read(max);
    }

    /** Whether batch writes work for this map; set false after the kernel said they do not. */
    private volatile boolean batchWrites = true;

    private static byte[] concat(List<byte[]> parts) {
        int n = 0;
        for (byte[] p : parts) {
            n += p.length;
        }
        byte[] out = new byte[n];
        int at = 0;
        for (byte[] p : parts) {
            System.arraycopy(p, 0, out, at, p.length);
            at += p.length;
        }
        return out;
    }

    /** BPF_MAP_FREEZE: userspace may no longer write it (programs still may, unless BPF_F_RDONLY_PROG). */
    public void freeze() {
        Bpf.mapFreeze(fd);
    }

    /** BPF_OBJ_GET_INFO_BY_FD, fresh from the kernel. */
    public MapInfo info() {
        return MapInfo.of(Bpf.mapInfo(fd));
    }

    /** A prog array's entry: index now runs program (a tail call to index jumps there). */
    public void setProgram(int index, Program program) {
        if (type != MapType.PROG_ARRAY) {
            throw new InvalidSpecException("map", "a " + type + " map does not hold programs; use a PROG_ARRAY");
        }
        try (Fd.Held p = program.fd().hold()) {
            put(intKey(index), intKey(p.fd()), BPF_ANY);
        }
    }

    /** A map of maps' entry: key now holds inner (the kernel checks it has the inner template's shape). */
    public void setInnerMap(byte[] key, BpfMap inner) {
        if (type != MapType.ARRAY_OF_MAPS && type != MapType.HASH_OF_MAPS) {
            throw new InvalidSpecException("map", "a " + type + " map does not hold maps");
        }
        try (Fd.Held m = inner.fd().hold()) {
            put(key, intKey(m.fd()), BPF_ANY);
        }
    }

    /** Values are programs (a prog array): written as a program, read back as its id. */
    public boolean holdsPrograms() {
        return type == MapType.PROG_ARRAY;
    }

    /** Values are maps (a map of maps): written as a map, read back as its id. */
    public boolean holdsMaps() {
        return type == MapType.ARRAY_OF_MAPS || type == MapType.HASH_OF_MAPS;
    }

    /** Values per key in a lookup: the possible CPUs for per-CPU maps, else 1. */
    public int valuesPerKey() {
        return type.isPerCpu() ? PossibleCpus.count() : 1;
    }

    /** Joins one value per CPU into the kernel's per-CPU layout (each padded to 8 bytes). */
    public byte[] joinPerCpu(List<byte[]> values) {
        int stride = roundUp8(valueSize);
        byte[] out = new byte[stride * values.size()];
        for (int c = 0; c < values.size(); c++) {
            byte[] v = values.get(c);
            if (v.length != valueSize) {
                throw new InvalidSpecException("per_cpu_values", "value " + c + " is " + v.length + " bytes; this map's"
                        + " values are " + valueSize);
            }
            System.arraycopy(v, 0, out, c * stride, valueSize);
        }
        return out;
    }

    /** Whether the map has keys (queues, stacks, ring buffers and bloom filters have none). */
    public boolean hasKeys() {
        return !type.isKeyless();
    }

    static byte[] intKey(int v) {
        return java.nio.ByteBuffer.allocate(4).order(java.nio.ByteOrder.nativeOrder()).putInt(v).array();
    }

    @Override
    public int id() {
        return id;
    }

    @Override
    public ObjectKind kind() {
        return ObjectKind.MAP;
    }

    public MapType type() {
        return type;
    }

    public int keySize() {
        return keySize;
    }

    public int valueSize() {
        return valueSize;
    }

    public int maxEntries() {
        return maxEntries;
    }

    public String name() {
        return name;
    }

    /** The fd, for this package (program loads that use the map); do not close it, close the map. */
    Fd fd() {
        return fd;
    }

    @Override
    public void pin(String path) {
        Bpf.objPin(fd, path);
    }

    @Override
    public boolean isClosed() {
        return fd.isClosed();
    }

    @Override
    public void close() {
        EventReader r;
        synchronized (this) {
            if (ring != null) {
                ring.close();
                ring = null;
            }
            r = reader;
        }
        if (r != null) {
            r.close(); // outside the lock: it calls releaseReader
        }
        fd.close();
    }

    /** The reader consuming this ring buffer or owning this perf event array's slots; guarded by this. */
    private EventReader reader;

    /** Makes r this map's one reader; BusyException when another has it. */
    synchronized void claimReader(EventReader r) {
        if (fd.isClosed()) {
            throw KernelException.of("use of map " + id, dev.bpfagent.agent.errno.Errno.EBADF.number(), "it was closed");
        }
        if (reader != null && reader != r) {
            throw new BusyException("map", "MAP_HAS_READER", "map " + id + " already has an event reader in the agent");
        }
        reader = r;
    }

    synchronized void releaseReader(EventReader r) {
        if (reader == r) {
            reader = null;
        }
    }

    /** A perf event array's slot for cpu now holds event (the reader's PERF_COUNT_SW_BPF_OUTPUT event). */
    void setPerfEvent(int cpu, Fd event) {
        try (Fd.Held e = event.hold()) {
            put(intKey(cpu), intKey(e.fd()), BPF_ANY);
        }
    }

    void clearPerfEvent(int cpu) {
        Bpf.mapDeleteElem(fd, intKey(cpu));
    }

    @Override
    public String toString() {
        return "BpfMap[id=" + id + ", type=" + type + ", name=" + name + "]";
    }
}
