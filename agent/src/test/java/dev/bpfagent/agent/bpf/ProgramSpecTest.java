package dev.bpfagent.agent.bpf;

import static org.junit.jupiter.api.Assertions.*;

import java.util.function.Supplier;
import org.junit.jupiter.api.Test;

/** The spec checks the kernel's rules itself, in-process, naming the field, before any syscall. */
class ProgramSpecTest {
    static final byte[] EXIT = {(byte) 0xb7, 0, 0, 0, 2, 0, 0, 0, (byte) 0x95, 0, 0, 0, 0, 0, 0, 0};

    static ProgramSpec.Builder valid() {
        return ProgramSpec.builder(ProgramType.XDP, EXIT);
    }

    static void assertField(String field, Supplier<?> build) {
        InvalidSpecException e = assertThrows(InvalidSpecException.class, build::get);
        assertEquals(field, e.field());
        assertTrue(e.getMessage().startsWith(field + ": "), e.getMessage());
    }

    @Test
    void defaults() {
        ProgramSpec s = valid().build();
        assertEquals("GPL", s.license());
        assertEquals("", s.name());
        assertEquals(0, s.log().level());
        assertEquals(ProgramSpec.Log.DEFAULT_SIZE, s.log().size());
        assertEquals(ProgramSpec.Btf.FUNC_INFO_SIZE, s.btf().funcInfoRecSize());
        assertEquals(ProgramSpec.Btf.LINE_INFO_SIZE, s.btf().lineInfoRecSize());
        assertTrue(s.expectedAttachType().isEmpty());
        assertEquals(2, s.instructionCount());
        assertEquals("xdp_ok.1", valid().name("xdp_ok.1").build().name());
        assertEquals("Dual BSD/GPL", valid().license("Dual BSD/GPL").build().license());
    }

    @Test
    void everyRuleNamesItsField() {
        assertField("type", () -> ProgramSpec.builder(ProgramType.UNSPEC, EXIT).build());
        assertField("type", () -> ProgramSpec.builder(null, EXIT).build());
        assertField("instructions", () -> ProgramSpec.builder(ProgramType.XDP, new byte[0]).build());
        assertField("instructions", () -> ProgramSpec.builder(ProgramType.XDP, new byte[12]).build());
        assertField("instructions", () -> ProgramSpec.builder(ProgramType.XDP, new byte[8 * 1_000_001]).build());
        assertField("name", () -> valid().name("has space").build());
        assertField("name", () -> valid().name("sixteen_chars_xx").build());
        assertField("name", () -> valid().name("é").build());
        assertField("license", () -> valid().license("GPL\0x").build());
        assertField("license", () -> valid().license("G".repeat(128)).build());
        assertField("log.level", () -> valid().log(8, 0).build());
        assertField("log.level", () -> valid().log(-1, 0).build());
        assertField("log.size", () -> valid().log(1, -5).build());
        assertField("log.size", () -> valid().log(1, Program.MAX_LOG_SIZE + 1).build());
        assertField("attach_target.program", () -> valid().attachTarget(new ProgramSpec.AttachTarget(5, 1, 1)).build());
        assertField("attach_target.btf_id", () -> valid().attachTarget(new ProgramSpec.AttachTarget(0, 0, 7)).build());
        assertField("btf.func_info", () -> valid().btf(new ProgramSpec.Btf(new byte[24], new byte[12], 0, null, 0)).build());
        assertField("btf.btf", () -> valid().btf(new ProgramSpec.Btf(null, new byte[8], 0, null, 0)).build());
        assertField("btf.line_info_rec_size", () -> valid().btf(new ProgramSpec.Btf(new byte[24], null, 0, new byte[16], -1)).build());
        assertField("btf.line_info_rec_size", () -> valid().btf(new ProgramSpec.Btf(new byte[24], null, 0, new byte[16], 18)).build());
        assertField("btf.func_info_rec_size", () -> valid().btf(new ProgramSpec.Btf(new byte[24], new byte[8], 4, null, 0)).build());
    }

    @Test
    void recordsLargerThanTheStructAreKept() {
        ProgramSpec s = valid().btf(new ProgramSpec.Btf(new byte[24], new byte[24], 12, null, 0)).build();
        assertEquals(12, s.btf().funcInfoRecSize());
    }

    static byte[] insn(int op, int dst, int src, int off, int imm) {
        return java.nio.ByteBuffer.allocate(8).order(java.nio.ByteOrder.LITTLE_ENDIAN).put((byte) op)
                .put((byte) (dst | src << 4)).putShort((short) off).putInt(imm).array();
    }

    static byte[] concat(byte[]... parts) {
        var out = new java.io.ByteArrayOutputStream();
        for (byte[] p : parts) {
            out.writeBytes(p);
        }
        return out.toByteArray();
    }

    @Test
    void quickProgramsAreShortAndLoopFree() {
        byte[] mov = insn(0xb7, 0, 0, 0, 1);
        byte[] exit = insn(0x95, 0, 0, 0, 0);
        assertTrue(valid().build().isQuick());
        assertTrue(ProgramSpec.builder(ProgramType.XDP, concat(insn(0x15, 1, 0, 1, 0), mov, exit)).build().isQuick(),
                "a forward branch is fine");
        assertFalse(ProgramSpec.builder(ProgramType.XDP, concat(mov, insn(0x05, 0, 0, -2, 0), exit)).build().isQuick(),
                "a backward ja is a loop");
        assertFalse(ProgramSpec.builder(ProgramType.XDP, concat(mov, insn(0x25, 0, 0, -2, 5), exit)).build().isQuick(),
                "a backward conditional jump is a loop");
        assertFalse(ProgramSpec.builder(ProgramType.XDP, concat(insn(0x85, 0, 1, 0, 1), exit, mov, exit)).build().isQuick(),
                "a bpf-to-bpf call brings a subprogram");
        assertTrue(ProgramSpec.builder(ProgramType.XDP, concat(insn(0x85, 0, 0, 0, 5), exit)).build().isQuick(),
                "a helper call is fine");
        byte[] many = new byte[8 * 65];
        for (int i = 0; i < 64; i++) {
            System.arraycopy(mov, 0, many, i * 8, 8);
        }
        System.arraycopy(exit, 0, many, 64 * 8, 8);
        assertFalse(ProgramSpec.builder(ProgramType.XDP, many).build().isQuick(), "65 instructions");
    }
}
