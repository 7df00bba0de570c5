package dev.bpfagent.client;

import com.google.protobuf.ByteString;
import dev.bpfagent.proto.v1.*;
import io.grpc.Channel;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import java.io.File;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The typed client of a bpf-agent. Every method mirrors one BpfService call, throws
 * {@link BpfAgentException} (typed by status and details) on failure, and is safe from many threads.
 *
 * <pre>{@code
 * try (BpfClient bpf = BpfClient.connect("unix:/run/bpf-agent/agent.sock");
 *      ProgramHandle p = bpf.load(LoadOptions.builder(ProgramType.PROGRAM_TYPE_XDP, insns).name("drop").build())) {
 *     TestRunResult r = p.testRun(TestPackets.udp().build());
 * }
 * }</pre>
 */
public final class BpfClient implements AutoCloseable {
    private final AgentChannels.Connection connection; // null when the caller owns the channel
    /** False for the copies {@link #withDeadline} makes: only the original closes the connection. */
    private final boolean ownsConnection;
    private final Channel channel;
    private final BpfServiceGrpc.BpfServiceBlockingStub stub;
    private final AsyncBpfClient async;
    private final long deadlineMillis;
    /** For messages: where this client connects. */
    private final String target;

    private BpfClient(AgentChannels.Connection connection, Channel channel, long deadlineMillis) {
        this(connection, channel, deadlineMillis, true);
    }

    private BpfClient(AgentChannels.Connection connection, Channel channel, long deadlineMillis, boolean owns) {
        this.connection = connection;
        this.ownsConnection = owns;
        this.channel = channel;
        this.stub = BpfServiceGrpc.newBlockingStub(channel);
        this.deadlineMillis = deadlineMillis;
        this.target = connection != null ? connection.target() : String.valueOf(channel.authority());
        this.async = new AsyncBpfClient(this, BpfServiceGrpc.newFutureStub(channel), deadlineMillis, target);
    }

    /** Connects to "unix:PATH" or "HOST:PORT" (plaintext); calls time out after 60 s. */
    public static BpfClient connect(String target) {
        AgentChannels.Connection c = AgentChannels.connect(target);
        return new BpfClient(c, c.channel(), 60_000);
    }

    /** Connects over TLS to "HOST:PORT", trusting the given PEM certificate(s). */
    public static BpfClient connectTls(String target, File trustCertPem) {
        AgentChannels.Connection c = AgentChannels.connect(target, trustCertPem);
        return new BpfClient(c, c.channel(), 60_000);
    }

    /** Connects over mutual TLS: trusts trustCertPem, presents clientCertPem/clientKeyPem (PKCS#8). */
    public static BpfClient connectTls(String target, File trustCertPem, File clientCertPem, File clientKeyPem) {
        AgentChannels.Connection c = AgentChannels.connect(target, trustCertPem, clientCertPem, clientKeyPem);
        return new BpfClient(c, c.channel(), 60_000);
    }

    /** Uses a channel the caller built and will shut down. */
    public static BpfClient over(Channel channel) {
        return new BpfClient(null, channel, 60_000);
    }

    /**
     * The same client with another per-call deadline. It shares this client's connection: closing the
     * copy does nothing, closing this client closes both.
     */
    public BpfClient withDeadline(long millis) {
        return new BpfClient(connection, channel, millis, false);
    }

    private BpfServiceGrpc.BpfServiceBlockingStub stub() {
        return stub.withDeadlineAfter(deadlineMillis, TimeUnit.MILLISECONDS);
    }

    /** The same calls, returning CompletableFutures. */
    public AsyncBpfClient async() {
        return async;
    }

    public Channel channel() {
        return channel;
    }

    // ---- load ----

    static LoadProgramRequest request(LoadOptions o) {
        return LoadProgramRequest.newBuilder()
                .setType(o.type())
                .setInstructions(ByteString.copyFrom(o.instructions()))
                .setLicense(o.license())
                .setName(o.name())
                .setLogLevel(o.logLevel())
                .setLogSize(o.logSize())
                .setKernVersion(o.kernVersion())
                .setProgFlags(o.progFlags())
                .setExpectedAttachType(o.expectedAttachType())
                .setAttachBtfId(o.attachBtfId())
                .setAttachBtfObjId(o.attachBtfObjId())
                .setAttachProgId(o.attachProgId())
                .setProgBtf(ByteString.copyFrom(o.progBtf()))
                .setProgIfindex(o.progIfindex())
                .setFuncInfo(ByteString.copyFrom(o.funcInfo()))
                .setFuncInfoRecSize(o.funcInfoRecSize())
                .setLineInfo(ByteString.copyFrom(o.lineInfo()))
                .setLineInfoRecSize(o.lineInfoRecSize())
                .build();
    }

    /** BPF_PROG_LOAD through the agent. A rejection throws {@link BpfAgentException.VerifierRejected}. */
    public ProgramHandle load(LoadOptions options) {
        LoadProgramResponse r = Errors.call(target, () -> stub().loadProgram(request(options)));
        return new ProgramHandle(this, r.getProgram(), r.getVerifierLog());
    }

