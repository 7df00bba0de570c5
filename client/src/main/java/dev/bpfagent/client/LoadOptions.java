package dev.bpfagent.client;

import com.google.protobuf.ByteString;
import dev.bpfagent.proto.v1.AttachTarget;
import dev.bpfagent.proto.v1.AttachType;
import dev.bpfagent.proto.v1.LoadProgramRequest;
import dev.bpfagent.proto.v1.ObjectKind;
import dev.bpfagent.proto.v1.ObjectRef;
import dev.bpfagent.proto.v1.ProgramBtf;
import dev.bpfagent.proto.v1.ProgramType;
import java.util.Map;
import java.util.Objects;

/**
 * What to load (the seed's load-program options): a thin builder over the proto's
 * {@link LoadProgramRequest}, so the client adds no second shape of the request and no defaults of its
 * own. Unset fields take the agent's defaults (license "GPL", no name, no log unless the verifier
 * rejects, running kernel version); the agent checks every field and names the one that is wrong.
 */
public final class LoadOptions {
    private final LoadProgramRequest request;

    private LoadOptions(LoadProgramRequest request) {
        this.request = request;
    }

    /** The request as it will be sent. */
    public LoadProgramRequest request() {
        return request;
    }

    /** Wraps a request built with the generated builder. */
    public static LoadOptions of(LoadProgramRequest request) {
        return new LoadOptions(Objects.requireNonNull(request, "request"));
    }

    public static Builder builder(ProgramType type, byte[] instructions) {
        return new Builder(type, instructions);
    }

    /** Builder for {@link LoadOptions}; each method sets the request field of the same name. */
    public static final class Builder {
        private final LoadProgramRequest.Builder b = LoadProgramRequest.newBuilder();

        private Builder(ProgramType type, byte[] instructions) {
            b.setType(Objects.requireNonNull(type, "type"))
                    .setInstructions(ByteString.copyFrom(Objects.requireNonNull(instructions, "instructions")));
        }

        public Builder license(String v) { b.setLicense(v); return this; }
        public Builder name(String v) { b.setName(v); return this; }
        /** An agent label (not the kernel's); ListPrograms filters on labels. */
        public Builder label(String key, String value) { b.putLabels(key, value); return this; }
        public Builder labels(Map<String, String> v) { b.putAllLabels(v); return this; }
        /** 0 none (the log still comes back on rejection), 1 basic, 2 verbose; OR 4 for statistics. */
        public Builder logLevel(int v) { b.getLogBuilder().setLevel(v); return this; }
        /** The first log buffer's size in bytes; the agent grows it as needed. */
        public Builder logSize(int v) { b.getLogBuilder().setSize(v); return this; }
        public Builder kernVersion(int v) { b.setKernVersion(v); return this; }
        public Builder progFlags(int v) { b.setProgFlags(v); return this; }
        public Builder expectedAttachType(AttachType v) { b.setExpectedAttachType(v); return this; }
        /** Loaded against a vmlinux function: its BTF type id. */
        public Builder attachBtfId(int btfId) { b.getAttachTargetBuilder().setBtfId(btfId); return this; }
        /** A kernel function (fentry/fexit/fmod_ret), LSM hook, BTF tracepoint or iterator by name. */
        public Builder attachFunction(String name) { b.getAttachTargetBuilder().setFunction(name); return this; }
        /** Loaded against a function of a kernel module: the module's BTF object id and the type id. */
        public Builder attachKernelBtf(int btfObjId, int btfId) {
            b.setAttachTarget(AttachTarget.newBuilder().setBtfId(btfId).setKernelBtfObjId(btfObjId));
            return this;
        }
        /** Loaded against a function of a loaded program (freplace, fentry on BPF): its id and the type id. */
        public Builder attachProgram(int programId, int btfId) {
            b.setAttachTarget(AttachTarget.newBuilder().setBtfId(btfId).setProgram(
                    ObjectRef.newBuilder().setKind(ObjectKind.OBJECT_KIND_PROGRAM).setId(programId)));
            return this;
        }
        /** The program's raw BTF. */
        public Builder btf(byte[] v) { btf().setBtf(ByteString.copyFrom(v)); return this; }
        /** struct bpf_func_info records (type ids into the BTF); recSize 0 for the kernel's 8. */
        public Builder funcInfo(byte[] v, int recSize) {
            btf().setFuncInfo(ByteString.copyFrom(v)).setFuncInfoRecSize(recSize);
            return this;
        }
        /** struct bpf_line_info records; recSize 0 for the kernel's 16. */
        public Builder lineInfo(byte[] v, int recSize) {
            btf().setLineInfo(ByteString.copyFrom(v)).setLineInfoRecSize(recSize);
            return this;
        }
        public Builder progIfindex(int v) { b.setProgIfindex(v); return this; }
        /**
         * Adds a map the instructions use; the n-th call's map is index n for ld_imm64 with src_reg
         * BPF_PSEUDO_MAP_IDX (5) or BPF_PSEUDO_MAP_IDX_VALUE (6).
         */
        public Builder map(int mapId) {
            b.addMaps(dev.bpfagent.proto.v1.MapReference.newBuilder().setMap(ObjectRef.newBuilder()
                    .setKind(ObjectKind.OBJECT_KIND_MAP).setId(mapId)));
            return this;
        }

        private ProgramBtf.Builder btf() {
            return b.getBtfBuilder();
        }

        public LoadOptions build() {
            return new LoadOptions(b.build());
        }
    }
}
