package dev.bpfagent.agent.service;

import dev.bpfagent.agent.bpf.AttachType;
import dev.bpfagent.agent.bpf.ProgramType;
import dev.bpfagent.agent.kernel.BpfProgInfo;
import dev.bpfagent.proto.v1.Program;
import dev.bpfagent.proto.v1.ProgramInfo;
import java.util.Arrays;
import java.util.Optional;

/** Proto messages to bpf-layer values and back. Enum numbers are the kernel's on both sides. */
final class Convert {
    private Convert() {
    }

    static ProgramType programType(dev.bpfagent.proto.v1.ProgramType t, String field) {
        if (t == dev.bpfagent.proto.v1.ProgramType.UNRECOGNIZED) {
            throw RequestException.invalid(field, "unknown program type number");
        }
        if (t == dev.bpfagent.proto.v1.ProgramType.PROGRAM_TYPE_UNSPECIFIED) {
            throw RequestException.invalid(field, "is required (e.g. PROGRAM_TYPE_XDP)");
        }
        return ProgramType.of(t.getNumber()).orElseThrow(
                () -> RequestException.invalid(field, "program type " + t + " is not known to this agent"));
    }

    static Optional<AttachType> attachType(dev.bpfagent.proto.v1.AttachType t, String field) {
        if (t == dev.bpfagent.proto.v1.AttachType.UNRECOGNIZED) {
            throw RequestException.invalid(field, "unknown attach type number");
        }
        if (t.getNumber() == 0) {
            return Optional.empty();
        }
        return Optional.of(AttachType.of(t.getNumber()).orElseThrow(
                () -> RequestException.invalid(field, "attach type " + t + " is not known to this agent")));
    }

    static dev.bpfagent.proto.v1.ProgramType toProto(int kernelType) {
        dev.bpfagent.proto.v1.ProgramType t = dev.bpfagent.proto.v1.ProgramType.forNumber(kernelType);
        return t == null ? dev.bpfagent.proto.v1.ProgramType.PROGRAM_TYPE_UNSPECIFIED : t;
    }

    static Program program(ProgramRegistry.Entry e) {
        var p = e.program();
        return Program.newBuilder()
                .setId(p.id())
                .setType(toProto(p.type().value))
                .setName(p.name())
                .setTag(p.tag())
                .addAllPinnedPaths(e.pinStrings())
                .setOwner(caller(e.owner()))
                .build();
    }

    static dev.bpfagent.proto.v1.Caller caller(Caller c) {
        var b = dev.bpfagent.proto.v1.Caller.newBuilder();
        switch (c.transport()) {
            case UNIX -> b.setTransport(dev.bpfagent.proto.v1.Caller.Transport.TRANSPORT_UNIX)
                    .setPid(c.pid()).setUid(c.uid()).setGid(c.gid());
            case TCP -> b.setTransport(dev.bpfagent.proto.v1.Caller.Transport.TRANSPORT_TCP).setAddress(c.address())
                    .setTlsSubject(c.tlsSubject());
            case IN_PROCESS -> b.setTransport(dev.bpfagent.proto.v1.Caller.Transport.TRANSPORT_UNSPECIFIED)
                    .setAddress(c.address());
        }
        return b.build();
    }

    static ProgramInfo info(BpfProgInfo i, ProgramRegistry.Entry held) {
        ProgramInfo.Builder b = ProgramInfo.newBuilder()
                .setId(i.id())
                .setType(toProto(i.type()))
                .setName(i.name())
                .setTag(i.tagHex())
                .setJitedProgLen(i.jited_prog_len())
                .setXlatedProgLen(i.xlated_prog_len())
                .setLoadTimeNs(i.load_time())
                .setCreatedByUid(i.created_by_uid())
                .addAllMapIds(Arrays.stream(i.map_ids()).boxed().toList())
                .setIfindex(i.ifindex())
                .setGplCompatible(i.gpl_compatible())
                .setBtfId(i.btf_id())
                .setRunTimeNs(i.run_time_ns())
                .setRunCnt(i.run_cnt())
                .setRecursionMisses(i.recursion_misses())
                .setVerifiedInsns(i.verified_insns())
                .setAttachBtfObjId(i.attach_btf_obj_id())
                .setAttachBtfId(i.attach_btf_id())
                .setHeldByAgent(held != null);
        if (held != null) {
            b.addAllPinnedPaths(held.pinStrings()).setOwner(caller(held.owner()));
        }
        return b.build();
    }
}
