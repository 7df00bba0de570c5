package dev.bpfagent.client;

import static org.junit.jupiter.api.Assertions.*;

import dev.bpfagent.client.Instructions.Alu;
import dev.bpfagent.client.Instructions.Jump;
import dev.bpfagent.client.Instructions.Reg;
import dev.bpfagent.client.Instructions.Size;
import java.util.HexFormat;
import org.junit.jupiter.api.Test;

/**
 * Encodings checked against the kernel's struct bpf_insn (opcode, dst | src << 4, off, imm; little
 * endian) as llvm-objdump prints them for clang's output; the integration tests load what it builds.
 */
class InstructionsTest {
    static String hex(Instructions i) {
        return HexFormat.of().formatHex(i.bytes());
    }

    @Test
    void eachInstructionEncodesAsTheKernelReadsIt() {
        assertEquals("b700000002000000", hex(Instructions.program().mov(Reg.R0, 2)));          // r0 = 2
        assertEquals("bf16000000000000", hex(Instructions.program().mov(Reg.R6, Reg.R1)));     // r6 = r1
        assertEquals("07020000fcffffff", hex(Instructions.program().add(Reg.R2, -4)));        // r2 += -4
        assertEquals("6112040000000000", hex(Instructions.program().ldx(Size.W, Reg.R2, Reg.R1, 4)));
        assertEquals("7152170000000000", hex(Instructions.program().ldx(Size.B, Reg.R2, Reg.R5, 23)));
        assertEquals("635afcff00000000", hex(Instructions.program().stx(Size.W, Reg.R10, -4, Reg.R5))); // *(u32 *)(r10 - 4) = r5
        assertEquals("7a0af0ff01000000", hex(Instructions.program().st(Size.DW, Reg.R10, -16, 1)));
        assertEquals("db10000000000000", hex(Instructions.program().atomicAdd(Size.DW, Reg.R0, 0, Reg.R1)));
        assertEquals("8500000001000000", hex(Instructions.program().call(Instructions.Helper.MAP_LOOKUP_ELEM)));
        assertEquals("9500000000000000", hex(Instructions.program().exit()));
        assertEquals("8700000000000000", hex(Instructions.program().neg(Reg.R0)));
        assertEquals("a403000001000000", hex(Instructions.program().alu32(Alu.XOR, Reg.R3, 1)));
        // ld_imm64: two slots, the high half in the second's imm
        assertEquals("1801000078563412" + "0000000001000000",
                hex(Instructions.program().ldImm64(Reg.R1, 0x1_1234_5678L)));
        // a map by its index in LoadOptions.map (src BPF_PSEUDO_MAP_IDX = 5), and a value address (6)
        assertEquals("1851000002000000" + "0000000000000000", hex(Instructions.program().ldMap(Reg.R1, 2)));
        assertEquals("1861000000000000" + "0000000008000000", hex(Instructions.program().ldMapValue(Reg.R1, 0, 8)));
    }

    @Test
    void labelsResolveForwardAndBack() {
        Instructions p = Instructions.program()
                .label("top").mov(Reg.R0, 0)
                .jump(Jump.JEQ, Reg.R1, 0, "out")      // 1: forward over 2 -> off 1
                .ja("top")                              // 2: back to 0 -> off -3
                .label("out").exit();
        assertEquals("b700000000000000" + "1501010000000000" + "0500fdff00000000" + "9500000000000000", hex(p));
        assertEquals(4, p.count());
        Instructions sub = Instructions.program().callLocal("f").exit().label("f").mov(Reg.R0, 1).exit();
        assertEquals("8510000001000000", hex(sub).substring(0, 16), "pseudo call, imm = relative slot");
        assertEquals("2d43020000000000", hex(Instructions.program().jump(Jump.JGT, Reg.R3, Reg.R4, "x").exit()
                .exit().label("x")).substring(0, 16));
    }

    @Test
    void mistakesAreSaidPlainly() {
        var unknown = assertThrows(IllegalStateException.class, () -> Instructions.program().ja("nowhere").bytes());
        assertTrue(unknown.getMessage().contains("nowhere"), unknown.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Instructions.program().label("a").label("a"));
        assertThrows(IllegalArgumentException.class, () -> Instructions.program().atomicAdd(Size.B, Reg.R0, 0, Reg.R1));
        assertThrows(IllegalArgumentException.class, () -> Instructions.program().raw(0x07, 16, 0, 0, 0));
        assertThrows(IllegalArgumentException.class, () -> Instructions.program().raw(0x05, 0, 0, 40_000, 0));
    }
}
