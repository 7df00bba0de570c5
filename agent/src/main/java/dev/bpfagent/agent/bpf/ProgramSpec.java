package dev.bpfagent.agent.bpf;

import java.util.Objects;
import java.util.Optional;

/**
 * What to load: a program not yet in the kernel. Values only; {@link Program#load} makes it live.
 *
 * @param instructions struct bpf_insn[], 8 bytes each, host (little-endian) byte order
 * @param license "GPL" unless the program avoids GPL-only helpers
 * @param name at most 15 bytes of [A-Za-z0-9_.], or empty
 * @param logLevel 0 (log only on rejection), 1, 2; bit 4 adds statistics
 * @param logSize initial verifier log buffer size in bytes; grown on demand up to {@link Program#MAX_LOG_SIZE}
 * @param kernVersion 0 for the running kernel's version code
 * @param progFlags BPF_F_* load flags
 * @param expectedAttachType empty for none
 * @param attachBtfId BTF type id of the attach target, 0 for none
 * @param attachBtfObjId kernel BTF object id holding attachBtfId (module BTF), 0 for vmlinux
 * @param attachProgId id of a loaded program to attach to (EXT programs), 0 for none
 * @param progBtf raw BTF describing the program, or empty
 * @param progIfindex device for an offloaded program, 0 for none
 * @param funcInfo struct bpf_func_info records (ids into progBtf), or empty
 * @param funcInfoRecSize bytes per funcInfo record; 0 for {@link #FUNC_INFO_SIZE}
 * @param lineInfo struct bpf_line_info records, or empty
 * @param lineInfoRecSize bytes per lineInfo record; 0 for {@link #LINE_INFO_SIZE}
 */
public record ProgramSpec(
        ProgramType type,
        byte[] instructions,
        String license,
        String name,
        int logLevel,
        int logSize,
        int kernVersion,
        int progFlags,
        Optional<AttachType> expectedAttachType,
        int attachBtfId,
        int attachBtfObjId,
        int attachProgId,
        byte[] progBtf,
        int progIfindex,
        byte[] funcInfo,
        int funcInfoRecSize,
        byte[] lineInfo,
        int lineInfoRecSize) {

    public static final int DEFAULT_LOG_SIZE = 64 * 1024;
    /** sizeof(struct bpf_func_info), sizeof(struct bpf_line_info) */
    public static final int FUNC_INFO_SIZE = 8;
    public static final int LINE_INFO_SIZE = 16;

    public ProgramSpec {
        Objects.requireNonNull(type, "type");
        Objects.requireNonNull(instructions, "instructions");
        license = license == null || license.isEmpty() ? "GPL" : license;
        name = name == null ? "" : name;
        logSize = logSize <= 0 ? DEFAULT_LOG_SIZE : logSize;
        expectedAttachType = expectedAttachType == null ? Optional.empty() : expectedAttachType;
        progBtf = progBtf == null ? new byte[0] : progBtf;
        funcInfo = funcInfo == null ? new byte[0] : funcInfo;
        lineInfo = lineInfo == null ? new byte[0] : lineInfo;
        funcInfoRecSize = funcInfoRecSize <= 0 ? FUNC_INFO_SIZE : funcInfoRecSize;
        lineInfoRecSize = lineInfoRecSize <= 0 ? LINE_INFO_SIZE : lineInfoRecSize;
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
        private String license = "GPL";
        private String name = "";
        private int logLevel;
        private int logSize;
        private int kernVersion;
        private int progFlags;
        private Optional<AttachType> expectedAttachType = Optional.empty();
        private int attachBtfId;
        private int attachBtfObjId;
        private int attachProgId;
        private byte[] progBtf;
        private int progIfindex;
        private byte[] funcInfo;
        private int funcInfoRecSize;
        private byte[] lineInfo;
        private int lineInfoRecSize;

        private Builder(ProgramType type, byte[] instructions) {
            this.type = type;
            this.instructions = instructions;
        }

        public Builder license(String v) { license = v; return this; }
        public Builder name(String v) { name = v; return this; }
        public Builder log(int level, int size) { logLevel = level; logSize = size; return this; }
        public Builder kernVersion(int v) { kernVersion = v; return this; }
        public Builder progFlags(int v) { progFlags = v; return this; }
        public Builder expectedAttachType(AttachType v) { expectedAttachType = Optional.ofNullable(v); return this; }
        public Builder attachBtfId(int v) { attachBtfId = v; return this; }
        public Builder attachBtfObjId(int v) { attachBtfObjId = v; return this; }
        public Builder attachProgId(int v) { attachProgId = v; return this; }
        public Builder progBtf(byte[] v) { progBtf = v; return this; }
        public Builder progIfindex(int v) { progIfindex = v; return this; }
        public Builder funcInfo(byte[] v, int recSize) { funcInfo = v; funcInfoRecSize = recSize; return this; }
        public Builder lineInfo(byte[] v, int recSize) { lineInfo = v; lineInfoRecSize = recSize; return this; }

        public ProgramSpec build() {
            return new ProgramSpec(type, instructions, license, name, logLevel, logSize, kernVersion, progFlags,
                    expectedAttachType, attachBtfId, attachBtfObjId, attachProgId, progBtf, progIfindex, funcInfo,
                    funcInfoRecSize, lineInfo, lineInfoRecSize);
        }
    }

    public int instructionCount() {
        return instructions.length / 8;
    }
}
