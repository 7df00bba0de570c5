package dev.bpfagent.agent.service;

import dev.bpfagent.agent.bpf.AttachType;
import dev.bpfagent.agent.bpf.ProgramInfo;
import dev.bpfagent.agent.bpf.ProgramSpec;
import dev.bpfagent.agent.bpf.ProgramType;
import dev.bpfagent.agent.service.auth.Caller;
import dev.bpfagent.agent.service.errors.RequestException;
import dev.bpfagent.agent.service.state.Registry;
import dev.bpfagent.proto.v1.AgentView;
import dev.bpfagent.proto.v1.LoadProgramRequest;
import dev.bpfagent.proto.v1.ObjectKind;
import dev.bpfagent.proto.v1.ObjectRef;
import dev.bpfagent.proto.v1.Program;
import dev.bpfagent.proto.v1.ProgramKernelInfo;
import dev.bpfagent.proto.v1.ProgramLinks;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * Proto messages to bpf-layer values and back, each shape built from the one before it in one place.
 * Enum numbers are the kernel's on both sides. The kernel's rules are the spec's to check
 * ({@link ProgramSpec}); only what the proto alone can get wrong (unknown enum numbers) is checked here.
 */
final class ProtoConvert {
    private ProtoConvert() {
    }

    static ProgramType programType(dev.bpfagent.proto.v1.ProgramType t, String field) {
        if (t == dev.bpfagent.proto.v1.ProgramType.UNRECOGNIZED) {
            throw RequestException.invalid(field, "unknown program type number");
        }
        return ProgramType.of(t.getNumber()).orElseThrow(
                () -> RequestException.invalid(field, "program type " + t + " is not known to this agent"));
    }

    static AttachType attachType(dev.bpfagent.proto.v1.AttachType t, String field) {
        if (t == dev.bpfagent.proto.v1.AttachType.UNRECOGNIZED) {
            throw RequestException.invalid(field, "unknown attach type number");
        }
        return AttachType.of(t.getNumber()).orElseThrow(
                () -> RequestException.invalid(field, "attach type " + t + " is not known to this agent"));
    }

    /**
     * The spec a load request describes. targetProgramId is attach_target.program resolved to a kernel
     * id (0 for none): resolving it is the handler's, since it may name a pin.
     */
    static ProgramSpec spec(LoadProgramRequest req, int targetProgramId, List<dev.bpfagent.agent.bpf.BpfMap> maps) {
        var b = ProgramSpec.builder(programType(req.getType(), "type"), req.getInstructions().toByteArray())
                .license(req.getLicense())
                .name(req.getName())
                .log(req.getLog().getLevel(), req.getLog().getSize())
                .kernVersion(req.getKernVersion())
                .progFlags(req.getProgFlags())
                .progIfindex(req.getProgIfindex())
                .maps(maps);
        if (req.hasExpectedAttachType()) {
            b.expectedAttachType(attachType(req.getExpectedAttachType(), "expected_attach_type"));
        }
        if (req.hasAttachTarget()) {
            var t = req.getAttachTarget();
            if (!t.getFunction().isEmpty()) {
                if (t.getBtfId() != 0 || t.hasKernelBtfObjId() || t.hasProgram()) {
                    throw RequestException.invalid("attach_target.function", "names a kernel function; give it alone,"
                            + " without btf_id, kernel_btf_obj_id or program (a program's functions go by btf_id)");
                }
                b.attachTarget(dev.bpfagent.agent.bpf.KernelFunctions.attachTarget(programType(req.getType(), "type"),
                        req.hasExpectedAttachType() ? java.util.Optional.of(attachType(req.getExpectedAttachType(),
                                "expected_attach_type")) : java.util.Optional.empty(), t.getFunction()));
            } else {
                b.attachTarget(new ProgramSpec.AttachTarget(t.getBtfId(), t.getKernelBtfObjId(), targetProgramId));
            }
        }
        if (req.hasBtf()) {
            var btf = req.getBtf();
            b.btf(new ProgramSpec.Btf(btf.getBtf().toByteArray(), btf.getFuncInfo().toByteArray(),
                    btf.getFuncInfoRecSize(), btf.getLineInfo().toByteArray(), btf.getLineInfoRecSize()));
        }
        return b.build();
    }

