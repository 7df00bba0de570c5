package dev.bpfagent.it;

import static org.junit.jupiter.api.Assertions.*;

import com.google.protobuf.Any;
import com.google.protobuf.ByteString;
import dev.bpfagent.client.AgentChannels;
import dev.bpfagent.client.BpfAgentException;
import dev.bpfagent.client.BpfClient;
import dev.bpfagent.client.LoadOptions;
import dev.bpfagent.proto.v1.*;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.protobuf.StatusProto;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A rejection reaches a client with default settings whatever the log's size: the status carries the
 * reason and the log's end (a few KiB, inside gRPC's 8 KiB metadata limit), and the whole log comes
 * from GetVerifierLog. Checked through the Java client and through a plain grpc-java stub on a channel
 * built with every default (over TCP), as a client written from the proto alone would be.
 */
class VerifierLogSizeTest {
    static AgentProcess agent;
    static BpfClient client;
    static ManagedChannel plain;

    @BeforeAll
    static void start() throws Exception {
        Kernel.assumeRoot();
        agent = AgentProcess.start();
        client = BpfClient.connect(agent.unixTarget());
        plain = NettyChannelBuilder.forTarget(agent.tcpTarget).usePlaintext().build(); // every other default
    }

    @AfterAll
    static void stop() throws Exception {
        if (plain != null) {
            plain.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
        }
        if (client != null) {
            client.close();
        }
        if (agent != null) {
            agent.close();
        }
    }

    /** n times r0 = i, then r0 = *(u64 *)(r1 + 4000): out of struct xdp_md's bounds, then exit. */
    static byte[] program(int n) {
        var a = dev.bpfagent.client.Instructions.program();
        for (int i = 0; i < n; i++) {
            a.mov(dev.bpfagent.client.Instructions.Reg.R0, i);
        }
        return a.ldx(dev.bpfagent.client.Instructions.Size.DW, dev.bpfagent.client.Instructions.Reg.R0,
                dev.bpfagent.client.Instructions.Reg.R1, 4000).exit().bytes();
    }

    static final String REASON = "invalid bpf_context access off=4000 size=8";

    @ParameterizedTest
    @ValueSource(ints = {10, 200, 1000, 5000})
    void theReasonAndTheWholeLogReachEveryClient(int n) {
        // The Java client: the reason in the message, the whole log in verifierLog().
        var e = assertThrows(BpfAgentException.VerifierRejected.class, () -> client.load(
                LoadOptions.builder(ProgramType.PROGRAM_TYPE_XDP, program(n)).name("big" + n).build()));
        assertEquals(Status.Code.INVALID_ARGUMENT, e.code());
        assertTrue(e.getMessage().contains(REASON), e.getMessage());
        assertTrue(e.verifierReason().contains(REASON), e.verifierReason());
        assertEquals("VERIFIER_REJECTED", e.reason());
        assertTrue(e.isWholeLog());
        String whole = e.verifierLog();
        assertTrue(whole.contains("0: (b7) r0 = 0"), "the log's first instruction is there");
        assertTrue(whole.contains((n - 1) + ": (b7) r0 = " + (n - 1)), "and the last mov");
        assertTrue(whole.contains(REASON));

        // A plain stub with default limits: the status arrives (no http2 or metadata-size failure).
        var stub = BpfServiceGrpc.newBlockingStub(plain).withDeadlineAfter(60, TimeUnit.SECONDS);
        StatusRuntimeException sre = assertThrows(StatusRuntimeException.class, () -> stub.loadProgram(
                LoadProgramRequest.newBuilder().setType(ProgramType.PROGRAM_TYPE_XDP)
                        .setInstructions(ByteString.copyFrom(program(n))).setName("big" + n).build()));
        assertEquals(Status.Code.INVALID_ARGUMENT, sre.getStatus().getCode(), sre.getMessage());
        assertTrue(sre.getStatus().getDescription().contains(REASON), sre.getStatus().getDescription());
        VerifierLog detail = null;
        for (Any a : StatusProto.fromThrowable(sre).getDetailsList()) {
            if (a.is(VerifierLog.class)) {
                detail = unpack(a);
            }
        }
        assertNotNull(detail, "a VerifierLog detail");
        assertTrue(detail.getLog().length() <= 4096, "the detail stays small: " + detail.getLog().length());
        assertTrue(detail.getLog().contains(REASON));
        assertEquals(whole.getBytes(StandardCharsets.UTF_8).length, detail.getSize());
        assertEquals(detail.getLog().length() < whole.length(), detail.getTailOnly());
        if (n >= 200) { // these logs are past gRPC's default 8 KiB metadata limit: the case this guards
            assertTrue(detail.getSize() > 8192, "log of " + detail.getSize() + " bytes");
            assertTrue(detail.getTailOnly());
        }
        // ...and the whole log in pages through GetVerifierLog, small pages to prove the paging.
        ByteArrayOutputStream all = new ByteArrayOutputStream();
        while (all.size() < detail.getSize()) {
            GetVerifierLogResponse page = stub.getVerifierLog(GetVerifierLogRequest.newBuilder()
                    .setLogId(detail.getLogId()).setOffset(all.size()).setMaxBytes(16 * 1024).build());
            assertEquals(all.size(), page.getOffset());
            assertFalse(page.getData().isEmpty());
            all.writeBytes(page.getData().toByteArray());
        }
        assertEquals(whole, all.toString(StandardCharsets.UTF_8), "the same log both ways");
    }

    static VerifierLog unpack(Any a) {
        try {
            return a.unpack(VerifierLog.class);
        } catch (com.google.protobuf.InvalidProtocolBufferException e) {
            throw new AssertionError(e);
        }
    }
}
