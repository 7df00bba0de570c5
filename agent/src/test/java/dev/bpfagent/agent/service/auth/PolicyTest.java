package dev.bpfagent.agent.service.auth;

import static org.junit.jupiter.api.Assertions.*;

import com.google.protobuf.ByteString;
import com.google.protobuf.Message;
import dev.bpfagent.agent.service.errors.RequestException;
import dev.bpfagent.proto.v1.*;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** The policy file: parsing, matching, roles, limits and ownership, without a kernel. */
class PolicyTest {
    static final String POLICY = """
            {"rules": [
              {"name": "ops", "match": {"gids": [1001]}, "role": "ROLE_OPERATE"},
              {"name": "viewers", "match": {"uids": [2000], "tlsSubjects": ["CN=grafana,O=example"]},
               "role": "ROLE_READ", "limits": {"readOthers": true}},
              {"name": "tracers", "match": {"tlsSans": ["spiffe://example/tracer"]}, "role": "ROLE_OPERATE",
               "limits": {"programTypes": ["PROGRAM_TYPE_KPROBE", "PROGRAM_TYPE_TRACEPOINT"], "maxObjects": 2}}
            ]}""";

    static final Caller OPS = Caller.unix(10, 1500, 1500, List.of(1001));
    static final Caller OPS2 = Caller.unix(11, 1501, 1001, List.of());
    static final Caller VIEWER = Caller.unix(12, 2000, 2000, List.of());
    static final Caller ROOT = Caller.unix(13, 0, 0, List.of());
    static final Caller STRANGER = Caller.unix(14, 3000, 3000, List.of());
    static final Caller TRACER = new Caller(Caller.Transport.TCP, 0, -1, -1, "/10.0.0.5:4000", "CN=tracer",
            List.of(), List.of("spiffe://example/tracer"));

    static PolicyAuthorizer authorizer(String json, OwnerLookup owners) throws Exception {
        Path f = Files.createTempFile("policy", ".json");
        Files.writeString(f, json);
        PolicyAuthorizer a = new PolicyAuthorizer(f);
        a.owners(owners);
        Files.delete(f);
        return a;
    }

    static Authorizer.Call call(Caller c, String method, Message request) {
        return new Authorizer.Call(c, "bpfagent.v1.BpfService/" + method, request, ObjectRefs.in(request));
    }

    static byte[] insns(int... helperCalls) {
        ByteBuffer b = ByteBuffer.allocate(8 * (helperCalls.length + 2)).order(ByteOrder.LITTLE_ENDIAN);
        for (int h : helperCalls) {
            b.put((byte) 0x85).put((byte) 0).putShort((short) 0).putInt(h);
        }
        b.put((byte) 0xb7).put((byte) 0).putShort((short) 0).putInt(0); // r0 = 0
        b.put((byte) 0x95).put((byte) 0).putShort((short) 0).putInt(0); // exit
        return b.array();
    }

    static LoadProgramRequest load(ProgramType t, int flags, byte[] insns) {
        return LoadProgramRequest.newBuilder().setType(t).setProgFlags(flags)
                .setInstructions(ByteString.copyFrom(insns)).build();
    }

    static String refusal(Runnable r) {
        RequestException e = assertThrows(RequestException.class, r::run);
        assertEquals(io.grpc.Status.Code.PERMISSION_DENIED, e.code());
        assertEquals("POLICY_DENIED", e.reason());
        return e.getMessage();
    }

    /** program 1 is OPS's, map 2 is root's, pin "ops/p" OPS's, pin "other" root's. */
    static final OwnerLookup OWNERS = new OwnerLookup() {
        @Override
        public Optional<Caller> ownerOf(ObjectRef ref, String kind) {
            if (ref.getId() == 1 && !kind.equals("OBJECT_KIND_MAP")) {
                return Optional.of(OPS);
            }
            if (ref.getId() == 2) {
                return Optional.of(ROOT);
            }
            return Optional.empty();
        }

        @Override
        public Optional<Caller> ownerOfPin(String path) {
            return path.equals("ops/p") ? Optional.of(OPS) : path.equals("other") ? Optional.of(ROOT) : Optional.empty();
        }

        @Override
        public int heldBy(Caller caller) {
            return caller.sameIdentity(TRACER) ? 2 : 0;
        }
    };

