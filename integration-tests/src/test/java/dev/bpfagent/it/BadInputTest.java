package dev.bpfagent.it;

import static org.junit.jupiter.api.Assertions.*;

import com.google.protobuf.Any;
import com.google.protobuf.ByteString;
import com.google.rpc.BadRequest;
import com.google.rpc.ErrorInfo;
import dev.bpfagent.client.AgentChannels;
import dev.bpfagent.proto.v1.*;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Bad input of every kind, through the generated stub alone (as a client written from the proto
 * would), checking the status code, the ErrorInfo and the field a BadRequest names.
 */
class BadInputTest {
    static AgentProcess agent;
    static AgentChannels.Connection conn;
    static BpfServiceGrpc.BpfServiceBlockingStub stub;

    @BeforeAll
    static void start() throws Exception {
        Kernel.assumeRoot();
        agent = AgentProcess.start();
        conn = AgentChannels.connect(agent.unixTarget());
        stub = BpfServiceGrpc.newBlockingStub(conn.channel());
    }

    @AfterAll
    static void stop() throws Exception {
        if (conn != null) {
            conn.close();
        }
        if (agent != null) {
            agent.close();
        }
    }

    record Failure(Status.Code code, ErrorInfo info, BadRequest badRequest, String message) {
    }

    static Failure failure(Supplier<?> call) {
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class, call::get);
        com.google.rpc.Status s = StatusProto.fromThrowable(e);
        assertNotNull(s, "status details present");
        ErrorInfo info = null;
        BadRequest br = null;
        for (Any d : s.getDetailsList()) {
            try {
                if (d.is(ErrorInfo.class)) {
                    info = d.unpack(ErrorInfo.class);
                } else if (d.is(BadRequest.class)) {
                    br = d.unpack(BadRequest.class);
                }
            } catch (Exception ex) {
                fail(ex);
            }
        }
        assertNotNull(info, "every error carries an ErrorInfo");
        assertEquals("bpf-agent.dev", info.getDomain());
        assertNotEquals(Status.Code.UNKNOWN, e.getStatus().getCode());
        return new Failure(e.getStatus().getCode(), info, br, e.getStatus().getDescription());
    }

    static void assertField(Failure f, String field) {
        assertEquals(Status.Code.INVALID_ARGUMENT, f.code(), f.message());
        assertNotNull(f.badRequest(), "a BadRequest names the field");
        assertEquals(field, f.badRequest().getFieldViolations(0).getField());
        assertEquals(field, f.info().getMetadataOrThrow("field"));
        assertTrue(f.message().startsWith(field + ":"), f.message());
    }

    static LoadProgramRequest.Builder validLoad() {
        return LoadProgramRequest.newBuilder().setType(ProgramType.PROGRAM_TYPE_XDP)
                .setInstructions(ByteString.copyFrom(Asm.returnImm(2)));
    }

    static ObjectRef prog(int id) {
        return ObjectRef.newBuilder().setId(id).build();
    }

    @Test
    void loadProgramFields() {
        assertField(failure(() -> stub.loadProgram(validLoad().clearType().build())), "type");
        assertField(failure(() -> stub.loadProgram(validLoad().setTypeValue(999).build())), "type");
        assertField(failure(() -> stub.loadProgram(validLoad().clearInstructions().build())), "instructions");
        assertField(failure(() -> stub.loadProgram(validLoad().setInstructions(ByteString.copyFrom(new byte[12])).build())),
                "instructions");
        assertField(failure(() -> stub.loadProgram(validLoad().setName("has space").build())), "name");
        assertField(failure(() -> stub.loadProgram(validLoad().setName("a_name_far_too_long").build())), "name");
        assertField(failure(() -> stub.loadProgram(validLoad().setLicense("GPL\0x").build())), "license");
        assertField(failure(() -> stub.loadProgram(validLoad().setLog(VerifierLogOptions.newBuilder().setLevel(99)).build())),
                "log.level");
        assertField(failure(() -> stub.loadProgram(validLoad().setLog(VerifierLogOptions.newBuilder().setSize(1 << 30)).build())),
                "log.size");
        assertField(failure(() -> stub.loadProgram(validLoad().setLog(VerifierLogOptions.newBuilder().setSize(-5)).build())),
                "log.size");
        assertField(failure(() -> stub.loadProgram(validLoad().setLog(VerifierLogOptions.newBuilder().setLevel(-1)).build())),
                "log.level");
        assertField(failure(() -> stub.loadProgram(validLoad().setExpectedAttachTypeValue(5000).build())),
                "expected_attach_type");
        assertField(failure(() -> stub.loadProgram(validLoad().setAttachTarget(AttachTarget.newBuilder()
                .setKernelBtfObjId(1)).build())), "attach_target.btf_id");
        assertField(failure(() -> stub.loadProgram(validLoad().setAttachTarget(AttachTarget.newBuilder().setBtfId(1)
                .setProgram(ObjectRef.getDefaultInstance())).build())), "attach_target.program");
        assertField(failure(() -> stub.loadProgram(validLoad().setAttachTarget(AttachTarget.newBuilder().setBtfId(1)
                .setProgram(ObjectRef.newBuilder().setKind(ObjectKind.OBJECT_KIND_MAP).setId(3))).build())),
                "attach_target.program.kind");
        assertField(failure(() -> stub.loadProgram(validLoad().setBtf(ProgramBtf.newBuilder()
                .setFuncInfo(ByteString.copyFrom(new byte[12])).setBtf(ByteString.copyFrom(Btf.intFunction()))).build())),
                "btf.func_info");
        assertField(failure(() -> stub.loadProgram(validLoad().setBtf(ProgramBtf.newBuilder()
                .setFuncInfo(ByteString.copyFrom(new byte[8]))).build())), "btf.btf");
        assertField(failure(() -> stub.loadProgram(validLoad().setBtf(ProgramBtf.newBuilder().setLineInfoRecSize(-1)
                .setLineInfo(ByteString.copyFrom(new byte[16]))).build())), "btf.line_info_rec_size");
        assertField(failure(() -> stub.loadProgram(validLoad().putLabels("bad key", "v").build())), "labels");
        assertField(failure(() -> stub.loadProgram(validLoad().putLabels("k", "v".repeat(300)).build())), "labels");
        // A map reference must name a map the agent holds.
        Failure maps = failure(() -> stub.loadProgram(validLoad().addMaps(MapReference.newBuilder()
                .setMap(ObjectRef.newBuilder().setId(Integer.MAX_VALUE - 2))).build()));
        assertEquals(Status.Code.NOT_FOUND, maps.code());
        assertEquals("MAP_NOT_HELD", maps.info().getReason());
        assertField(failure(() -> stub.loadProgram(validLoad().addMaps(MapReference.getDefaultInstance()).build())),
                "maps[0].map");
    }

    @Test
    void kernelRefusalsKeepTheErrno() {
        // An attach target program that does not exist: the kernel's ENOENT, as NOT_FOUND with the errno.
        Failure f = failure(() -> stub.loadProgram(validLoad().setAttachTarget(AttachTarget.newBuilder().setBtfId(1)
                .setProgram(prog(Integer.MAX_VALUE - 3))).build()));
        assertEquals(Status.Code.NOT_FOUND, f.code());
        assertEquals("ENOENT", f.info().getReason());
        assertEquals("2", f.info().getMetadataOrThrow("errno"));
        assertTrue(f.message().contains("attach_target.program " + (Integer.MAX_VALUE - 3) + ": the kernel has no program"),
                f.message());
        // Garbage BTF: the kernel's EINVAL with its BTF log in the message.
        Failure btf = failure(() -> stub.loadProgram(validLoad().setBtf(ProgramBtf.newBuilder()
                .setBtf(ByteString.copyFrom(new byte[64]))).build()));
        assertEquals(Status.Code.INVALID_ARGUMENT, btf.code());
        assertEquals("BPF_BTF_LOAD", btf.info().getMetadataOrThrow("syscall"));
    }

    @Test
    void objectRefFields() {
        assertField(failure(() -> stub.testRunProgram(TestRunProgramRequest.getDefaultInstance())), "program");
        assertField(failure(() -> stub.pin(PinRequest.newBuilder().setPath("x").build())), "object");
        assertField(failure(() -> stub.closeProgram(CloseProgramRequest.getDefaultInstance())), "program");
        assertField(failure(() -> stub.getProgram(GetProgramRequest.getDefaultInstance())), "program");
        assertField(failure(() -> stub.getProgram(GetProgramRequest.newBuilder().setProgram(prog(0)).build())),
                "program.id");
        assertField(failure(() -> stub.testRunProgram(TestRunProgramRequest.newBuilder().setProgram(
                ObjectRef.newBuilder().setKind(ObjectKind.OBJECT_KIND_LINK).setId(5)).build())), "program.kind");
        assertField(failure(() -> stub.getProgram(GetProgramRequest.newBuilder().setProgram(
                ObjectRef.newBuilder().setKindValue(77).setId(5)).build())), "program.kind");
        assertField(failure(() -> stub.closeProgram(CloseProgramRequest.newBuilder().setProgram(
                ObjectRef.newBuilder().setPath("/etc/passwd")).build())), "program.path");

        Failure unknown = failure(() -> stub.testRunProgram(TestRunProgramRequest.newBuilder().setProgram(prog(999999)).build()));
        assertEquals(Status.Code.NOT_FOUND, unknown.code());
        assertEquals("PROGRAM_NOT_HELD", unknown.info().getReason());
        Failure noPin = failure(() -> stub.testRunProgram(TestRunProgramRequest.newBuilder().setProgram(
                ObjectRef.newBuilder().setPath("no/such/pin")).build()));
        assertEquals(Status.Code.NOT_FOUND, noPin.code());
        assertEquals("PIN_NOT_HELD", noPin.info().getReason());
        Failure mapPin = failure(() -> stub.pin(PinRequest.newBuilder().setPath("x").setObject(
                ObjectRef.newBuilder().setKind(ObjectKind.OBJECT_KIND_MAP).setId(Integer.MAX_VALUE - 2)).build()));
        assertEquals(Status.Code.NOT_FOUND, mapPin.code());
        assertEquals("MAP_NOT_HELD", mapPin.info().getReason());
        Failure linkPin = failure(() -> stub.pin(PinRequest.newBuilder().setPath("x").setObject(
                ObjectRef.newBuilder().setKind(ObjectKind.OBJECT_KIND_LINK).setId(Integer.MAX_VALUE - 2)).build()));
        assertEquals(Status.Code.NOT_FOUND, linkPin.code());
        assertEquals("LINK_NOT_HELD", linkPin.info().getReason());
        // a chain is not a kernel object: said plainly, naming the field
        Failure chainPin = failure(() -> stub.pin(PinRequest.newBuilder().setPath("x").setObject(
                ObjectRef.newBuilder().setKind(ObjectKind.OBJECT_KIND_CHAIN).setId(1)).build()));
        assertField(chainPin, "object.kind");
    }

    @Test
    void listFields() {
        assertField(failure(() -> stub.listPrograms(ListProgramsRequest.newBuilder().setPageSize(5000).build())),
                "page_size");
        assertField(failure(() -> stub.listPrograms(ListProgramsRequest.newBuilder().setPageToken("garbage!").build())),
                "page_token");
        assertField(failure(() -> stub.listPrograms(ListProgramsRequest.newBuilder().setTypeValue(999).build())),
                "type");
        assertField(failure(() -> stub.listPrograms(ListProgramsRequest.newBuilder().putLabels("", "x").build())),
                "labels");
    }

    @Test
    void testRunFields() {
        int id = stub.loadProgram(validLoad().build()).getProgram().getId();
        try {
            assertField(failure(() -> stub.testRunProgram(TestRunProgramRequest.newBuilder().setProgram(prog(id))
                    .setDataSizeOut(1 << 30).build())), "data_size_out");
            assertField(failure(() -> stub.testRunProgram(TestRunProgramRequest.newBuilder().setProgram(prog(id))
                    .setCtxSizeOut(1 << 30).build())), "ctx_size_out");
            // uint32 fields above 2^31 arrive as negative Java ints: still refused, by name
            assertField(failure(() -> stub.testRunProgram(TestRunProgramRequest.newBuilder().setProgram(prog(id))
                    .setDataSizeOut(-1).build())), "data_size_out");
            assertField(failure(() -> stub.testRunProgram(TestRunProgramRequest.newBuilder().setProgram(prog(id))
                    .setRepeat(-1).build())), "repeat");
            // XDP needs data: the kernel says EINVAL.
            Failure noData = failure(() -> stub.testRunProgram(TestRunProgramRequest.newBuilder().setProgram(prog(id))
                    .build()));
            assertEquals(Status.Code.INVALID_ARGUMENT, noData.code());
            assertEquals("EINVAL", noData.info().getReason());
            assertEquals("BPF_PROG_TEST_RUN", noData.info().getMetadataOrThrow("syscall"));
            // An output buffer too small for the packet: ENOSPC, RESOURCE_EXHAUSTED, and what to do.
            Failure small = failure(() -> stub.testRunProgram(TestRunProgramRequest.newBuilder().setProgram(prog(id))
                    .setDataIn(ByteString.copyFrom(dev.bpfagent.client.TestPackets.tcp().build()))
                    .setDataSizeOut(4).build()));
            assertEquals(Status.Code.RESOURCE_EXHAUSTED, small.code());
            assertTrue(small.message().contains("data_size_out"), small.message());
        } finally {
            stub.closeProgram(CloseProgramRequest.newBuilder().setProgram(prog(id)).build());
        }
    }

    @Test
    void pinPaths() {
        int id = stub.loadProgram(validLoad().build()).getProgram().getId();
        try {
            for (String bad : new String[] {"", "../escape", "a/../../b", "/sys/fs/bpf/elsewhere", "/etc/passwd", "a\0b"}) {
                assertField(failure(() -> stub.pin(PinRequest.newBuilder().setObject(prog(id)).setPath(bad)
                        .build())), "path");
            }
            assertField(failure(() -> stub.unpin(UnpinRequest.newBuilder().setPath("/sys/fs/bpf/x").build())), "path");
            assertField(failure(() -> stub.getPinned(GetPinnedRequest.newBuilder().setPath("/etc/passwd").build())),
                    "path");
            assertField(failure(() -> stub.getPinned(GetPinnedRequest.newBuilder().setPath("p")
                    .setProgram(ProgramExpectation.newBuilder().setTypeValue(999)).build())), "program.type");
            // a pin where a directory is needed
            String first = stub.pin(PinRequest.newBuilder().setObject(prog(id)).setPath("blocker").build()).getPath();
            Failure blocked = failure(() -> stub.pin(PinRequest.newBuilder().setObject(prog(id))
                    .setPath("blocker/below").build()));
            assertEquals(Status.Code.FAILED_PRECONDITION, blocked.code(), blocked.message());
            assertEquals("PIN_PATH_BLOCKED", blocked.info().getReason());
            // a program pin unpinned as a map: refused, the pin stays
            Failure wrongKind = failure(() -> stub.unpin(UnpinRequest.newBuilder().setPath(first)
                    .setExpectedKind(ObjectKind.OBJECT_KIND_MAP).build()));
            assertEquals(Status.Code.FAILED_PRECONDITION, wrongKind.code());
            assertEquals("KIND_MISMATCH", wrongKind.info().getReason());
            UnpinResponse un = stub.unpin(UnpinRequest.newBuilder().setPath(first)
                    .setExpectedKind(ObjectKind.OBJECT_KIND_PROGRAM).build());
            assertEquals(id, un.getObject().getId());
            assertEquals(ObjectKind.OBJECT_KIND_PROGRAM, un.getObject().getKind());
            // a path component longer than NAME_MAX
            Failure tooLong = failure(() -> stub.pin(PinRequest.newBuilder().setObject(prog(id))
                    .setPath("x".repeat(300)).build()));
            assertEquals(Status.Code.INVALID_ARGUMENT, tooLong.code(), tooLong.message());
            // names bpffs refuses, names too long, paths through a pin: each a precise code, never INTERNAL
            assertField(failure(() -> stub.pin(PinRequest.newBuilder().setObject(prog(id)).setPath("a.b").build())),
                    "path");
            assertField(failure(() -> stub.unpin(UnpinRequest.newBuilder().setPath("fuzz.none").build())), "path");
            String fourByte = new String(Character.toChars(0x1F600)).repeat(250);
            assertField(failure(() -> stub.unpin(UnpinRequest.newBuilder().setPath(fourByte).build())), "path");
            String blocker = stub.pin(PinRequest.newBuilder().setObject(prog(id)).setPath("blocker2").build()).getPath();
            Failure below = failure(() -> stub.unpin(UnpinRequest.newBuilder().setPath("blocker2/below").build()));
            assertEquals(Status.Code.FAILED_PRECONDITION, below.code(), below.message());
            assertEquals("PIN_PATH_BLOCKED", below.info().getReason());
            stub.unpin(UnpinRequest.newBuilder().setPath(blocker).build());
            Failure missing = failure(() -> stub.getPinned(GetPinnedRequest.newBuilder().setPath("no/such/pin").build()));
            assertEquals(Status.Code.NOT_FOUND, missing.code());
            assertEquals("PIN_NOT_FOUND", missing.info().getReason());
        } finally {
            stub.closeProgram(CloseProgramRequest.newBuilder().setProgram(prog(id)).build());
        }
    }

    @Test
    void bytesThatDoNotParseAreInvalidArgumentOnEveryMethod() throws Exception {
        byte[][] garbage = {
                {(byte) 0x08, (byte) 0xff, (byte) 0xff},                   // a truncated varint
                {(byte) 0x12, (byte) 0x40, 1, 2, 3},                        // a length past the end
                {(byte) 0x0d, 1},                                           // a fixed32 cut short
                {(byte) 0x22, 2, (byte) 0xc3, (byte) 0x28},                 // field 4 (a string in many requests): bad UTF-8
                {(byte) 0x07},                                              // wire type 7 does not exist
                nestedGroups(100_000),                                      // unknown groups nested 100,000 deep
                java.nio.file.Files.readAllBytes(java.nio.file.Path.of("/bin/true")), // an ELF file
        };
        for (var m : RawCalls.methods()) {
            for (byte[] g : garbage) {
                try {
                    RawCalls.call(conn.channel(), m, g); // unknown fields are legal: some of these parse
                } catch (StatusRuntimeException e) {
                    Failure f = failure(() -> { throw e; }); // never UNKNOWN, always an ErrorInfo
                    assertNotEquals(Status.Code.INTERNAL, f.code(), m.getFullMethodName() + ": " + f.message());
                    if (f.info().getReason().equals("MALFORMED_REQUEST")) {
                        assertEquals(Status.Code.INVALID_ARGUMENT, f.code());
                        assertTrue(f.info().getMetadataOrThrow("message_type").startsWith("bpfagent.v1."),
                                f.info().toString());
                    }
                }
            }
            // The clearest case names the type: a truncated varint in the first field.
            Failure f = failure(() -> RawCalls.call(conn.channel(), m, new byte[] {(byte) 0x08, (byte) 0xff}));
            assertEquals(Status.Code.INVALID_ARGUMENT, f.code(), m.getFullMethodName() + ": " + f.message());
            assertEquals("MALFORMED_REQUEST", f.info().getReason());
            assertTrue(f.message().contains("bpfagent.v1."), f.message());
        }
        assertEquals(io.grpc.health.v1.HealthCheckResponse.ServingStatus.SERVING, io.grpc.health.v1.HealthGrpc
                .newBlockingStub(conn.channel()).check(io.grpc.health.v1.HealthCheckRequest.getDefaultInstance())
                .getStatus());
    }

    /** Field 1 as a start-group tag, depth times, never ended. */
    static byte[] nestedGroups(int depth) {
        byte[] b = new byte[depth];
        java.util.Arrays.fill(b, (byte) 0x0b);
        return b;
    }

    @Test
    void pinsNeverGoThroughASymlinkBelowTheAgentsDirectory() throws Exception {
        int id = stub.loadProgram(validLoad().build()).getProgram().getId();
        java.nio.file.Path elsewhere = java.nio.file.Path.of("/sys/fs/bpf/bpf-agent-it-elsewhere-"
                + java.util.UUID.randomUUID().toString().substring(0, 8));
        java.nio.file.Files.createDirectories(elsewhere);
        java.nio.file.Path link = agent.bpffsDir.resolve("link");
        try {
            // root could plant one (the directory is root's, 0700): the agent still does not follow it
            java.nio.file.Files.createSymbolicLink(link, elsewhere);
            Failure f = failure(() -> stub.pin(PinRequest.newBuilder().setObject(prog(id)).setPath("link/p").build()));
            assertEquals(Status.Code.FAILED_PRECONDITION, f.code(), f.message());
            assertEquals("SYMLINK_IN_PATH", f.info().getReason());
            assertFalse(java.nio.file.Files.exists(elsewhere.resolve("p")), "nothing was pinned through the link");
            java.nio.file.Files.createDirectories(elsewhere.resolve("d"));
            stub.pin(PinRequest.newBuilder().setObject(prog(id)).setPath("real/p").build());
            Failure un = failure(() -> stub.unpin(UnpinRequest.newBuilder().setPath("link/d").build()));
            assertEquals("SYMLINK_IN_PATH", un.info().getReason());
            assertTrue(java.nio.file.Files.isDirectory(elsewhere.resolve("d")), "nothing was removed through it");
            stub.unpin(UnpinRequest.newBuilder().setPath("real/p").build());
            assertFalse(java.nio.file.Files.exists(agent.bpffsDir.resolve("real")), "the emptied directory went too");
        } finally {
            java.nio.file.Files.deleteIfExists(link);
            AgentProcess.deleteTree(elsewhere);
            stub.closeProgram(CloseProgramRequest.newBuilder().setProgram(prog(id)).build());
        }
    }
}
