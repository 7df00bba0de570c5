package dev.bpfagent.agent.bpf;

/** enum bpf_map_type; {@link #value} is the kernel's number. */
public enum MapType {
    UNSPEC(0), HASH(1), ARRAY(2), PROG_ARRAY(3), PERF_EVENT_ARRAY(4), PERCPU_HASH(5), PERCPU_ARRAY(6),
    STACK_TRACE(7), CGROUP_ARRAY(8), LRU_HASH(9), LRU_PERCPU_HASH(10), LPM_TRIE(11), ARRAY_OF_MAPS(12),
    HASH_OF_MAPS(13), DEVMAP(14), SOCKMAP(15), CPUMAP(16), XSKMAP(17), SOCKHASH(18), CGROUP_STORAGE(19),
    REUSEPORT_SOCKARRAY(20), PERCPU_CGROUP_STORAGE(21), QUEUE(22), STACK(23), SK_STORAGE(24), DEVMAP_HASH(25),
    STRUCT_OPS(26), RINGBUF(27), INODE_STORAGE(28), TASK_STORAGE(29), BLOOM_FILTER(30), USER_RINGBUF(31),
    CGRP_STORAGE(32), ARENA(33);

    public final int value;

    MapType(int value) {
        this.value = value;
    }

    /** The type with this kernel number, or empty for one this agent does not know (a newer kernel's). */
    public static java.util.Optional<MapType> of(int value) {
        for (MapType t : values()) {
            if (t.value == value) {
                return java.util.Optional.of(t);
            }
        }
        return java.util.Optional.empty();
    }

    /** Values are kept per CPU: a lookup returns one value per possible CPU. */
    public boolean isPerCpu() {
        return this == PERCPU_HASH || this == PERCPU_ARRAY || this == LRU_PERCPU_HASH || this == PERCPU_CGROUP_STORAGE;
    }

    /** Keys are u32 indices (array-like maps). */
    boolean hasIndexKeys() {
        return switch (this) {
            case ARRAY, PERCPU_ARRAY, PROG_ARRAY, PERF_EVENT_ARRAY, CGROUP_ARRAY, ARRAY_OF_MAPS, DEVMAP, CPUMAP,
                    XSKMAP, SOCKMAP, REUSEPORT_SOCKARRAY -> true;
            default -> false;
        };
    }

    /** Maps without keys: pushed and popped (queue, stack), written by programs (ring buffers), or probed. */
    boolean isKeyless() {
        return this == QUEUE || this == STACK || this == RINGBUF || this == USER_RINGBUF || this == BLOOM_FILTER;
    }

    /** Batch calls address entries by key: not for keyless maps or maps whose values are fds. */
    boolean hasKeysForBatch() {
        return !isKeyless() && !holdsFds();
    }

    /** Values are fds the kernel turns into references (programs, maps, perf events). */
    boolean holdsFds() {
        return this == PROG_ARRAY || this == PERF_EVENT_ARRAY || this == ARRAY_OF_MAPS || this == HASH_OF_MAPS
                || this == CGROUP_ARRAY;
    }
}
