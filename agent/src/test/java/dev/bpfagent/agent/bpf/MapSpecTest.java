package dev.bpfagent.agent.bpf;

import static org.junit.jupiter.api.Assertions.*;

import org.junit.jupiter.api.Test;

/** The kernel's per-type rules, checked before any syscall and named by the create request's field. */
class MapSpecTest {
    private static String field(Runnable r) {
        return assertThrows(InvalidSpecException.class, r::run).field();
    }

    @Test
    void arrayLikeMapsHaveU32Keys() {
        assertEquals("key_size", field(() -> MapSpec.of(MapType.ARRAY, 8, 8, 1)));
        assertEquals("key_size", field(() -> MapSpec.of(MapType.DEVMAP_HASH, 8, 4, 1)));
        MapSpec.of(MapType.ARRAY, 4, 8, 1);
    }

    @Test
    void keylessMapsHaveNoKeys() {
        assertEquals("key_size", field(() -> MapSpec.of(MapType.QUEUE, 4, 8, 1)));
        assertEquals("key_size", field(() -> MapSpec.of(MapType.BLOOM_FILTER, 4, 8, 1)));
        MapSpec.of(MapType.STACK, 0, 8, 1);
    }

    @Test
    void ringBuffersArePowerOfTwoPages() {
        assertEquals("max_entries", field(() -> MapSpec.of(MapType.RINGBUF, 0, 0, 4096 * 3)));
        assertEquals("max_entries", field(() -> MapSpec.of(MapType.RINGBUF, 0, 0, 1024)));
        assertEquals("value_size", field(() -> MapSpec.of(MapType.RINGBUF, 0, 8, 4096)));
        MapSpec.of(MapType.RINGBUF, 0, 0, 1 << 16);
    }

    @Test
    void redirectAndSocketMapsTakeTheirValueShapes() {
        assertEquals("value_size", field(() -> MapSpec.of(MapType.DEVMAP, 4, 6, 1)));
        assertEquals("value_size", field(() -> MapSpec.of(MapType.CPUMAP, 4, 16, 1)));
        assertEquals("value_size", field(() -> MapSpec.of(MapType.SOCKHASH, 4, 2, 1)));
        assertEquals("value_size", field(() -> MapSpec.of(MapType.XSKMAP, 4, 8, 1)));
        MapSpec.of(MapType.DEVMAP, 4, 8, 1);
        MapSpec.of(MapType.SOCKMAP, 4, 8, 1);
    }

    @Test
    void bloomFiltersTakeAtMost15Hashes() {
        assertEquals("map_extra", field(() -> MapSpec.builder(MapType.BLOOM_FILTER, 0, 8, 10).mapExtra(16).build()));
        assertEquals("map_extra", field(() -> MapSpec.builder(MapType.HASH, 4, 8, 10).mapExtra(1).build()));
        MapSpec.builder(MapType.BLOOM_FILTER, 0, 8, 10).mapExtra(15).build();
    }

    @Test
    void btfNeedsTheBlobAndTheValueType() {
        assertEquals("btf.btf", field(() -> new MapSpec.Btf(null, 1, 1)));
        assertEquals("btf.value_type_id", field(() -> new MapSpec.Btf(new byte[24], 1, 0)));
        assertEquals("btf", field(() -> MapSpec.builder(MapType.PROG_ARRAY, 4, 4, 1)
                .btf(new MapSpec.Btf(new byte[24], 0, 1)).build()));
    }

    @Test
    void lpmTriesNeedNoPreallocAndAPrefixedKey() {
        assertEquals("flags", field(() -> MapSpec.of(MapType.LPM_TRIE, 8, 8, 1)));
        assertEquals("key_size", field(() -> MapSpec.builder(MapType.LPM_TRIE, 4, 8, 1).flags(1).build()));
    }
}
