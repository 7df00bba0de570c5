package dev.bpfagent.client;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A BPF instruction builder: {@code struct bpf_insn}s named as the kernel names them, with jump
 * labels, for {@link LoadOptions#builder}. Maps are named by their index in {@link LoadOptions.Builder#map}
 * (BPF_PSEUDO_MAP_IDX), never by fd, so the program means the same in the agent.
 *
 * <pre>
 *   byte[] xdpDropUdp = Instructions.program()
 *       .ldx(Size.W, Reg.R2, Reg.R1, 0)            // r2 = ctx->data
 *       .ldx(Size.W, Reg.R3, Reg.R1, 4)            // r3 = ctx->data_end
 *       .mov(Reg.R4, Reg.R2).add(Reg.R4, 34)
 *       .jump(Jump.JGT, Reg.R4, Reg.R3, "pass")     // shorter than eth + ipv4
 *       .ldx(Size.B, Reg.R5, Reg.R2, 23)
 *       .jump(Jump.JNE, Reg.R5, 17, "pass")         // not UDP
 *       .mov(Reg.R0, 1).exit()                      // XDP_DROP
 *       .label("pass").mov(Reg.R0, 2).exit()        // XDP_PASS
 *       .bytes();
 * </pre>
 */
public final class Instructions {
    /** Registers: r0 return value, r1-r5 arguments, r6-r9 callee-saved, r10 the frame pointer (read-only). */
    public enum Reg { R0, R1, R2, R3, R4, R5, R6, R7, R8, R9, R10 }

    /** Memory access sizes (BPF_B, BPF_H, BPF_W, BPF_DW). */
    public enum Size {
        B(0x10, 1), H(0x08, 2), W(0x00, 4), DW(0x18, 8);

        final int code;
        public final int bytes;

        Size(int code, int bytes) {
            this.code = code;
            this.bytes = bytes;
        }
    }

    /** ALU operations (BPF_ADD ... BPF_ARSH). */
    public enum Alu {
        ADD(0x00), SUB(0x10), MUL(0x20), DIV(0x30), OR(0x40), AND(0x50), LSH(0x60), RSH(0x70), MOD(0x90),
        XOR(0xa0), MOV(0xb0), ARSH(0xc0);

        final int code;

        Alu(int code) {
            this.code = code;
        }
    }

    /** Conditional jumps (BPF_JEQ ... BPF_JSLE); unsigned unless the name has an S. */
    public enum Jump {
        JEQ(0x10), JGT(0x20), JGE(0x30), JSET(0x40), JNE(0x50), JSGT(0x60), JSGE(0x70), JLT(0xa0), JLE(0xb0),
        JSLT(0xc0), JSLE(0xd0);

        final int code;

        Jump(int code) {
            this.code = code;
        }
    }

    /** A few helpers by their kernel numbers (include/uapi/linux/bpf.h); {@link #call(int)} takes any. */
    public static final class Helper {
        public static final int MAP_LOOKUP_ELEM = 1, MAP_UPDATE_ELEM = 2, MAP_DELETE_ELEM = 3, KTIME_GET_NS = 5,
                TAIL_CALL = 12, GET_CURRENT_PID_TGID = 14, PERF_EVENT_OUTPUT = 25, REDIRECT_MAP = 51,
                RINGBUF_OUTPUT = 130;

        private Helper() {
        }
    }

    static final int LD = 0x00, LDX = 0x01, ST = 0x02, STX = 0x03, ALU = 0x04, JMP = 0x05, JMP32 = 0x06,
            ALU64 = 0x07;
    static final int K = 0x00, X = 0x08, IMM = 0x00, MEM = 0x60, ATOMIC = 0xc0;
    static final int PSEUDO_MAP_IDX = 5, PSEUDO_MAP_IDX_VALUE = 6, PSEUDO_CALL = 1;

    private record Insn(int code, int dst, int src, int off, int imm, String target) {
    }

    private final List<Insn> insns = new ArrayList<>();
    private final Map<String, Integer> labels = new HashMap<>();

    private Instructions() {
    }

    public static Instructions program() {
        return new Instructions();
    }

    /** Any instruction, encoded as given (for what the named methods do not cover). */
    public Instructions raw(int opcode, int dst, int src, int off, int imm) {
        if (dst < 0 || dst > 15 || src < 0 || src > 15) {
            throw new IllegalArgumentException("registers are 0..15 in the encoding, not dst " + dst + " src " + src);
        }
        if (off < Short.MIN_VALUE || off > Short.MAX_VALUE) {
            throw new IllegalArgumentException("offset " + off + " does not fit 16 bits");
        }
        insns.add(new Insn(opcode & 0xff, dst, src, off, imm, null));
        return this;
    }

    private Instructions put(int code, Reg dst, Reg src, int off, int imm, String target) {
        insns.add(new Insn(code, dst.ordinal(), src.ordinal(), off, imm, target));
        return this;
    }

    /** Names the next instruction, for jumps to it. */
    public Instructions label(String name) {
        if (labels.putIfAbsent(name, insns.size()) != null) {
            throw new IllegalArgumentException("label " + name + " is already defined");
        }
        return this;
    }

    // ---- ALU: 64-bit (BPF_ALU64) and 32-bit (BPF_ALU) ----

    public Instructions alu(Alu op, Reg dst, int imm) { return put(ALU64 | op.code | K, dst, Reg.R0, 0, imm, null); }
    public Instructions alu(Alu op, Reg dst, Reg src) { return put(ALU64 | op.code | X, dst, src, 0, 0, null); }
    public Instructions alu32(Alu op, Reg dst, int imm) { return put(ALU | op.code | K, dst, Reg.R0, 0, imm, null); }
    public Instructions alu32(Alu op, Reg dst, Reg src) { return put(ALU | op.code | X, dst, src, 0, 0, null); }

    /** dst = imm (sign-extended to 64 bits). */
    public Instructions mov(Reg dst, int imm) { return alu(Alu.MOV, dst, imm); }
    public Instructions mov(Reg dst, Reg src) { return alu(Alu.MOV, dst, src); }
    public Instructions add(Reg dst, int imm) { return alu(Alu.ADD, dst, imm); }
    public Instructions add(Reg dst, Reg src) { return alu(Alu.ADD, dst, src); }
    public Instructions neg(Reg dst) { return put(ALU64 | 0x80, dst, Reg.R0, 0, 0, null); }

    // ---- memory ----

    /** dst = *(size *)(src + off). */
    public Instructions ldx(Size size, Reg dst, Reg src, int off) { return put(LDX | MEM | size.code, dst, src, off, 0, null); }
    /** *(size *)(dst + off) = src. */
    public Instructions stx(Size size, Reg dst, int off, Reg src) { return put(STX | MEM | size.code, dst, src, off, 0, null); }
    /** *(size *)(dst + off) = imm. */
    public Instructions st(Size size, Reg dst, int off, int imm) { return put(ST | MEM | size.code, dst, Reg.R0, off, imm, null); }
    /** lock *(size *)(dst + off) += src (BPF_ATOMIC BPF_ADD; W or DW). */
    public Instructions atomicAdd(Size size, Reg dst, int off, Reg src) {
        if (size != Size.W && size != Size.DW) {
            throw new IllegalArgumentException("atomic add is 32 or 64 bits (Size.W or Size.DW), not " + size);
        }
        return put(STX | ATOMIC | size.code, dst, src, off, 0x00, null);
    }

    /** dst = a 64-bit constant (ld_imm64: two instruction slots). */
    public Instructions ldImm64(Reg dst, long value) {
        put(LD | IMM | Size.DW.code, dst, Reg.R0, 0, (int) value, null);
        insns.add(new Insn(0, 0, 0, 0, (int) (value >>> 32), null));
        return this;
    }

    /** dst = the map at mapIndex of the load's maps (BPF_PSEUDO_MAP_IDX), for helpers that take a map. */
    public Instructions ldMap(Reg dst, int mapIndex) {
        insns.add(new Insn(LD | IMM | Size.DW.code, dst.ordinal(), PSEUDO_MAP_IDX, 0, mapIndex, null));
        insns.add(new Insn(0, 0, 0, 0, 0, null));
        return this;
    }

    /** dst = the address of offset bytes into an array map's value (BPF_PSEUDO_MAP_IDX_VALUE). */
    public Instructions ldMapValue(Reg dst, int mapIndex, int offset) {
        insns.add(new Insn(LD | IMM | Size.DW.code, dst.ordinal(), PSEUDO_MAP_IDX_VALUE, 0, mapIndex, null));
        insns.add(new Insn(0, 0, 0, 0, offset, null));
        return this;
    }

    // ---- jumps ----

    /** if dst OP imm goto label (64-bit compare). */
    public Instructions jump(Jump op, Reg dst, int imm, String label) { return put(JMP | op.code | K, dst, Reg.R0, 0, imm, label); }
    /** if dst OP src goto label (64-bit compare). */
    public Instructions jump(Jump op, Reg dst, Reg src, String label) { return put(JMP | op.code | X, dst, src, 0, 0, label); }
    /** if (u32) dst OP imm goto label (BPF_JMP32). */
    public Instructions jump32(Jump op, Reg dst, int imm, String label) { return put(JMP32 | op.code | K, dst, Reg.R0, 0, imm, label); }
    /** goto label. */
    public Instructions ja(String label) { return put(JMP | 0x00, Reg.R0, Reg.R0, 0, 0, label); }
    /** A helper by number: arguments in r1-r5, result in r0 (r1-r5 are clobbered). */
    public Instructions call(int helper) { return put(JMP | 0x80, Reg.R0, Reg.R0, 0, helper, null); }
    /** A BPF-to-BPF call of the subprogram at label. */
    public Instructions callLocal(String label) {
        insns.add(new Insn(JMP | 0x80, 0, PSEUDO_CALL, 0, 0, "call:" + label));
        return this;
    }
    /** return r0. */
    public Instructions exit() { return put(JMP | 0x90, Reg.R0, Reg.R0, 0, 0, null); }

    /** How many instruction slots so far (ld_imm64 takes two). */
    public int count() {
        return insns.size();
    }

    /** The program's bytes (8 per slot, little-endian), with every label resolved. */
    public byte[] bytes() {
        ByteBuffer b = ByteBuffer.allocate(insns.size() * 8).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < insns.size(); i++) {
            Insn n = insns.get(i);
            int off = n.off();
            int imm = n.imm();
            if (n.target() != null) {
                boolean call = n.target().startsWith("call:");
                String name = call ? n.target().substring(5) : n.target();
                Integer at = labels.get(name);
                if (at == null) {
                    throw new IllegalStateException("instruction " + i + " jumps to label " + name
                            + ", which is never defined");
                }
                int rel = at - (i + 1);
                if (call) {
                    imm = rel;
                } else if (rel < Short.MIN_VALUE || rel > Short.MAX_VALUE) {
                    throw new IllegalStateException("instruction " + i + ": label " + name + " is " + rel
                            + " instructions away, beyond a jump's 16 bits");
                } else {
                    off = rel;
                }
            }
            b.put((byte) n.code()).put((byte) ((n.src() << 4) | n.dst())).putShort((short) off).putInt(imm);
        }
        return b.array();
    }
}
