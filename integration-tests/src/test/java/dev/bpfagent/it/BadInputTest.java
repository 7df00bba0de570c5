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
        assertField(failure(() -> stub.loadProgram(validLoad().setLogLevel(99).build())), "log_level");
        assertField(failure(() -> stub.loadProgram(validLoad().setLogSize(1 << 30).build())), "log_size");
        assertField(failure(() -> stub.loadProgram(validLoad().setLogSize(-5).build())), "log_size");
        assertField(failure(() -> stub.loadProgram(validLoad().setLogLevel(-1).build())), "log_level");
        assertField(failure(() -> stub.loadProgram(validLoad().setExpectedAttachTypeValue(5000).build())),
                "expected_attach_type");
        assertField(failure(() -> stub.loadProgram(validLoad().setAttachBtfObjId(1).setAttachProgId(1).build())),
                "attach_prog_id");
        assertField(failure(() -> stub.loadProgram(validLoad().setFuncInfo(ByteString.copyFrom(new byte[12]))
                .setProgBtf(ByteString.copyFrom(Btf.intFunction())).build())), "func_info");
        assertField(failure(() -> stub.loadProgram(validLoad().setFuncInfo(ByteString.copyFrom(new byte[8])).build())),
                "prog_btf");
        assertField(failure(() -> stub.loadProgram(validLoad().setLineInfoRecSize(-1)
                .setLineInfo(ByteString.copyFrom(new byte[16])).build())), "line_info_rec_size");
    }

    @Test
    void kernelRefusalsKeepTheErrno() {
        // An attach_prog_id that does not exist: the kernel's ENOENT, as NOT_FOUND with the errno.
        Failure f = failure(() -> stub.loadProgram(validLoad().setAttachProgId(Integer.MAX_VALUE - 3).build()));
        assertEquals(Status.Code.NOT_FOUND, f.code());
        assertEquals("ENOENT", f.info().getReason());
        assertEquals("2", f.info().getMetadataOrThrow("errno"));
        assertTrue(f.message().contains("attach_prog_id " + (Integer.MAX_VALUE - 3) + ": the kernel has no program"),
                f.message());
        // Garbage BTF: the kernel's EINVAL with its BTF log in the message.
        Failure btf = failure(() -> stub.loadProgram(validLoad().setProgBtf(ByteString.copyFrom(new byte[64])).build()));
        assertEquals(Status.Code.INVALID_ARGUMENT, btf.code());
        assertEquals("BPF_BTF_LOAD", btf.info().getMetadataOrThrow("syscall"));
    }

    @Test
    void programIdFields() {
        assertField(failure(() -> stub.testRunProgram(TestRunProgramRequest.getDefaultInstance())), "program_id");
        assertField(failure(() -> stub.pinProgram(PinProgramRequest.newBuilder().setPath("x").build())), "program_id");
        assertField(failure(() -> stub.closeProgram(CloseProgramRequest.getDefaultInstance())), "program_id");
        assertField(failure(() -> stub.programExists(ProgramExistsRequest.getDefaultInstance())), "program_id");
        assertField(failure(() -> stub.programAttached(ProgramAttachedRequest.getDefaultInstance())), "program_id");
        assertField(failure(() -> stub.getProgramInfo(GetProgramInfoRequest.getDefaultInstance())), "program_id");

        Failure unknown = failure(() -> stub.testRunProgram(TestRunProgramRequest.newBuilder().setProgramId(999999).build()));
        assertEquals(Status.Code.NOT_FOUND, unknown.code());
        assertEquals("PROGRAM_NOT_HELD", unknown.info().getReason());
    }

    @Test
    void testRunFields() {
        int id = stub.loadProgram(validLoad().build()).getProgram().getId();
        try {
            assertField(failure(() -> stub.testRunProgram(TestRunProgramRequest.newBuilder().setProgramId(id)
                    .setDataSizeOut(1 << 30).build())), "data_size_out");
            assertField(failure(() -> stub.testRunProgram(TestRunProgramRequest.newBuilder().setProgramId(id)
                    .setCtxSizeOut(1 << 30).build())), "ctx_size_out");
            // uint32 fields above 2^31 arrive as negative Java ints: still refused, by name
            assertField(failure(() -> stub.testRunProgram(TestRunProgramRequest.newBuilder().setProgramId(id)
                    .setDataSizeOut(-1).build())), "data_size_out");
            assertField(failure(() -> stub.testRunProgram(TestRunProgramRequest.newBuilder().setProgramId(id)
                    .setRepeat(-1).build())), "repeat");
            // XDP needs data: the kernel says EINVAL.
            Failure noData = failure(() -> stub.testRunProgram(TestRunProgramRequest.newBuilder().setProgramId(id).build()));
            assertEquals(Status.Code.INVALID_ARGUMENT, noData.code());
            assertEquals("EINVAL", noData.info().getReason());
            assertEquals("BPF_PROG_TEST_RUN", noData.info().getMetadataOrThrow("syscall"));
            // An output buffer too small for the packet: ENOSPC, RESOURCE_EXHAUSTED, and what to do.
            Failure small = failure(() -> stub.testRunProgram(TestRunProgramRequest.newBuilder().setProgramId(id)
                    .setDataIn(ByteString.copyFrom(dev.bpfagent.client.TestPackets.tcp().build()))
                    .setDataSizeOut(4).build()));
            assertEquals(Status.Code.RESOURCE_EXHAUSTED, small.code());
            assertTrue(small.message().contains("data_size_out"), small.message());
        } finally {
            stub.closeProgram(CloseProgramRequest.newBuilder().setProgramId(id).build());
        }
    }

    @Test
    void pinPaths() {
        int id = stub.loadProgram(validLoad().build()).getProgram().getId();
        try {
            for (String bad : new String[] {"", "../escape", "a/../../b", "/sys/fs/bpf/elsewhere", "/etc/passwd", "a\0b"}) {
                assertField(failure(() -> stub.pinProgram(PinProgramRequest.newBuilder().setProgramId(id).setPath(bad)
                        .build())), "path");
            }
            assertField(failure(() -> stub.unpinProgram(UnpinProgramRequest.newBuilder().setPath("/sys/fs/bpf/x").build())),
                    "path");
            assertField(failure(() -> stub.getPinnedProgram(GetPinnedProgramRequest.newBuilder().setPath("/etc/passwd")
                    .build())), "path");
            // a pin where a directory is needed
            String first = stub.pinProgram(PinProgramRequest.newBuilder().setProgramId(id).setPath("blocker").build())
                    .getPath();
            Failure blocked = failure(() -> stub.pinProgram(PinProgramRequest.newBuilder().setProgramId(id)
                    .setPath("blocker/below").build()));
            assertEquals(Status.Code.FAILED_PRECONDITION, blocked.code(), blocked.message());
            assertEquals("PIN_PATH_BLOCKED", blocked.info().getReason());
            stub.unpinProgram(UnpinProgramRequest.newBuilder().setPath(first).build());
            // a path component longer than NAME_MAX
            Failure tooLong = failure(() -> stub.pinProgram(PinProgramRequest.newBuilder().setProgramId(id)
                    .setPath("x".repeat(300)).build()));
            assertEquals(Status.Code.INVALID_ARGUMENT, tooLong.code(), tooLong.message());
            Failure missing = failure(() -> stub.getPinnedProgram(GetPinnedProgramRequest.newBuilder()
                    .setPath("no/such/pin").build()));
            assertEquals(Status.Code.NOT_FOUND, missing.code());
            assertEquals("PIN_NOT_FOUND", missing.info().getReason());
        } finally {
            stub.closeProgram(CloseProgramRequest.newBuilder().setProgramId(id).build());
        }
    }
}
