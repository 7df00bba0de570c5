package dev.bpfagent.client;

import dev.bpfagent.proto.v1.*;
import io.grpc.Channel;
import io.grpc.CallOptions;
import io.grpc.stub.ClientCalls;
import java.io.File;
import java.util.ArrayList;
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
        this.async = new AsyncBpfClient(this, channel, deadlineMillis, target);
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

    /**
     * The same client, sharing this one's connection, whose calls lease what they make to that
     * connection (header "bpf-agent-lease: true"): when the connection ends — this client is closed, or
     * the JVM dies — the agent closes those programs, maps, links and collections and removes their
     * pins, so an ephemeral tool leaves nothing behind. Closing the copy does nothing.
     */
    public BpfClient withLease() {
        io.grpc.Metadata md = new io.grpc.Metadata();
        md.put(io.grpc.Metadata.Key.of("bpf-agent-lease", io.grpc.Metadata.ASCII_STRING_MARSHALLER), "true");
        return new BpfClient(connection, io.grpc.ClientInterceptors.intercept(channel,
                io.grpc.stub.MetadataUtils.newAttachHeadersInterceptor(md)), deadlineMillis, false);
    }

    /** The same calls, returning CompletableFutures. */
    public AsyncBpfClient async() {
        return async;
    }

    public Channel channel() {
        return channel;
    }

    /** Applications: desired state by name, applied, kept true, watched. */
    public Applications applications() {
        return new Applications(this);
    }

    /** One blocking call, its failure a BpfAgentException (for the client's other parts). */
    /** The target this client was connected to, for error messages. */
    String target() {
        return target;
    }

    <T> T call(java.util.function.Function<BpfServiceGrpc.BpfServiceBlockingStub, T> rpc) {
        return Errors.call(target, () -> rpc.apply(stub()));
    }

    // ---- programs ----

    /** BPF_PROG_LOAD through the agent. A rejection throws {@link BpfAgentException.VerifierRejected}. */
    public ProgramHandle load(LoadOptions options) {
        LoadProgramResponse r;
        try {
            r = Errors.call(target, () -> stub().loadProgram(options.request()));
        } catch (BpfAgentException.VerifierRejected e) {
            throw Requests.needsWholeLog(e) ? withWholeLog(e) : e;
        }
        return new ProgramHandle(this, r.getProgram(), r.getVerifierLog());
    }

    /** The rejection with its whole log, fetched in pages; as it was if the fetch fails. */
    private BpfAgentException.VerifierRejected withWholeLog(BpfAgentException.VerifierRejected e) {
        try {
            return e.withWholeLog(verifierLog(e.logId()));
        } catch (BpfAgentException fetch) {
            e.addSuppressed(fetch);
            return e;
        }
    }

    /** The whole log of a rejected load (VerifierRejected.logId()), fetched page by page. */
    public String verifierLog(String logId) {
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        while (true) {
            long offset = out.size();
            GetVerifierLogResponse page = Errors.call(target, () -> stub().getVerifierLog(Requests.logPage(logId, offset)));
            out.writeBytes(page.getData().toByteArray());
            if (out.size() >= page.getSize() || page.getData().isEmpty()) {
                return out.toString(java.nio.charset.StandardCharsets.UTF_8);
            }
        }
    }

    /** The seed's create-simple-program: a type, raw bytecode and a name, license GPL. */
    public ProgramHandle simpleProgram(ProgramType type, byte[] bytecode, String name) {
        return load(LoadOptions.builder(type, bytecode).name(name).build());
    }

    /** A program's kernel info and the agent's view of it; NotFound when the kernel has no such program. */
    public Program program(int programId) {
        return program(programId, false);
    }

    /** As {@link #program(int)}; withLinks also finds its BPF links (Program.links). */
    public Program program(int programId, boolean withLinks) {
        return Errors.call(target, () -> stub().getProgram(Requests.get(programId, withLinks)));
    }

    /** The seed's program-exists?: is a program with this id loaded in the kernel? */
    public boolean programExists(int programId) {
        try {
            program(programId);
            return true;
        } catch (BpfAgentException.NotFound e) {
            return false;
        }
    }

    /** The seed's program-attached?: does the kernel have a BPF link for this program? */
    public boolean programAttached(int programId) {
        return program(programId, true).getLinks().getAttached();
    }

    /** One page of programs, as the request filters them. */
    public ListProgramsResponse listPrograms(ListProgramsRequest request) {
        return Errors.call(target, () -> stub().listPrograms(request));
    }

    /** Every program the agent holds (with includeKernel, every program in the kernel), all pages. */
    public List<Program> listPrograms(boolean includeKernel) {
        return listAll(Requests.list(includeKernel));
    }

    /** Every program the request matches, following next_page_token to the last page. */
    public List<Program> listAll(ListProgramsRequest request) {
        List<Program> out = new ArrayList<>();
        ListProgramsRequest next = request;
        while (true) {
            ListProgramsResponse page = listPrograms(next);
            out.addAll(page.getProgramsList());
            if (page.getNextPageToken().isEmpty()) {
                return out;
            }
            next = next.toBuilder().setPageToken(page.getNextPageToken()).build();
        }
    }

    public TestRunResult testRun(int programId, TestRunOptions options) {
        return Requests.result(Errors.call(target, () -> stub().testRunProgram(Requests.testRun(programId, options))));
    }

    /** Closes a program; keepPins leaves the agent's pins (and so the program) in the kernel. */
    public CloseProgramResponse closeProgram(int programId, boolean keepPins) {
        return closeProgram(Requests.close(programId, keepPins));
    }

    /** CloseProgram with every option (cascade to dependents, a program named by its pin). */
    public CloseProgramResponse closeProgram(CloseProgramRequest request) {
        return Errors.call(target, () -> stub().closeProgram(request));
    }

    /**
     * The seed's load-fentry-program: a TRACING program for fentry, fexit or fmod_ret (attachType) on a
     * kernel function by name; the agent finds its BTF id. Attach it with {@link Hooks#tracing()}.
     */
    public ProgramHandle loadTracing(AttachType attachType, String function, byte[] insns, String name) {
        return load(LoadOptions.builder(ProgramType.PROGRAM_TYPE_TRACING, insns).name(name)
                .expectedAttachType(attachType).attachFunction(function).build());
    }

    /** What the running kernel supports (probed once by the agent; refresh probes again). */
    public GetKernelFeaturesResponse kernelFeatures(boolean refresh) {
        return Errors.call(target, () -> stub().getKernelFeatures(Requests.features(refresh)));
    }

    // ---- links ----

    /** Attaches a held program to a hook ({@link Hooks} builds them); close the handle to detach. */
    public LinkHandle attach(int programId, Hook hook) {
        return attach(Requests.attach(programId, hook));
    }

    /** AttachProgram with every option (labels). */
    public LinkHandle attach(AttachProgramRequest request) {
        return new LinkHandle(this, Errors.call(target, () -> stub().attachProgram(request)));
    }

    /** Holds the link pinned at path (and its program); close the handle to detach it and remove the pin. */
    public LinkHandle getPinnedLink(String path) {
        return new LinkHandle(this, Errors.call(target, () -> stub().getPinned(Requests.pinnedLink(path))).getLink());
    }

    /** A held link as the agent describes it now. */
    public Link link(int linkId) {
        return Errors.call(target, () -> stub().getLink(Requests.getLink(linkId)));
    }

    /** One page of held links, as the request filters them. */
    public ListLinksResponse listLinks(ListLinksRequest request) {
        return Errors.call(target, () -> stub().listLinks(request));
    }

    /** The held links of a program. */
    public List<Link> links(int programId) {
        return listLinks(Requests.linksOf(programId)).getLinksList();
    }

    /** Detaches a held link (and removes its pins). */
    public DetachLinkResponse detach(int linkId) {
        return detachLink(Requests.detach(linkId));
    }

    public DetachLinkResponse detachLink(DetachLinkRequest request) {
        return Errors.call(target, () -> stub().detachLink(request));
    }

    /** The link runs programId instead, with no gap (XDP, tcx, cgroup, netns links). */
    public Link updateLink(int linkId, int programId) {
        return updateLink(Requests.updateLink(linkId, programId));
    }

    public Link updateLink(UpdateLinkRequest request) {
        return Errors.call(target, () -> stub().updateLink(request));
    }

    /**
     * Attaches through one mechanism instead of the best the kernel has: NETLINK for XDP as `ip link`
     * does, PROG_ATTACH for cgroups, PERF_EVENT_IOCTL for perf event hooks.
     */
    public LinkHandle attach(int programId, Hook hook, AttachMechanism mechanism) {
        return attach(Requests.attach(programId, hook).toBuilder().setMechanism(mechanism).build());
    }

    /** Runs an iterator link once: what its program printed over every object (at most 16 MiB). */
    public byte[] readIterator(int linkId) {
        return readIterator(Requests.readIterator(linkId)).getOutput()
                .toByteArray();
    }

    public ReadIteratorResponse readIterator(ReadIteratorRequest request) {
        return Errors.call(target, () -> stub().readIterator(request));
    }

    // ---- ELF objects ----

    /** Parses an object file (nothing loaded): its maps and programs as libbpf would see them. */
    public InspectObjectResponse inspectObject(byte[] elf, String name) {
        return inspectObject(Requests.inspectObject(elf, name));
    }

    public InspectObjectResponse inspectObject(InspectObjectRequest request) {
        return Errors.call(target, () -> stub().inspectObject(request));
    }

    /** Loads a whole object file (clang -O2 -g -target bpf) as one collection; close the handle to unload it. */
    public CollectionHandle loadObject(byte[] elf, String name) {
        return loadObject(LoadObjectOptions.elf(elf, name).build().request());
    }

    /** Loads an object as the options say (some programs, .rodata values, attach, overrides, ...). */
    public CollectionHandle loadObject(LoadObjectOptions options) {
        return loadObject(options.request());
    }

    /** LoadObject with every option (only some programs, .rodata values, log level, labels). */
    public CollectionHandle loadObject(LoadObjectRequest request) {
        LoadObjectResponse r = Errors.call(target, () -> stub().loadObject(request));
        return new CollectionHandle(this, r.getCollection(), r.getVerifierLogsMap());
    }

    /** Attaches every program of a collection whose section names its hook (libbpf's skeleton attach). */
    public Collection attachCollection(int collectionId) {
        return Errors.call(target, () -> stub().attachCollection(Requests.attachCollection(collectionId)));
    }

    public Collection collection(int collectionId) {
        return Errors.call(target, () -> stub().getCollection(Requests.getCollection(collectionId)));
    }

    public ListCollectionsResponse listCollections(ListCollectionsRequest request) {
        return Errors.call(target, () -> stub().listCollections(request));
    }

    public CloseCollectionResponse closeCollection(CloseCollectionRequest request) {
        return Errors.call(target, () -> stub().closeCollection(request));
    }

    ProgramHandle programHandle(int programId) {
        return new ProgramHandle(this, program(programId), "");
    }

    MapHandle mapHandle(int mapId) {
        return new MapHandle(this, map(mapId));
    }

    // ---- maps ----

    /** BPF_MAP_CREATE through the agent. */
    public MapHandle createMap(CreateMapRequest request) {
        return new MapHandle(this, Errors.call(target, () -> stub().createMap(request)));
    }

    /** A map of this type and shape, named (or "" for none). */
    public MapHandle createMap(MapType type, int keySize, int valueSize, int maxEntries, String name) {
        return createMap(Requests.createMap(type, keySize, valueSize, maxEntries, name));
    }

    /** A map's kernel info and the agent's view of it; NotFound when the kernel has no such map. */
    public dev.bpfagent.proto.v1.Map map(int mapId) {
        return Errors.call(target, () -> stub().getMap(Requests.getMap(mapId)));
    }

    /** One page of maps, as the request filters them. */
    public ListMapsResponse listMaps(ListMapsRequest request) {
        return Errors.call(target, () -> stub().listMaps(request));
    }

    public CloseMapResponse closeMap(CloseMapRequest request) {
        return Errors.call(target, () -> stub().closeMap(request));
    }

    public LookupMapElemResponse lookupMapElem(LookupMapElemRequest request) {
        return Errors.call(target, () -> stub().lookupMapElem(request));
    }

    public UpdateMapElemResponse updateMapElem(UpdateMapElemRequest request) {
        return Errors.call(target, () -> stub().updateMapElem(request));
    }

    public DeleteMapElemResponse deleteMapElem(DeleteMapElemRequest request) {
        return Errors.call(target, () -> stub().deleteMapElem(request));
    }

    public LookupMapElemResponse lookupAndDeleteMapElem(LookupAndDeleteMapElemRequest request) {
        return Errors.call(target, () -> stub().lookupAndDeleteMapElem(request));
    }

    public GetNextMapKeyResponse getNextMapKey(GetNextMapKeyRequest request) {
        return Errors.call(target, () -> stub().getNextMapKey(request));
    }

    public DumpMapResponse dumpMap(DumpMapRequest request) {
        return Errors.call(target, () -> stub().dumpMap(request));
    }

    public UpdateMapBatchResponse updateMapBatch(UpdateMapBatchRequest request) {
        return Errors.call(target, () -> stub().updateMapBatch(request));
    }

    public DeleteMapBatchResponse deleteMapBatch(DeleteMapBatchRequest request) {
        return Errors.call(target, () -> stub().deleteMapBatch(request));
    }

    /**
     * Subscribes to a ring buffer's or perf event array's records: returns once the agent says the
     * subscription is live (records written from then on are delivered or counted as lost). No deadline
     * applies to the stream itself; this client's deadline bounds the wait for it to start.
     */
    public EventStream subscribe(SubscribeOptions options) {
        return EventStream.open(channel, target, options.request(), java.time.Duration.ofMillis(deadlineMillis));
    }

    public ReadRingBufferResponse readRingBuffer(ReadRingBufferRequest request) {
        return Errors.call(target, () -> stub().readRingBuffer(request));
    }

    public FreezeMapResponse freezeMap(FreezeMapRequest request) {
        return Errors.call(target, () -> stub().freezeMap(request));
    }

    // ---- tail-call chains ----

    /** A new chain with a prog array of maxEntries (0: 32) and nothing in it yet. */
    public TailCallChain createChain(String name, int maxEntries) {
        return createChain(Requests.createChain(name, maxEntries));
    }

    public TailCallChain createChain(CreateChainRequest request) {
        return new TailCallChain(this, Errors.call(target, () -> stub().createChain(request)));
    }

    public Chain chain(int chainId) {
        return Errors.call(target, () -> stub().getChain(Requests.getChain(chainId)));
    }

    public ListChainsResponse listChains(ListChainsRequest request) {
        return Errors.call(target, () -> stub().listChains(request));
    }

    public Chain setChainEntry(SetChainEntryRequest request) {
        return Errors.call(target, () -> stub().setChainEntry(request));
    }

    public Chain clearChainEntry(ClearChainEntryRequest request) {
        return Errors.call(target, () -> stub().clearChainEntry(request));
    }

    public CloseChainResponse closeChain(CloseChainRequest request) {
        return Errors.call(target, () -> stub().closeChain(request));
    }

    // ---- pins ----

    /** Pins a program under the agent's bpffs directory ("team/prog" or an absolute path inside it). */
    public String pin(int programId, String path) {
        return pin(Requests.program(programId), path).getPath();
    }

    /** Pins any object the agent holds. */
    public PinResponse pin(ObjectRef object, String path) {
        return Errors.call(target, () -> stub().pin(Requests.pin(object, path)));
    }

    /** Opens a program pinned anywhere in bpffs; the agent then holds it. */
    public ProgramHandle getPinned(String path) {
        return getPinned(path, ProgramType.PROGRAM_TYPE_UNSPECIFIED, "");
    }

    /** As {@link #getPinned(String)}, failing unless the program has this type and name (empty: any). */
    public ProgramHandle getPinned(String path, ProgramType expectedType, String expectedName) {
        GetPinnedResponse r = Errors.call(target, () -> stub().getPinned(
                Requests.getPinned(path, expectedType, expectedName)));
        return new ProgramHandle(this, r.getProgram(), "");
    }

    /** Removes one of the agent's pins; returns the absolute path removed. */
    public String unpin(String path) {
        return Errors.call(target, () -> stub().unpin(Requests.unpin(path))).getPath();
    }

    // ---- the agent ----

    /** Turns the kernel's run_cnt / run_time_ns accounting on or off. */
    public boolean setRunStats(boolean enabled) {
        return Errors.call(target, () -> stub().setRunStats(Requests.runStats(enabled))).getEnabled();
    }

    public GetAgentInfoResponse agentInfo() {
        return Errors.call(target, () -> stub().getAgentInfo(GetAgentInfoRequest.getDefaultInstance()));
    }

    /** The standard gRPC health check of the agent (the whole server). */
    public Health.Status health() {
        return Health.response(Errors.call(target, () -> ClientCalls.blockingUnaryCall(channel, Health.CHECK,
                CallOptions.DEFAULT.withDeadlineAfter(deadlineMillis, TimeUnit.MILLISECONDS), Health.request(""))));
    }

    /** Closes the channel this client made (not the programs: those live in the agent until closed). */
    @Override
    public void close() {
        if (connection != null && ownsConnection) {
            connection.close();
        }
    }
}
