package dev.bpfagent.it;

import static org.junit.jupiter.api.Assertions.*;

import dev.bpfagent.agent.bpf.BpfMap;
import dev.bpfagent.agent.bpf.InvalidSpecException;
import dev.bpfagent.agent.bpf.MapBatch;
import dev.bpfagent.agent.bpf.MapSpec;
import dev.bpfagent.agent.bpf.MapType;
import dev.bpfagent.agent.bpf.PossibleCpus;
import dev.bpfagent.agent.bpf.Program;
import dev.bpfagent.agent.bpf.ProgramFds;
import dev.bpfagent.agent.bpf.ProgramSpec;
import dev.bpfagent.agent.bpf.ProgramType;
import dev.bpfagent.agent.bpf.TestRun;
import dev.bpfagent.agent.errno.KernelException;
import dev.bpfagent.agent.kernel.Fd;
import dev.bpfagent.client.TestPackets;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Maps through the bpf layer, in-process, against the real kernel. */
class MapsKernelTest {
    @BeforeEach
    void root() {
        Kernel.assumeRoot();
    }

    static byte[] u32(int v) {
        return ByteBuffer.allocate(4).order(ByteOrder.nativeOrder()).putInt(v).array();
    }

    static byte[] u64(long v) {
        return ByteBuffer.allocate(8).order(ByteOrder.nativeOrder()).putLong(v).array();
    }

    static long asU64(byte[] b) {
        return ByteBuffer.wrap(b).order(ByteOrder.nativeOrder()).getLong();
    }

    static int asU32(byte[] b) {
        return ByteBuffer.wrap(b).order(ByteOrder.nativeOrder()).getInt();
    }

    @Test
    void hashMapElementsAndIteration() {
        try (BpfMap m = BpfMap.create(MapSpec.builder(MapType.HASH, 4, 8, 64).name("it_hash").build())) {
            assertEquals(MapType.HASH, m.type());
            assertEquals("it_hash", m.info().name());
            assertEquals(64, m.info().maxEntries());
            for (int k = 1; k <= 10; k++) {
                m.update(u32(k), u64(k * 100L), BpfMap.BPF_NOEXIST);
            }
            assertEquals(500L, asU64(m.lookup(u32(5)).orElseThrow()));
            assertTrue(m.lookup(u32(99)).isEmpty());
            assertThrows(KernelException.Exists.class, () -> m.update(u32(5), u64(1), BpfMap.BPF_NOEXIST));
            assertThrows(KernelException.NotFound.class, () -> m.update(u32(99), u64(1), BpfMap.BPF_EXIST));
            m.update(u32(5), u64(555), BpfMap.BPF_EXIST);
            assertEquals(555L, asU64(m.lookup(u32(5)).orElseThrow()));
            assertTrue(m.delete(u32(10)));
            assertFalse(m.delete(u32(10)));
            assertEquals(700L, asU64(m.lookupAndDelete(u32(7)).orElseThrow()), "taken");
            assertTrue(m.lookup(u32(7)).isEmpty(), "and gone");

            // next-key iteration sees every key once
            Set<Integer> seen = new HashSet<>();
            byte[] key = null;
            while (true) {
                var next = m.nextKey(key);
                if (next.isEmpty()) {
                    break;
                }
                assertTrue(seen.add(asU32(next.get())));
                key = next.get();
            }
            assertEquals(Set.of(1, 2, 3, 4, 5, 6, 8, 9), seen);
            // pages of 3 (batch lookup where the kernel has it) see the same entries, each once
            Set<Integer> paged = new HashSet<>();
            byte[] pos = null;
            int pages = 0;
            while (true) {
                MapBatch b = m.page(pos, 3);
                for (int i = 0; i < b.keys().size(); i++) {
                    int k = asU32(b.keys().get(i));
                    assertTrue(paged.add(k), "key " + k + " twice");
                    assertEquals(k == 5 ? 555L : k * 100L, asU64(b.values().get(i)));
                }
                pages++;
                if (b.done()) {
                    break;
                }
                pos = b.position();
                assertTrue(pages < 20);
            }
            assertEquals(seen, paged);
            // keys of the wrong size are refused before the syscall, naming the field
            assertEquals("key", assertThrows(InvalidSpecException.class, () -> m.lookup(new byte[3])).field());
            assertEquals("value", assertThrows(InvalidSpecException.class, () -> m.update(u32(1), new byte[4], 0)).field());
        }
    }

