package dev.bpfagent.it;

import dev.bpfagent.client.Instructions;
import dev.bpfagent.client.Instructions.Jump;
import dev.bpfagent.client.Instructions.Reg;
import dev.bpfagent.client.Instructions.Size;

/**
 * The programs the tests load, written with the client's {@link Instructions} builder; insn() keeps
 * the raw encoding for the few tests that spell out opcodes.
 */
public final class Asm {
    private final Instructions out = Instructions.program();

    static final int R0 = 0, R1 = 1, R2 = 2, R3 = 3, R4 = 4, R5 = 5, R10 = 10;

    Asm insn(int opcode, int dst, int src, int off, int imm) {
        out.raw(opcode, dst, src, off, imm);
        return this;
    }

    public Asm movImm(int dst, int imm) { out.mov(Reg.values()[dst], imm); return this; }
    public Asm exit() { out.exit(); return this; }

    public byte[] bytes() {
        return out.bytes();
    }

    /** XDP: drop IPv4 UDP, pass everything else. */
    public static byte[] xdpDropUdp() {
        return dropUdp(0, 4, 1, 2);
    }

    /** tc / tcx (SCHED_CLS): drop IPv4 UDP (TC_ACT_SHOT), let everything else go on (TCX_NEXT). */
    public static byte[] tcDropUdp() {
        return dropUdp(76, 80, 2, -1);
    }

    /** Reads data and data_end at their context offsets; returns drop for IPv4 UDP, else pass. */
    private static byte[] dropUdp(int dataOff, int dataEndOff, int drop, int pass) {
        return Instructions.program()
                .ldx(Size.W, Reg.R2, Reg.R1, dataOff)      // r2 = data
                .ldx(Size.W, Reg.R3, Reg.R1, dataEndOff)   // r3 = data_end
                .mov(Reg.R4, Reg.R2)
                .add(Reg.R4, 34)                           // r4 = data + eth(14) + ipv4(20)
                .jump(Jump.JGT, Reg.R4, Reg.R3, "pass")    // too short
                .ldx(Size.H, Reg.R5, Reg.R2, 12)           // ethertype (network order read as little-endian)
                .jump(Jump.JNE, Reg.R5, 0x0008, "pass")    // not IPv4
                .ldx(Size.B, Reg.R5, Reg.R2, 23)           // IPv4 protocol
                .jump(Jump.JNE, Reg.R5, 17, "pass")        // not UDP
                .mov(Reg.R0, drop)
                .exit()
                .label("pass")
                .mov(Reg.R0, pass)
                .exit()
                .bytes();
    }

    /** Returns a constant: the smallest valid program of most types. */
    public static byte[] returnImm(int value) {
        return Instructions.program().mov(Reg.R0, value).exit().bytes();
    }

    /** Exits without setting r0: the verifier says "R0 !read_ok". */
    static byte[] invalid() {
        return Instructions.program().exit().bytes();
    }
}