    @Test
    void callersMatchByUidGroupSubjectOrSanAndRootIsAdminByDefault() throws Exception {
        Policy p = authorizer(POLICY, OwnerLookup.NONE).policy();
        assertEquals("ops", p.match(OPS).orElseThrow().rule(), "a supplementary group");
        assertEquals("ops", p.match(OPS2).orElseThrow().rule(), "the primary group");
        assertEquals(Role.ROLE_READ, p.match(VIEWER).orElseThrow().role());
        assertEquals("viewers", p.match(new Caller(Caller.Transport.TCP, 0, -1, -1, "/1.2.3.4:5",
                "CN=grafana,O=example")).orElseThrow().rule());
        assertEquals("tracers", p.match(TRACER).orElseThrow().rule(), "a SAN");
        assertTrue(p.match(ROOT).orElseThrow().admin(), "uid 0 is admin unless a rule says otherwise");
        assertTrue(p.match(STRANGER).isEmpty());
        assertTrue(p.match(new Caller(Caller.Transport.TCP, 0, -1, -1, "/1.2.3.4:5", "")).isEmpty(),
                "TCP without a certificate matches nothing");
        Policy rootRead = authorizer("{\"rules\":[{\"name\":\"r\",\"match\":{\"uids\":[0]},\"role\":\"ROLE_READ\"}]}",
                OwnerLookup.NONE).policy();
        assertEquals(Role.ROLE_READ, rootRead.match(ROOT).orElseThrow().role(), "a rule for uid 0 decides");
    }

    @Test
    void badFilesAreRefusedNamingTheField() {
        for (String[] bad : new String[][] {
                {"{\"rules\":[{\"match\":{\"uids\":[1]},\"role\":\"ROLE_READ\"}]}", "rules[0].name"},
                {"{\"rules\":[{\"name\":\"a\",\"role\":\"ROLE_READ\"}]}", "rules[0].match"},
                {"{\"rules\":[{\"name\":\"a\",\"match\":{\"uids\":[1]}}]}", "rules[0].role"},
                {"{\"rules\":[{\"name\":\"a\",\"match\":{\"uids\":[1]},\"role\":\"ROLE_READ\"},"
                        + "{\"name\":\"a\",\"match\":{\"uids\":[2]},\"role\":\"ROLE_READ\"}]}", "rules[1].name"},
                {"{\"rules\":[{\"name\":\"a b\",\"match\":{\"uids\":[1]},\"role\":\"ROLE_READ\"}]}", "rules[0].name"},
                {"{\"rulez\":[]}", "not a policy"},
        }) {
            var e = assertThrows(IllegalArgumentException.class, () -> Policy.parse(bad[0], Path.of("p.json")));
            assertTrue(e.getMessage().contains(bad[1]), bad[1] + ": " + e.getMessage());
        }
    }

