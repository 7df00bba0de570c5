package dev.bpfagent.it;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/** A tiny BPF assembler for tests: struct bpf_insn encoding and the programs the tests load. */
public final class Asm {
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();

    static final int R0 = 0, R1 = 1, R2 = 2, R3 = 3, R4 = 4, R5 = 5, R10 = 10;

    Asm insn(int opcode, int dst, int src, int off, int imm) {
        ByteBuffer b = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
        b.put((byte) opcode).put((byte) ((src << 4) | dst)).putShort((short) off).putInt(imm);
        out.writeBytes(b.array());
        return this;
    }

    Asm ldxW(int dst, int src, int off) { return insn(0x61, dst, src, off, 0); }
    Asm ldxH(int dst, int src, int off) { return insn(0x69, dst, src, off, 0); }
    Asm ldxB(int dst, int src, int off) { return insn(0x71, dst, src, off, 0); }
    Asm ldxDw(int dst, int src, int off) { return insn(0x79, dst, src, off, 0); }
    Asm movReg(int dst, int src) { return insn(0xbf, dst, src, 0, 0); }
    public Asm movImm(int dst, int imm) { return insn(0xb7, dst, 0, 0, imm); }
    Asm addImm(int dst, int imm) { return insn(0x07, dst, 0, 0, imm); }
    Asm jgtReg(int dst, int src, int off) { return insn(0x2d, dst, src, off, 0); }
    Asm jneImm(int dst, int imm, int off) { return insn(0x55, dst, 0, off, imm); }
    public Asm exit() { return insn(0x95, 0, 0, 0, 0); }

    public byte[] bytes() {
        return out.toByteArray();
    }

    /** XDP: drop IPv4 UDP, pass everything else. */
    public static byte[] xdpDropUdp() {
        return new Asm()
                .ldxW(R2, R1, 0)        // 0: r2 = ctx->data
                .ldxW(R3, R1, 4)        // 1: r3 = ctx->data_end
                .movReg(R4, R2)         // 2
                .addImm(R4, 34)         // 3: r4 = data + eth(14) + ipv4(20)
                .jgtReg(R4, R3, 6)      // 4: too short -> pass
                .ldxH(R5, R2, 12)       // 5: ethertype (network order read as little-endian)
                .jneImm(R5, 0x0008, 4)  // 6: not IPv4 -> pass
                .ldxB(R5, R2, 23)       // 7: IPv4 protocol
                .jneImm(R5, 17, 2)      // 8: not UDP -> pass
                .movImm(R0, 1)          // 9: XDP_DROP
                .exit()                 // 10
                .movImm(R0, 2)          // 11: XDP_PASS
                .exit()                 // 12
                .bytes();
    }

    /** tc / tcx (SCHED_CLS): drop IPv4 UDP (TC_ACT_SHOT), let everything else go on (TCX_NEXT). */
    public static byte[] tcDropUdp() {
        return new Asm()
                .ldxW(R2, R1, 76)       // 0: r2 = skb->data
                .ldxW(R3, R1, 80)       // 1: r3 = skb->data_end
                .movReg(R4, R2)         // 2
                .addImm(R4, 34)         // 3: r4 = data + eth(14) + ipv4(20)
                .jgtReg(R4, R3, 6)      // 4: too short -> next
                .ldxH(R5, R2, 12)       // 5: ethertype
                .jneImm(R5, 0x0008, 4)  // 6: not IPv4 -> next
                .ldxB(R5, R2, 23)       // 7: IPv4 protocol
                .jneImm(R5, 17, 2)      // 8: not UDP -> next
                .movImm(R0, 2)          // 9: TC_ACT_SHOT
                .exit()                 // 10
                .movImm(R0, -1)         // 11: TCX_NEXT
                .exit()                 // 12
                .bytes();
    }

    /** Returns a constant: the smallest valid program of most types. */
    public static byte[] returnImm(int value) {
        return new Asm().movImm(R0, value).exit().bytes();
    }

    /** Exits without setting r0: the verifier says "R0 !read_ok". */
    static byte[] invalid() {
        return new Asm().exit().bytes();
    }
}