    @Test
    void perCpuValuesComeOncePerPossibleCpu() {
        try (BpfMap m = BpfMap.create(MapSpec.of(MapType.PERCPU_ARRAY, 4, 4, 2))) {
            int cpus = PossibleCpus.count();
            assertEquals(cpus * 8, m.lookupSize(), "each CPU's 4-byte value padded to 8");
            ByteBuffer all = ByteBuffer.allocate(cpus * 8).order(ByteOrder.nativeOrder());
            for (int c = 0; c < cpus; c++) {
                all.putInt(c * 8, c + 1);
            }
            m.update(u32(1), all.array(), BpfMap.BPF_ANY);
            List<byte[]> values = m.perCpu(m.lookup(u32(1)).orElseThrow());
            assertEquals(cpus, values.size());
            for (int c = 0; c < cpus; c++) {
                assertEquals(c + 1, asU32(values.get(c)));
            }
        }
    }

    @Test
    void queueIsFifoAndStackIsLifo() {
        try (BpfMap q = BpfMap.create(MapSpec.of(MapType.QUEUE, 0, 8, 8));
             BpfMap s = BpfMap.create(MapSpec.of(MapType.STACK, 0, 8, 8))) {
            for (long v = 1; v <= 3; v++) {
                q.update(null, u64(v), BpfMap.BPF_ANY);
                s.update(null, u64(v), BpfMap.BPF_ANY);
            }
            assertEquals(List.of(1L, 2L, 3L), List.of(asU64(q.lookupAndDelete(null).orElseThrow()),
                    asU64(q.lookupAndDelete(null).orElseThrow()), asU64(q.lookupAndDelete(null).orElseThrow())));
            assertEquals(List.of(3L, 2L, 1L), List.of(asU64(s.lookupAndDelete(null).orElseThrow()),
                    asU64(s.lookupAndDelete(null).orElseThrow()), asU64(s.lookupAndDelete(null).orElseThrow())));
            assertTrue(q.lookupAndDelete(null).isEmpty(), "an empty queue pops nothing");
        }
    }

    /** struct bpf_lpm_trie_key for IPv4: u32 prefix length (host order), then the address bytes. */
    static byte[] lpmKey(int prefix, int a, int b, int c, int d) {
        return ByteBuffer.allocate(8).order(ByteOrder.nativeOrder()).putInt(prefix)
                .put((byte) a).put((byte) b).put((byte) c).put((byte) d).array();
    }

    @Test
    void lpmTrieFindsTheLongestPrefix() {
        assertEquals("flags", assertThrows(InvalidSpecException.class,
                () -> MapSpec.of(MapType.LPM_TRIE, 8, 4, 16)).field(), "an LPM trie needs BPF_F_NO_PREALLOC");
        try (BpfMap m = BpfMap.create(MapSpec.builder(MapType.LPM_TRIE, 8, 4, 16).flags(MapSpec.BPF_F_NO_PREALLOC).build())) {
            m.update(lpmKey(8, 10, 0, 0, 0), u32(8), BpfMap.BPF_ANY);
            m.update(lpmKey(24, 10, 1, 2, 0), u32(24), BpfMap.BPF_ANY);
            assertEquals(24, asU32(m.lookup(lpmKey(32, 10, 1, 2, 3)).orElseThrow()));
            assertEquals(8, asU32(m.lookup(lpmKey(32, 10, 9, 9, 9)).orElseThrow()));
            assertTrue(m.lookup(lpmKey(32, 11, 1, 2, 3)).isEmpty());
        }
    }

    @Test
    void anArrayOfMapsHoldsInnerMapsById() {
        try (BpfMap inner = BpfMap.create(MapSpec.of(MapType.ARRAY, 4, 8, 4));
             BpfMap other = BpfMap.create(MapSpec.of(MapType.ARRAY, 4, 8, 4));
             BpfMap outer = BpfMap.create(MapSpec.builder(MapType.ARRAY_OF_MAPS, 4, 4, 2).innerMap(inner).build());
             Fd.Held fd = ProgramFds.fd(other).hold()) {
            // raw bytes would name this process's fds: refused, the map is set as a map
            assertEquals("value", assertThrows(InvalidSpecException.class,
                    () -> outer.update(u32(0), u32(fd.fd()), BpfMap.BPF_ANY)).field());
            outer.setInnerMap(u32(0), other);
            // the kernel took an fd and reads back the inner map's id
            assertEquals(other.id(), asU32(outer.lookup(u32(0)).orElseThrow()));
        }
        assertEquals("inner_map", assertThrows(InvalidSpecException.class,
                () -> MapSpec.of(MapType.HASH_OF_MAPS, 4, 4, 2)).field());
    }