    @Test
    void rolesLimitWhatMayBeCalledLoadedAndRun() throws Exception {
        PolicyAuthorizer a = authorizer(POLICY, OWNERS);
        byte[] plain = insns();
        a.authorize(call(OPS, "LoadProgram", load(ProgramType.PROGRAM_TYPE_XDP, 0, plain)));
        assertTrue(refusal(() -> a.authorize(call(OPS, "LoadProgram", load(ProgramType.PROGRAM_TYPE_SYSCALL, 0, plain))))
                .contains("PROGRAM_TYPE_SYSCALL"));
        for (ProgramType t : List.of(ProgramType.PROGRAM_TYPE_KPROBE, ProgramType.PROGRAM_TYPE_TRACING,
                ProgramType.PROGRAM_TYPE_LSM, ProgramType.PROGRAM_TYPE_STRUCT_OPS, ProgramType.PROGRAM_TYPE_EXT)) {
            refusal(() -> a.authorize(call(OPS, "LoadProgram", load(t, 0, plain))));
        }
        String sleepable = refusal(() -> a.authorize(call(OPS, "LoadProgram", load(ProgramType.PROGRAM_TYPE_XDP, 1 << 4,
                plain))));
        assertTrue(sleepable.contains("BPF_F_SLEEPABLE") && sleepable.contains("rule 'ops'")
                && sleepable.contains("uid=1500"), sleepable);
        assertTrue(refusal(() -> a.authorize(call(OPS, "LoadProgram", load(ProgramType.PROGRAM_TYPE_XDP, 0,
                insns(1, 36))))).contains("instruction 1 calls bpf_probe_write_user"));
        refusal(() -> a.authorize(call(OPS, "LoadProgram", load(ProgramType.PROGRAM_TYPE_XDP, 0, insns(58)))));
        a.authorize(call(OPS, "LoadProgram", load(ProgramType.PROGRAM_TYPE_XDP, 0, insns(1, 5, 6))));
        a.authorize(call(ROOT, "LoadProgram", load(ProgramType.PROGRAM_TYPE_SYSCALL, 1 << 4, insns(36))));
        // test runs
        var live = TestRunProgramRequest.newBuilder().setProgram(ObjectRef.newBuilder().setId(1)).setFlags(2).build();
        assertTrue(refusal(() -> a.authorize(call(OPS, "TestRunProgram", live))).contains("LIVE_FRAMES"));
        a.authorize(call(OPS, "TestRunProgram", live.toBuilder().setFlags(0).build()));
        // read-only and admin-only calls
        a.authorize(call(VIEWER, "ListPrograms", ListProgramsRequest.getDefaultInstance()));
        assertTrue(refusal(() -> a.authorize(call(VIEWER, "LoadProgram", load(ProgramType.PROGRAM_TYPE_XDP, 0, plain))))
                .contains("ROLE_READ"));
        refusal(() -> a.authorize(call(OPS, "SetRunStats", SetRunStatsRequest.getDefaultInstance())));
        a.authorize(call(ROOT, "SetRunStats", SetRunStatsRequest.getDefaultInstance()));
        assertTrue(refusal(() -> a.authorize(call(STRANGER, "GetAgentInfo", GetAgentInfoRequest.getDefaultInstance())))
                .contains("no rule"));
        // a rule's own program types, and its object quota
        a.authorize(call(TRACER, "GetAgentInfo", GetAgentInfoRequest.getDefaultInstance()));
        assertTrue(refusal(() -> a.authorize(call(TRACER, "LoadProgram", load(ProgramType.PROGRAM_TYPE_KPROBE, 0,
                plain)))).contains("max_objects"));
        // a rule's attach types
        PolicyAuthorizer cg = authorizer("""
                {"rules": [{"name": "cg", "match": {"uids": [1500]}, "role": "ROLE_OPERATE",
                            "limits": {"attachTypes": ["ATTACH_TYPE_CGROUP_INET4_CONNECT"]}}]}""", OWNERS);
        cg.authorize(call(OPS, "LoadProgram", load(ProgramType.PROGRAM_TYPE_CGROUP_SOCK_ADDR, 0, plain).toBuilder()
                .setExpectedAttachType(AttachType.ATTACH_TYPE_CGROUP_INET4_CONNECT).build()));
        assertTrue(refusal(() -> cg.authorize(call(OPS, "LoadProgram", load(ProgramType.PROGRAM_TYPE_CGROUP_SOCK_ADDR, 0,
                plain).toBuilder().setExpectedAttachType(AttachType.ATTACH_TYPE_CGROUP_INET6_CONNECT).build())))
                .contains("ATTACH_TYPE_CGROUP_INET6_CONNECT"));
        refusal(() -> cg.authorize(call(OPS, "AttachProgram", AttachProgramRequest.newBuilder().setProgram(
                ObjectRef.newBuilder().setId(1)).setHook(Hook.newBuilder().setCgroup(CgroupHook.newBuilder()
                .setPath("/sys/fs/cgroup/x").setAttachType(AttachType.ATTACH_TYPE_CGROUP_INET_EGRESS))).build())));
        // LoadObject's programs are put to the same rules
        assertTrue(assertThrows(RequestException.class, () -> a.authorizeProgram(OPS, "LoadObject",
                ProgramType.PROGRAM_TYPE_TRACING_VALUE, 0, ByteString.copyFrom(plain), "fe")).getMessage()
                .contains("LoadObject of 'fe'"));
    }