    static ObjectKind kind(Registry.Kind k) {
        return switch (k) {
            case PROGRAM -> ObjectKind.OBJECT_KIND_PROGRAM;
            case MAP -> ObjectKind.OBJECT_KIND_MAP;
            case LINK -> ObjectKind.OBJECT_KIND_LINK;
            case CHAIN -> ObjectKind.OBJECT_KIND_CHAIN;
            case COLLECTION -> ObjectKind.OBJECT_KIND_COLLECTION;
        };
    }

    static ObjectRef ref(Registry.Key key) {
        return ObjectRef.newBuilder().setKind(kind(key.kind())).setId(key.id()).build();
    }

    /** The Program message: the kernel's info, the agent's view when held, links when found. */
    static Program program(ProgramInfo info, Registry.Entry held, List<Registry.Key> dependents,
                           Optional<dev.bpfagent.agent.bpf.KernelObjects.Attachments> links) {
        Program.Builder b = Program.newBuilder().setId(info.id()).setKernel(kernelInfo(info))
                .setAgent(held == null ? AgentView.getDefaultInstance() : agentView(held, dependents));
        links.ifPresent(l -> b.setLinks(ProgramLinks.newBuilder().addAllLinkIds(l.linkIds())
                .addAllXdpInterfaces(l.xdpInterfaces()).addAllCgroups(l.cgroups()).addAllTcFilters(l.tcFilters())
                .setAttached(l.attached())));
        return b.build();
    }

    static ProgramKernelInfo kernelInfo(ProgramInfo i) {
        return ProgramKernelInfo.newBuilder()
                .setTypeValue(i.typeNumber())
                .setName(i.name())
                .setTag(i.tag())
                .setJitedProgLen(i.jitedProgLen())
                .setXlatedProgLen(i.xlatedProgLen())
                .setLoadTimeNs(i.loadTimeNs())
                .setCreatedByUid(i.createdByUid())
                .addAllMapIds(i.mapIds())
                .setIfindex(i.ifindex())
                .setGplCompatible(i.gplCompatible())
                .setBtfId(i.btfId())
                .setRunTimeNs(i.runTimeNs())
                .setRunCnt(i.runCnt())
                .setRecursionMisses(i.recursionMisses())
                .setVerifiedInsns(i.verifiedInsns())
                .setAttachBtfObjId(i.attachBtfObjId())
                .setAttachBtfId(i.attachBtfId())
                .build();
    }

    /** The Map message: the kernel's info, and the agent's view when held. */
    static dev.bpfagent.proto.v1.Map map(dev.bpfagent.agent.bpf.MapInfo i, int valuesPerKey, Registry.Entry held,
                                         List<Registry.Key> dependents) {
        return dev.bpfagent.proto.v1.Map.newBuilder()
                .setId(i.id())
                .setKernel(dev.bpfagent.proto.v1.MapKernelInfo.newBuilder()
                        .setTypeValue(i.typeNumber())
                        .setName(i.name())
                        .setKeySize(i.keySize())
                        .setValueSize(i.valueSize())
                        .setMaxEntries(i.maxEntries())
                        .setMapFlags(i.mapFlags())
                        .setBtfId(i.btfId())
                        .setBtfKeyTypeId(i.btfKeyTypeId())
                        .setBtfValueTypeId(i.btfValueTypeId())
                        .setMapExtra(i.mapExtra())
                        .setValuesPerKey(valuesPerKey))
                .setAgent(held == null ? AgentView.getDefaultInstance() : agentView(held, dependents))
                .build();
    }

    static AgentView agentView(Registry.Entry e, List<Registry.Key> dependents) {
        AgentView.Builder b = AgentView.newBuilder()
                .setHeld(true)
                .setOwner(caller(e.owner()))
                .putAllLabels(e.labels())
                .setLeased(e.lease() != 0)
                .addAllReferences(e.references());
        for (Path p : e.pins()) {
            b.addPinnedPaths(p.toString());
        }
        e.dependsOn().stream().sorted().forEach(k -> b.addDependsOn(ref(k)));
        dependents.forEach(k -> b.addDependents(ref(k)));
        return b.build();
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

    /** libxdp's chain call action bits (1 << XDP_ABORTED .. 1 << XDP_REDIRECT) as XdpActions, in value order. */
    static java.util.List<dev.bpfagent.proto.v1.XdpAction> xdpActions(int bits) {
        java.util.List<dev.bpfagent.proto.v1.XdpAction> out = new java.util.ArrayList<>();
        for (int a = 0; a < 5; a++) {
            if ((bits & 1 << a) != 0) {
                out.add(dev.bpfagent.proto.v1.XdpAction.forNumber(a + 1));
            }
        }
        return out;
    }
}
