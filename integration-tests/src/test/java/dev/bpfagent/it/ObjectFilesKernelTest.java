package dev.bpfagent.it;

import static org.junit.jupiter.api.Assertions.*;

import dev.bpfagent.agent.bpf.BpfMap;
import dev.bpfagent.agent.bpf.KernelObjects;
import dev.bpfagent.agent.bpf.TestRun;
import dev.bpfagent.agent.bpf.object.ObjectLoader;
import dev.bpfagent.agent.bpf.object.ObjectSpec;
import dev.bpfagent.client.TestPackets;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Objects clang compiled (src/test/bpf) parsed and loaded in-process by the bpf layer. */
class ObjectFilesKernelTest {
    @BeforeEach
    void root() {
        Kernel.assumeRoot();
    }

    /** A compiled test object's bytes; skips when clang was missing at build time. */
    static byte[] object(String name) throws Exception {
        Path p = Path.of(System.getProperty("bpfagent.objects", "target/bpf"), name + ".o");
        Assumptions.assumeTrue(Files.exists(p), "no " + p + ": clang was missing when the tests were built");
        return Files.readAllBytes(p);
    }

    static long u64(byte[] b, int off) {
        return ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).getLong(off);
    }

    @Test
    void globalsMapsAndSubprogramsLoadAndRun() throws Exception {
        ObjectSpec spec = ObjectSpec.parse(object("globals"), "globals.o");
        assertEquals("GPL", spec.license());
        assertEquals(Set.of("xdp_verdict", "sock_all"), new HashSet<>(spec.programs().stream()
                .map(ObjectSpec.ProgramDef::name).toList()));
        assertTrue(spec.map("by_len").isPresent());
        assertTrue(spec.map("globals.rodata").isPresent(), spec.maps().toString());
        assertTrue(spec.map("globals.bss").isPresent());
        assertTrue(spec.map("globals.data").isPresent());
        var xdp = spec.program("xdp_verdict").orElseThrow();
        assertTrue(xdp.subprograms().containsAll(java.util.List.of("packet_len", "count")), xdp.subprograms().toString());

        Set<Integer> mapsBefore = new HashSet<>(KernelObjects.mapIds());
        Set<Integer> programsBefore = new HashSet<>(KernelObjects.programIds());
        try (ObjectLoader.Loaded l = ObjectLoader.load(spec, ObjectLoader.Options.ALL)) {
            assertTrue(l.btfLoaded(), "the object's BTF was taken: " + l.btfError());
            var r = l.programs().get("xdp_verdict").testRun(TestRun.Input.ofData(TestPackets.udp().build()));
            assertEquals(2, r.retval(), "XDP_PASS, the .rodata default");
            BpfMap bss = l.maps().get("globals.bss");
            byte[] v = bss.lookup(new byte[4]).orElseThrow();
            assertEquals(1, u64(v, 0), "packets++ in .bss");
            BpfMap byLen = l.maps().get("by_len");
            int len = TestPackets.udp().build().length;
            byte[] key = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(len).array();
            assertEquals(1, u64(byLen.lookup(key).orElseThrow(), 0), "the global function counted");
        }
        // .rodata set before load: the verifier sees the new constant
        try (ObjectLoader.Loaded l = ObjectLoader.load(spec, new ObjectLoader.Options(Set.of("xdp_verdict"),
                Map.of("verdict", new byte[] {1, 0, 0, 0}), 0))) {
            assertEquals(Set.of("xdp_verdict"), l.programs().keySet());
            var r = l.programs().get("xdp_verdict").testRun(TestRun.Input.ofData(TestPackets.udp().build()));
            assertEquals(1, r.retval(), "XDP_DROP from the caller's .rodata");
        }
        assertTrue(Kernel.eventually(() -> mapsBefore.containsAll(KernelObjects.mapIds())), "maps left behind");
        assertTrue(Kernel.eventually(() -> programsBefore.containsAll(KernelObjects.programIds())), "programs left behind");
    }

    /** The section header table: offset of header i. */
    static int header(ByteBuffer b, int i) {
        return (int) (b.getLong(40) + 64L * i);
    }

    static String refused(byte[] elf) {
        var e = assertThrows(dev.bpfagent.agent.bpf.elf.ElfException.class, () -> ObjectSpec.parse(elf, "bad.o"));
        return e.getMessage();
    }

    @Test
    void hostileObjectsAreRefusedNamingWhereNeverAnIndexError() throws Exception {
        byte[] good = object("globals");
        ByteBuffer g = ByteBuffer.wrap(good).order(ByteOrder.LITTLE_ENDIAN);

        byte[] x86 = good.clone();
        ByteBuffer.wrap(x86).order(ByteOrder.LITTLE_ENDIAN).putShort(18, (short) 62);
        assertTrue(refused(x86).contains("e_machine 62"), refused(x86));

        byte[] big = good.clone();
        big[5] = 2;
        assertTrue(refused(big).contains("big-endian"), refused(big));

        byte[] far = good.clone();
        ByteBuffer.wrap(far).order(ByteOrder.LITTLE_ENDIAN).putLong(40, 1L << 40);
        assertTrue(refused(far).contains("e_shoff"), refused(far));

        // a section whose bytes lie past the end of the file
        byte[] past = good.clone();
        ByteBuffer pb = ByteBuffer.wrap(past).order(ByteOrder.LITTLE_ENDIAN);
        pb.putLong(header(pb, 2) + 24, good.length + 1000L);
        assertTrue(refused(past).contains("section 2") && refused(past).contains("past the end"), refused(past));

        // a relocation naming a symbol past the table, and one pointing outside its section
        int shnum = g.getShort(60) & 0xffff;
        int rel = -1;
        for (int i = 1; i < shnum; i++) {
            if (g.getInt(header(g, i) + 4) == 9) { // SHT_REL
                rel = i;
                break;
            }
        }
        assertTrue(rel > 0);
        byte[] nowhere = good.clone();
        ByteBuffer nb = ByteBuffer.wrap(nowhere).order(ByteOrder.LITTLE_ENDIAN);
        long relOff = nb.getLong(header(nb, rel) + 24);
        nb.putLong((int) relOff + 8, (0x7fffffL << 32) | 1);
        assertTrue(refused(nowhere).contains("past the symbol table"), refused(nowhere));
        byte[] outside = good.clone();
        ByteBuffer ob = ByteBuffer.wrap(outside).order(ByteOrder.LITTLE_ENDIAN);
        ob.putLong((int) relOff, 1L << 30);
        assertTrue(refused(outside).contains("outside"), refused(outside));

        // a symbol whose name is past the string table
        int symtab = -1;
        for (int i = 1; i < shnum; i++) {
            if (g.getInt(header(g, i) + 4) == 2) {
                symtab = i;
            }
        }
        byte[] name = good.clone();
        ByteBuffer sb = ByteBuffer.wrap(name).order(ByteOrder.LITTLE_ENDIAN);
        sb.putInt((int) sb.getLong(header(sb, symtab) + 24) + 24, 0x7fffffff);
        assertTrue(refused(name).contains("symbol 1's name"), refused(name));

        // a header claiming 65,535 sections
        byte[] many = good.clone();
        ByteBuffer.wrap(many).order(ByteOrder.LITTLE_ENDIAN).putShort(60, (short) 0xffff);
        assertTrue(refused(many).contains("e_shnum 65535 at offset 60"), refused(many));

        // not an object at all
        assertTrue(refused(new byte[10]).contains("too short"));
        assertTrue(refused(new byte[100]).contains("not an ELF file"));
    }
}