    @Test
    void ringBufferSizesAreCheckedBeforeTheKernel() {
        assertEquals("max_entries", assertThrows(InvalidSpecException.class,
                () -> MapSpec.of(MapType.RINGBUF, 0, 0, 5000)).field());
        try (BpfMap rb = BpfMap.create(MapSpec.of(MapType.RINGBUF, 0, 0, 64 * 1024))) {
            assertEquals(MapType.RINGBUF, rb.type());
        }
        assertEquals("key_size", assertThrows(InvalidSpecException.class,
                () -> MapSpec.of(MapType.ARRAY, 8, 4, 2)).field());
        assertEquals("value_size", assertThrows(InvalidSpecException.class,
                () -> MapSpec.of(MapType.PROG_ARRAY, 4, 8, 2)).field());
    }

    // ---- tail calls through a prog array ----

    static void insn(ByteArrayOutputStream out, int op, int dst, int src, int off, int imm) {
        out.writeBytes(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).put((byte) op)
                .put((byte) (dst | src << 4)).putShort((short) off).putInt(imm).array());
    }

    /** r2 = prog array (BPF_PSEUDO_MAP_FD), r3 = index, bpf_tail_call(ctx, r2, r3); falls through to return fallback. */
    static byte[] tailCaller(int arrayFd, int index, int fallback) {
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        insn(o, 0x18, 2, 1, 0, arrayFd); // ld_imm64 r2, map fd
        insn(o, 0x00, 0, 0, 0, 0);
        insn(o, 0xb7, 3, 0, 0, index);   // r3 = index
        insn(o, 0x85, 0, 0, 0, 12);      // call bpf_tail_call
        insn(o, 0xb7, 0, 0, 0, fallback);
        insn(o, 0x95, 0, 0, 0, 0);
        return o.toByteArray();
    }

    @Test
    void aTailCallChainRunsThroughTheProgArrayAndChangesWithoutReload() throws Exception {
        byte[] packet = TestPackets.udp().build();
        try (BpfMap chain = BpfMap.create(MapSpec.builder(MapType.PROG_ARRAY, 4, 4, 4).name("it_chain").build());
             Fd.Held a = ProgramFds.fd(chain).hold()) {
            try (Program entry = Program.load(ProgramSpec.of(ProgramType.XDP, tailCaller(a.fd(), 1, 100), "entry")).program();
                 Program middle = Program.load(ProgramSpec.of(ProgramType.XDP, tailCaller(a.fd(), 2, 101), "middle")).program();
                 Program last = Program.load(ProgramSpec.of(ProgramType.XDP, Asm.returnImm(42), "last")).program();
                 Program other = Program.load(ProgramSpec.of(ProgramType.XDP, Asm.returnImm(7), "other")).program()) {
                // nothing at index 1 yet: the entry's tail call fails and it returns its own value
                assertEquals(100, entry.testRun(TestRun.Input.ofData(packet)).retval());
                chain.setProgram(1, middle);
                chain.setProgram(2, last);
                assertEquals(42, entry.testRun(TestRun.Input.ofData(packet)).retval(), "0 -> 1 -> 2");
                assertTrue(chain.delete(u32(2)));
                assertEquals(101, entry.testRun(TestRun.Input.ofData(packet)).retval(), "index 2 gone: 1 falls through");
                chain.setProgram(2, other);
                assertEquals(7, entry.testRun(TestRun.Input.ofData(packet)).retval(), "replaced, no reload");
                // the array reads back program ids
                assertEquals(middle.id(), asU32(chain.lookup(u32(1)).orElseThrow()));
            }
        }
    }

    @Test
    void failurePathsLeakNoFd() throws Exception {
        long before = openFds();
        for (int round = 0; round < 20; round++) {
            try (BpfMap m = BpfMap.create(MapSpec.of(MapType.HASH, 4, 8, 4))) {
                m.update(u32(1), u64(1), BpfMap.BPF_ANY);
                assertThrows(KernelException.Exists.class, () -> m.update(u32(1), u64(1), BpfMap.BPF_NOEXIST));
                assertThrows(InvalidSpecException.class, () -> m.update(u32(1), new byte[3], 0));
                for (int k = 2; k <= 4; k++) {
                    m.update(u32(k), u64(k), BpfMap.BPF_ANY);
                }
                assertThrows(KernelException.class, () -> m.update(u32(9), u64(9), BpfMap.BPF_NOEXIST), "full: E2BIG");
            }
            assertThrows(KernelException.NotFound.class, () -> BpfMap.fromId(Integer.MAX_VALUE - 11));
        }
        assertTrue(openFds() <= before + 1, "fds " + before + " -> " + openFds());
    }

    static long openFds() throws Exception {
        try (Stream<Path> s = Files.list(Path.of("/proc/self/fd"))) {
            return s.count();
        }
    }
}
