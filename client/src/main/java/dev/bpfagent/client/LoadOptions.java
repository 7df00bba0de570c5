package dev.bpfagent.client;

import dev.bpfagent.proto.v1.AttachType;
import dev.bpfagent.proto.v1.ProgramType;
import java.util.Objects;

/**
 * What to load (the seed's load-program options). Build with {@link #builder}; unset fields take the
 * agent's defaults (license "GPL", no name, no log unless the verifier rejects, running kernel version).
 */
public record LoadOptions(ProgramType type, byte[] instructions, String license, String name, int logLevel,
                          int logSize, int kernVersion, int progFlags, AttachType expectedAttachType,
                          int attachBtfId, int attachBtfObjId, int attachProgId, byte[] progBtf, int progIfindex,
                          byte[] funcInfo, int funcInfoRecSize, byte[] lineInfo, int lineInfoRecSize) {

    public LoadOptions {
        Objects.requireNonNull(type, "type");
        Objects.requireNonNull(instructions, "instructions");
        license = license == null ? "GPL" : license;
        name = name == null ? "" : name;
        expectedAttachType = expectedAttachType == null ? AttachType.ATTACH_TYPE_UNSPECIFIED : expectedAttachType;
        progBtf = progBtf == null ? new byte[0] : progBtf;
        funcInfo = funcInfo == null ? new byte[0] : funcInfo;
        lineInfo = lineInfo == null ? new byte[0] : lineInfo;
    }

    public static Builder builder(ProgramType type, byte[] instructions) {
        return new Builder(type, instructions);
    }

    /** Builder for {@link LoadOptions}. */
    public static final class Builder {
        private final ProgramType type;
        private final byte[] instructions;
        private String license = "GPL";
        private String name = "";
        private int logLevel;
        private int logSize;
        private int kernVersion;
        private int progFlags;
        private AttachType expectedAttachType = AttachType.ATTACH_TYPE_UNSPECIFIED;
        private int attachBtfId;
        private int attachBtfObjId;
        private int attachProgId;
        private byte[] progBtf = new byte[0];
        private int progIfindex;
        private byte[] funcInfo = new byte[0];
        private int funcInfoRecSize;
        private byte[] lineInfo = new byte[0];
        private int lineInfoRecSize;

        private Builder(ProgramType type, byte[] instructions) {
            this.type = type;
            this.instructions = instructions;
        }

        public Builder license(String v) { license = v; return this; }
        public Builder name(String v) { name = v; return this; }
        /** 0 none (the log still comes back on rejection), 1 basic, 2 verbose. */
        public Builder logLevel(int v) { logLevel = v; return this; }
        public Builder logSize(int v) { logSize = v; return this; }
        public Builder kernVersion(int v) { kernVersion = v; return this; }
        public Builder progFlags(int v) { progFlags = v; return this; }
        public Builder expectedAttachType(AttachType v) { expectedAttachType = v; return this; }
        public Builder attachBtfId(int v) { attachBtfId = v; return this; }
        public Builder attachBtfObjId(int v) { attachBtfObjId = v; return this; }
        public Builder attachProgId(int v) { attachProgId = v; return this; }
        public Builder progBtf(byte[] v) { progBtf = v; return this; }
        public Builder progIfindex(int v) { progIfindex = v; return this; }
        /** struct bpf_func_info records (type ids into progBtf); recSize 0 for the kernel's 8. */
        public Builder funcInfo(byte[] v, int recSize) { funcInfo = v; funcInfoRecSize = recSize; return this; }
        /** struct bpf_line_info records; recSize 0 for the kernel's 16. */
        public Builder lineInfo(byte[] v, int recSize) { lineInfo = v; lineInfoRecSize = recSize; return this; }

        public LoadOptions build() {
            return new LoadOptions(type, instructions, license, name, logLevel, logSize, kernVersion, progFlags,
                    expectedAttachType, attachBtfId, attachBtfObjId, attachProgId, progBtf, progIfindex, funcInfo,
                    funcInfoRecSize, lineInfo, lineInfoRecSize);
        }
    }
}