    @Test
    void othersObjectsAreTheirs() throws Exception {
        PolicyAuthorizer a = authorizer(POLICY, OWNERS);
        ObjectRef mine = ObjectRef.newBuilder().setId(1).build();
        ObjectRef roots = ObjectRef.newBuilder().setKind(ObjectKind.OBJECT_KIND_MAP).setId(2).build();
        a.authorize(call(OPS, "CloseProgram", CloseProgramRequest.newBuilder().setProgram(mine).build()));
        a.authorize(call(OPS, "GetProgram", GetProgramRequest.newBuilder().setProgram(mine).build()));
        String close = refusal(() -> a.authorize(call(OPS, "CloseMap", CloseMapRequest.newBuilder().setMap(roots).build())));
        assertTrue(close.contains("uid=0") && close.contains("only its owner"), close);
        assertTrue(refusal(() -> a.authorize(call(OPS, "GetMap", GetMapRequest.newBuilder().setMap(roots).build())))
                .contains("read_others"));
        a.authorize(call(VIEWER, "GetMap", GetMapRequest.newBuilder().setMap(roots).build()));
        refusal(() -> a.authorize(call(OPS2, "CloseProgram", CloseProgramRequest.newBuilder().setProgram(mine).build())));
        a.authorize(call(ROOT, "CloseProgram", CloseProgramRequest.newBuilder().setProgram(mine).build()));
        // pins: under the rule's prefix; others' pins are not unpinned
        a.authorize(call(OPS, "Pin", PinRequest.newBuilder().setObject(mine).setPath("ops/p").build()));
        assertTrue(refusal(() -> a.authorize(call(OPS, "Pin", PinRequest.newBuilder().setObject(mine).setPath("x/p")
                .build()))).contains("under 'ops/'"));
        refusal(() -> a.authorize(call(OPS, "Pin", PinRequest.newBuilder().setObject(mine).setPath("ops/../x").build())));
        a.authorize(call(OPS, "Unpin", UnpinRequest.newBuilder().setPath("ops/p").build()));
        refusal(() -> a.authorize(call(OPS, "Unpin", UnpinRequest.newBuilder().setPath("other").build())));
    }

    @Test
    void listsShowOthersObjectsOnlyToWhomThePolicyLets() throws Exception {
        PolicyAuthorizer a = authorizer(POLICY, OWNERS);
        assertTrue(a.maySee(OPS, Caller.unix(99, 1500, 7, List.of()), false), "the same uid");
        assertFalse(a.maySee(OPS, ROOT, false), "ROLE_OPERATE without read_others");
        assertTrue(a.maySee(OPS, ROOT, true), "unless it holds a reference (GetPinned)");
        assertTrue(a.maySee(VIEWER, ROOT, false), "read_others");
        assertTrue(a.maySee(ROOT, OPS, false), "admins see everything");
        assertFalse(a.maySee(STRANGER, STRANGER, false), "no rule, nothing");
        assertTrue(refusal(() -> a.authorize(call(OPS, "ListPrograms", ListProgramsRequest.newBuilder()
                .setIncludeKernel(true).build()))).contains("include_kernel"));
        a.authorize(call(VIEWER, "ListMaps", ListMapsRequest.newBuilder().setIncludeKernel(true).build()));
    }

    @Test
    void concurrentCallsAreCountedPerIdentityUntilTheyEnd() throws Exception {
        PolicyAuthorizer a = authorizer("""
                {"rules": [{"name": "one-at-a-time", "match": {"uids": [1500]}, "role": "ROLE_OPERATE",
                            "limits": {"maxConcurrentCalls": 1}}]}""", OWNERS);
        Authorizer.Call first = call(OPS, "GetAgentInfo", GetAgentInfoRequest.getDefaultInstance());
        a.authorize(first);
        Authorizer.Call second = call(OPS, "GetAgentInfo", GetAgentInfoRequest.getDefaultInstance());
        assertTrue(refusal(() -> a.authorize(second)).contains("max_concurrent_calls (1)"));
        a.authorize(call(ROOT, "GetAgentInfo", GetAgentInfoRequest.getDefaultInstance())); // others are not counted
        a.ended(second); // never counted: changes nothing
        assertTrue(refusal(() -> a.authorize(call(OPS, "GetAgentInfo", GetAgentInfoRequest.getDefaultInstance())))
                .contains("max_concurrent_calls"));
        a.ended(first);
        a.authorize(call(OPS, "GetAgentInfo", GetAgentInfoRequest.getDefaultInstance()));
    }

    @Test
    void everyMethodOfTheServiceIsClassified() {
        for (var m : BpfServiceGrpc.getServiceDescriptor().getMethods()) {
            assertTrue(Methods.ACTIONS.containsKey(m.getFullMethodName()), m.getFullMethodName()
                    + " has no action: a new call must say in bpf_service.proto (option (bpfagent.v1.method)) whether it"
                    + " reads, operates or administers");
        }
    }
}