    /** The seed's create-simple-program: a type, raw bytecode and a name, license GPL. */
    public ProgramHandle simpleProgram(ProgramType type, byte[] bytecode, String name) {
        return load(LoadOptions.builder(type, bytecode).name(name).build());
    }

    // ---- run ----

    static TestRunProgramRequest request(int programId, TestRunOptions o) {
        return TestRunProgramRequest.newBuilder()
                .setProgramId(programId)
                .setDataIn(ByteString.copyFrom(o.data()))
                .setDataSizeOut(o.dataSizeOut())
                .setCtxIn(ByteString.copyFrom(o.ctx()))
                .setCtxSizeOut(o.ctxSizeOut())
                .setRepeat(o.repeat())
                .setFlags(o.flags())
                .setCpu(o.cpu())
                .setBatchSize(o.batchSize())
                .build();
    }

    static TestRunResult result(TestRunProgramResponse r) {
        return new TestRunResult(r.getRetval(), r.getDataOut().toByteArray(), r.getCtxOut().toByteArray(),
                r.getDurationNs(), r.getDataSizeOut());
    }

    public TestRunResult testRun(int programId, TestRunOptions options) {
        return result(Errors.call(target, () -> stub().testRunProgram(request(programId, options))));
    }

    // ---- pins ----

    /** Pins under the agent's bpffs directory ("team/prog" or an absolute path inside it). */
    public String pin(int programId, String path) {
        return Errors.call(target, () -> stub().pinProgram(
                PinProgramRequest.newBuilder().setProgramId(programId).setPath(path).build())).getPath();
    }

    /** Opens a program pinned anywhere in bpffs; the agent then holds it. */
    public ProgramHandle getPinned(String path) {
        return getPinned(path, ProgramType.PROGRAM_TYPE_UNSPECIFIED, "");
    }

    /** As {@link #getPinned(String)}, failing unless the program has this type and name (empty: any). */
    public ProgramHandle getPinned(String path, ProgramType expectedType, String expectedName) {
        GetPinnedProgramResponse r = Errors.call(target, () -> stub().getPinnedProgram(GetPinnedProgramRequest.newBuilder()
                .setPath(path).setExpectedType(expectedType).setExpectedName(expectedName).build()));
        return new ProgramHandle(this, r.getProgram(), "");
    }

    /** Removes one of the agent's pins; returns the absolute path removed. */
    public String unpin(String path) {
        return Errors.call(target, () -> stub().unpinProgram(UnpinProgramRequest.newBuilder().setPath(path).build()))
                .getPath();
    }

    // ---- lifecycle and queries ----

    public CloseProgramResponse closeProgram(int programId, boolean keepPins) {
        return Errors.call(target, () -> stub().closeProgram(
                CloseProgramRequest.newBuilder().setProgramId(programId).setKeepPins(keepPins).build()));
    }

    /** Is a program with this id loaded in the kernel? */
    public boolean programExists(int programId) {
        return Errors.call(target, () -> stub().programExists(
                ProgramExistsRequest.newBuilder().setProgramId(programId).build())).getExists();
    }

    /** Does the kernel have a BPF link for this program? */
    public boolean programAttached(int programId) {
        return Errors.call(target, () -> stub().programAttached(
                ProgramAttachedRequest.newBuilder().setProgramId(programId).build())).getAttached();
    }

    public ProgramInfo programInfo(int programId) {
        return Errors.call(target, () -> stub().getProgramInfo(
                GetProgramInfoRequest.newBuilder().setProgramId(programId).build())).getInfo();
    }

    /** Programs the agent holds; with includeKernel, every program in the kernel. */
    public List<ProgramInfo> listPrograms(boolean includeKernel) {
        return Errors.call(target, () -> stub().listPrograms(
                ListProgramsRequest.newBuilder().setIncludeKernel(includeKernel).build())).getProgramsList();
    }

    /** Turns the kernel's run_cnt / run_time_ns accounting on or off. */
    public boolean setRunStats(boolean enabled) {
        return Errors.call(target, () -> stub().setRunStats(SetRunStatsRequest.newBuilder().setEnabled(enabled).build()))
                .getEnabled();
    }

    public GetAgentInfoResponse agentInfo() {
        return Errors.call(target, () -> stub().getAgentInfo(GetAgentInfoRequest.getDefaultInstance()));
    }

    /** The standard gRPC health check of the agent ("" = the whole server). */
    public HealthCheckResponse.ServingStatus health() {
        return Errors.call(target, () -> HealthGrpc.newBlockingStub(channel)
                .withDeadlineAfter(deadlineMillis, TimeUnit.MILLISECONDS)
                .check(HealthCheckRequest.newBuilder().setService("").build())).getStatus();
    }

    /** Closes the channel this client made (not the programs: those live in the agent until closed). */
    @Override
    public void close() {
        if (connection != null && ownsConnection) {
            connection.close();
        }
    }
}
