package dev.bpfagent.agent.bpf;

import java.nio.charset.StandardCharsets;
import java.util.Objects;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * What to load: a program not yet in the kernel. Values only; {@link Program#load} makes it live.
 * The constructor applies the defaults and checks every rule the kernel (or the agent) would enforce,
 * throwing {@link InvalidSpecException} naming the field, so in-process users and the service get the
 * same checks. Field names below are the ones errors use.
 *
 * @param type bpf_attr.prog_type; required
 * @param instructions struct bpf_insn[], 8 bytes each, host (little-endian) byte order; 1 to
 *        {@link #MAX_INSNS} instructions
 * @param license printable ASCII, at most 127 bytes; "GPL" when empty
 * @param name at most 15 bytes of [A-Za-z0-9_.], or empty
 * @param log the verifier log to ask for
 * @param kernVersion 0 for the running kernel's version code
 * @param progFlags BPF_F_* load flags
 * @param expectedAttachType empty for none
 * @param attachTarget what the program is loaded against, or {@link AttachTarget#NONE}
 * @param btf the program's BTF and its records, or {@link Btf#NONE}
 * @param progIfindex device for an offloaded program, 0 for none
 * @param maps the maps the instructions use: an ld_imm64 with src_reg BPF_PSEUDO_MAP_IDX (5) or
 *        BPF_PSEUDO_MAP_IDX_VALUE (6) and imm = i refers to maps.get(i)
 */
public record ProgramSpec(
        ProgramType type,
        byte[] instructions,
        String license,
        String name,
        Log log,
        int kernVersion,
        int progFlags,
        Optional<AttachType> expectedAttachType,
        AttachTarget attachTarget,
        Btf btf,
        int progIfindex,
        java.util.List<BpfMap> maps) {

    /** BPF_COMPLEXITY_LIMIT_INSNS */
    public static final int MAX_INSNS = 1_000_000;
    public static final int INSN_SIZE = 8;
    /** BPF_OBJ_NAME_LEN less the NUL. */
    public static final int MAX_NAME = 15;
    /** The kernel copies at most 128 bytes of license (with its NUL). */
    public static final int MAX_LICENSE = 127;
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9_.]*");
    private static final Pattern LICENSE = Pattern.compile("[\\x20-\\x7e]*");

    /**
     * The verifier log: level 0 (none unless rejected), 1, 2, optionally OR 4 (stats); size is the
     * first buffer's bytes (0 for {@link #DEFAULT_SIZE}), grown on demand up to {@link Program#MAX_LOG_SIZE}.
     */
    public record Log(int level, int size) {
        public static final int DEFAULT_SIZE = 64 * 1024;
        public static final Log NONE = new Log(0, 0);

        public Log {
            checkLevel(level, "log.level");
            if (size < 0 || size > Program.MAX_LOG_SIZE) {
                throw new InvalidSpecException("log.size", Integer.toUnsignedString(size)
                        + " bytes is outside 0.." + Program.MAX_LOG_SIZE + " (0: the default, 64 KiB)");
            }
            size = size == 0 ? DEFAULT_SIZE : size;
        }

        /** The one rule for a verifier log level (LoadProgram's log.level, LoadObject's log_level). */
        public static int checkLevel(int level, String field) {
            if (level < 0 || level > 7) {
                throw new InvalidSpecException(field, Integer.toUnsignedString(level)
                        + " is not a verifier log level: use 0, 1 or 2, optionally OR 4 (stats)");
            }
            return level;
        }
    }

    /**
     * bpf_attr.attach_btf_id and where that id lives: vmlinux when both ids are 0, a kernel BTF object
     * (module), or a loaded program (freplace, fentry on a BPF program). At most one of the two.
     */
    public record AttachTarget(int btfId, int kernelBtfObjId, int programId) {
        public static final AttachTarget NONE = new AttachTarget(0, 0, 0);

        public AttachTarget {
            if (kernelBtfObjId != 0 && programId != 0) {
                throw new InvalidSpecException("attach_target.program",
                        "cannot be given with attach_target.kernel_btf_obj_id: the kernel takes one or the other");
            }
            if (btfId == 0 && (kernelBtfObjId != 0 || programId != 0)) {
                throw new InvalidSpecException("attach_target.btf_id",
                        "is required with a target BTF object or program (the target function's BTF type id)");
            }
        }
    }

    /**
     * The program's BTF and the records that point into it (struct bpf_func_info, struct
     * bpf_line_info); record sizes 0 for the kernel structs' sizes.
     */
    public record Btf(byte[] btf, byte[] funcInfo, int funcInfoRecSize, byte[] lineInfo, int lineInfoRecSize) {
        /** sizeof(struct bpf_func_info), sizeof(struct bpf_line_info) */
        public static final int FUNC_INFO_SIZE = 8;
        public static final int LINE_INFO_SIZE = 16;
        /** The kernel's MAX_FUNCINFO_REC_SIZE (and line info's): larger records are refused. */
        static final int MAX_REC_SIZE = 252;
        public static final Btf NONE = new Btf(null, null, 0, null, 0);

        public Btf {
            btf = btf == null ? new byte[0] : btf;
            funcInfo = funcInfo == null ? new byte[0] : funcInfo;
            lineInfo = lineInfo == null ? new byte[0] : lineInfo;
            funcInfoRecSize = records("btf.func_info", funcInfo.length, funcInfoRecSize, FUNC_INFO_SIZE);
            lineInfoRecSize = records("btf.line_info", lineInfo.length, lineInfoRecSize, LINE_INFO_SIZE);
            if ((funcInfo.length > 0 || lineInfo.length > 0) && btf.length == 0) {
                throw new InvalidSpecException("btf.btf", "is required with func_info or line_info (their type"
                        + " ids point into it)");
            }
        }

        /** A whole number of records of recSize bytes; returns the effective record size. */
        private static int records(String field, int bytes, int recSize, int structSize) {
            if (recSize < 0 || recSize > MAX_REC_SIZE || (recSize != 0 && (recSize < structSize || recSize % 4 != 0))) {
                throw new InvalidSpecException(field + "_rec_size", Integer.toUnsignedString(recSize)
                        + " bytes is not a record size: 0 for the kernel's " + structSize + ", or a multiple of 4 in "
                        + structSize + ".." + MAX_REC_SIZE);
            }
            int size = recSize == 0 ? structSize : recSize;
            if (bytes % size != 0) {
                throw new InvalidSpecException(field, bytes + " bytes is not a whole number of " + size
                        + "-byte records");
            }
            return size;
        }

        public boolean isEmpty() {
            return btf.length == 0 && funcInfo.length == 0 && lineInfo.length == 0;
        }
    }

    public ProgramSpec {
        if (type == null || type == ProgramType.UNSPEC) {
            throw new InvalidSpecException("type", "is required (e.g. PROGRAM_TYPE_XDP)");
        }
        Objects.requireNonNull(instructions, "instructions");
        if (instructions.length == 0) {
            throw new InvalidSpecException("instructions", "is required (struct bpf_insn[], 8 bytes each)");
        }
        if (instructions.length % INSN_SIZE != 0) {
            throw new InvalidSpecException("instructions", "length " + instructions.length
                    + " is not a multiple of 8 (each struct bpf_insn is 8 bytes)");
        }
        if (instructions.length / INSN_SIZE > MAX_INSNS) {
            throw new InvalidSpecException("instructions", (instructions.length / INSN_SIZE)
                    + " instructions; the kernel takes at most " + MAX_INSNS);
        }
        license = license == null || license.isEmpty() ? "GPL" : license;
        if (!LICENSE.matcher(license).matches() || license.length() > MAX_LICENSE) {
            throw new InvalidSpecException("license", "must be at most " + MAX_LICENSE
                    + " bytes of printable ASCII (e.g. \"GPL\", \"Dual BSD/GPL\")");
        }
        name = name == null ? "" : name;
        if (!NAME.matcher(name).matches() || name.getBytes(StandardCharsets.UTF_8).length > MAX_NAME) {
            throw new InvalidSpecException("name", "'" + name + "' must be at most " + MAX_NAME
                    + " characters of [A-Za-z0-9_.] (the kernel's BPF_OBJ_NAME_LEN)");
        }
        log = log == null ? Log.NONE : log;
        expectedAttachType = expectedAttachType == null ? Optional.empty() : expectedAttachType;
        attachTarget = attachTarget == null ? AttachTarget.NONE : attachTarget;
        btf = btf == null ? Btf.NONE : btf;
        maps = maps == null ? java.util.List.of() : java.util.List.copyOf(maps);
        checkMapReferences(instructions, maps.size());
    }

    /** ld_imm64 src_reg values (include/uapi/linux/bpf.h). */
    public static final int BPF_PSEUDO_MAP_FD = 1, BPF_PSEUDO_MAP_VALUE = 2, BPF_PSEUDO_MAP_IDX = 5,
            BPF_PSEUDO_MAP_IDX_VALUE = 6;
    static final int LD_IMM64 = 0x18;

    /** Every ld_imm64 that names a map by index names one of the maps given, and has its second half. */
    private static void checkMapReferences(byte[] insns, int mapCount) {
        int n = insns.length / INSN_SIZE;
        for (int i = 0; i < n; i++) {
            if ((insns[i * INSN_SIZE] & 0xff) != LD_IMM64) {
                continue;
            }
            if (i + 1 >= n) {
                throw new InvalidSpecException("instructions", "ld_imm64 at " + i + " has no second half");
            }
            int src = (insns[i * INSN_SIZE + 1] >> 4) & 0x0f;
            if (src == BPF_PSEUDO_MAP_IDX || src == BPF_PSEUDO_MAP_IDX_VALUE) {
                int idx = imm(insns, i);
                if (idx < 0 || idx >= mapCount) {
                    throw new InvalidSpecException("maps", "instruction " + i + " refers to map index " + idx + " but "
                            + mapCount + (mapCount == 1 ? " map is" : " maps are") + " given");
                }
            }
            i++; // the second half
        }
    }

    static int imm(byte[] insns, int i) {
        int o = i * INSN_SIZE + 4;
        return (insns[o] & 0xff) | (insns[o + 1] & 0xff) << 8 | (insns[o + 2] & 0xff) << 16 | insns[o + 3] << 24;
    }

    /** Whether any ld_imm64 carries a raw fd (BPF_PSEUDO_MAP_FD/VALUE): meaningful only in this process. */
    public boolean usesRawMapFds() {
        int n = instructionCount();
        for (int i = 0; i < n; i++) {
            if ((instructions[i * INSN_SIZE] & 0xff) == LD_IMM64) {
                int src = (instructions[i * INSN_SIZE + 1] >> 4) & 0x0f;
                if (src == BPF_PSEUDO_MAP_FD || src == BPF_PSEUDO_MAP_VALUE) {
                    return true;
                }
                i++;
            }
        }
        return false;
    }

    /** The seed's create-simple-program: a type, bytecode and a name; everything else default. */
    public static ProgramSpec of(ProgramType type, byte[] instructions, String name) {
        return builder(type, instructions).name(name).build();
    }

    public static Builder builder(ProgramType type, byte[] instructions) {
        return new Builder(type, instructions);
    }

    /** Builder for {@link ProgramSpec}; unset fields keep the defaults the record documents. */
    public static final class Builder {
        private final ProgramType type;
        private final byte[] instructions;
        private String license;
        private String name;
        private Log log;
        private int kernVersion;
        private int progFlags;
        private Optional<AttachType> expectedAttachType = Optional.empty();
        private AttachTarget attachTarget;
        private Btf btf;
        private int progIfindex;
        private java.util.List<BpfMap> maps = java.util.List.of();

        private Builder(ProgramType type, byte[] instructions) {
            this.type = type;
            this.instructions = instructions;
        }

        public Builder license(String v) { license = v; return this; }
        public Builder name(String v) { name = v; return this; }
        public Builder log(int level, int size) { log = new Log(level, size); return this; }
        public Builder kernVersion(int v) { kernVersion = v; return this; }
        public Builder progFlags(int v) { progFlags = v; return this; }
        public Builder expectedAttachType(AttachType v) { expectedAttachType = Optional.ofNullable(v); return this; }
        public Builder attachTarget(AttachTarget v) { attachTarget = v; return this; }
        public Builder btf(Btf v) { btf = v; return this; }
        public Builder progIfindex(int v) { progIfindex = v; return this; }
        public Builder maps(java.util.List<BpfMap> v) { maps = v; return this; }

        public ProgramSpec build() {
            return new ProgramSpec(type, instructions, license, name, log, kernVersion, progFlags,
                    expectedAttachType, attachTarget, btf, progIfindex, maps);
        }
    }

    /** Programs this short and without a backward jump verify in microseconds (see {@link #isQuick}). */
    public static final int QUICK_INSNS = 64;

    /**
     * Whether the verifier's work on this program is small enough to do without a thread of its own:
     * at most {@link #QUICK_INSNS} instructions and no backward jump or call (so no loop and no
     * subprogram for the verifier to walk again and again), and no BTF to check.
     */
    public boolean isQuick() {
        int n = instructionCount();
        if (n > QUICK_INSNS || !btf.isEmpty()) {
            return false;
        }
        for (int i = 0; i < n; i++) {
            int op = instructions[i * INSN_SIZE] & 0xff;
            int cls = op & 0x07;
            if (cls == 0x05 || cls == 0x06) { // BPF_JMP, BPF_JMP32
                int code = op & 0xf0;
                short off = (short) ((instructions[i * INSN_SIZE + 2] & 0xff) | (instructions[i * INSN_SIZE + 3] << 8));
                int imm = (instructions[i * INSN_SIZE + 4] & 0xff) | (instructions[i * INSN_SIZE + 5] & 0xff) << 8
                        | (instructions[i * INSN_SIZE + 6] & 0xff) << 16 | instructions[i * INSN_SIZE + 7] << 24;
                int src = (instructions[i * INSN_SIZE + 1] >> 4) & 0x0f;
                boolean pseudoCall = code == 0x80 && src == 1; // BPF_CALL to a subprogram
                boolean gotol = cls == 0x06 && code == 0x00; // JMP32|JA: gotol, offset in imm
                if (pseudoCall || off < 0 || (gotol && imm < 0)) {
                    return false;
                }
            }
        }
        return true;
    }

    public int instructionCount() {
        return instructions.length / INSN_SIZE;
    }
}
