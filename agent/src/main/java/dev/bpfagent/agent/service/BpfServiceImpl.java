package dev.bpfagent.agent.service;

import dev.bpfagent.agent.service.state.PinPaths;
import dev.bpfagent.agent.service.state.Registry;
import dev.bpfagent.agent.service.state.VerifierLogs;
import dev.bpfagent.proto.v1.*;
import io.grpc.stub.StreamObserver;

/**
 * BpfService: each call goes to its resource's handler ({@link ProgramHandler}, {@link PinHandler},
 * {@link AgentHandler}). Handlers throw; the transport's error interceptor turns what they throw into
 * a status, and the authorization interceptor has passed every request before it arrives here.
 */
public final class BpfServiceImpl extends BpfServiceGrpc.BpfServiceImplBase {
    private final Registry registry;
    private final Refs refs;
    private final ProgramHandler programs;
    private final PinHandler pinCalls;
    private final AgentHandler agent;
    private final MapHandler maps;
    private final ChainHandler chains;
    private final ObjectHandler objects;
    private final LinkHandler links;
    private final EventHandler events;
    private final dev.bpfagent.agent.service.events.EventHub hub = new dev.bpfagent.agent.service.events.EventHub();
    private final Offload offload;
    private final ApplicationHandler applications;
    private final HookListing hooks;

    public BpfServiceImpl(Registry registry, PinPaths pins, String version) {
        this(registry, pins, version, Offload.INLINE);
    }

    /** @param offload where handlers send work that turned out long (test runs with repeats) */
    public BpfServiceImpl(Registry registry, PinPaths pins, String version, Offload offload) {
        this(registry, pins, version, offload, dev.bpfagent.agent.service.auth.Authorizer.ALLOW_ALL);
    }

    /**
     * @param authorizer the call authorizer, asked again by handlers that find programs to load inside a
     *                   request (LoadObject); a PolicyAuthorizer is given this service's registry for owners
     */
    public BpfServiceImpl(Registry registry, PinPaths pins, String version, Offload offload,
                          dev.bpfagent.agent.service.auth.Authorizer authorizer) {
        this.offload = offload;
        this.registry = registry;
        this.refs = new Refs(registry, pins, authorizer);
        VerifierLogs logs = new VerifierLogs();
        this.programs = new ProgramHandler(registry, refs, logs);
        this.maps = new MapHandler(registry, refs);
        this.chains = new ChainHandler(registry, refs, maps);
        this.links = new LinkHandler(registry, refs);
        this.objects = new ObjectHandler(registry, refs, authorizer, links);
        this.applications = new ApplicationHandler(registry, refs, links, authorizer, logs);
        this.hooks = new HookListing(registry, refs, applications);
        if (authorizer instanceof dev.bpfagent.agent.service.auth.PolicyAuthorizer pa) {
            pa.owners(new RegistryOwners(registry, pins));
        }
        this.events = new EventHandler(registry, refs, hub);
        this.pinCalls = new PinHandler(registry, refs, programs, maps, links);
        this.agent = new AgentHandler(registry, pins, version);
    }

    private static <T> void reply(StreamObserver<T> out, T value) {
        out.onNext(value);
        out.onCompleted();
    }

    @Override
    public void getKernelFeatures(GetKernelFeaturesRequest req, StreamObserver<GetKernelFeaturesResponse> out) {
        reply(out, agent.features(req));
    }

    @Override
    public void attachProgram(AttachProgramRequest req, StreamObserver<Link> out) {
        reply(out, links.attach(req));
    }

    @Override
    public void getLink(GetLinkRequest req, StreamObserver<Link> out) {
        reply(out, links.get(req));
    }

    @Override
    public void listLinks(ListLinksRequest req, StreamObserver<ListLinksResponse> out) {
        reply(out, links.list(req));
    }

    @Override
    public void detachLink(DetachLinkRequest req, StreamObserver<DetachLinkResponse> out) {
        reply(out, links.detach(req));
    }

    @Override
    public void updateLink(UpdateLinkRequest req, StreamObserver<Link> out) {
        reply(out, links.update(req));
    }

    @Override
    public void readIterator(ReadIteratorRequest req, StreamObserver<ReadIteratorResponse> out) {
        reply(out, links.readIterator(req));
    }

    @Override
    public void loadProgram(LoadProgramRequest req, StreamObserver<LoadProgramResponse> out) {
        programs.load(req, out, offload);
    }

    @Override
    public void getProgram(GetProgramRequest req, StreamObserver<Program> out) {
        reply(out, programs.get(req));
    }

    @Override
    public void listPrograms(ListProgramsRequest req, StreamObserver<ListProgramsResponse> out) {
        reply(out, programs.list(req));
    }

    @Override
    public void closeProgram(CloseProgramRequest req, StreamObserver<CloseProgramResponse> out) {
        reply(out, programs.close(req));
    }

    @Override
    public void getVerifierLog(GetVerifierLogRequest req, StreamObserver<GetVerifierLogResponse> out) {
        reply(out, programs.verifierLog(req));
    }

    @Override
    public void testRunProgram(TestRunProgramRequest req, StreamObserver<TestRunProgramResponse> out) {
        programs.testRun(req, out, offload);
    }

    @Override
    public void createMap(CreateMapRequest req, StreamObserver<Map> out) {
        reply(out, maps.create(req));
    }

    @Override
    public void getMap(GetMapRequest req, StreamObserver<Map> out) {
        reply(out, maps.get(req));
    }

    @Override
    public void listMaps(ListMapsRequest req, StreamObserver<ListMapsResponse> out) {
        reply(out, maps.list(req));
    }

    @Override
    public void closeMap(CloseMapRequest req, StreamObserver<CloseMapResponse> out) {
        reply(out, maps.close(req));
    }

    @Override
    public void lookupMapElem(LookupMapElemRequest req, StreamObserver<LookupMapElemResponse> out) {
        reply(out, maps.lookup(req));
    }

    @Override
    public void updateMapElem(UpdateMapElemRequest req, StreamObserver<UpdateMapElemResponse> out) {
        reply(out, maps.update(req));
    }

    @Override
    public void deleteMapElem(DeleteMapElemRequest req, StreamObserver<DeleteMapElemResponse> out) {
        reply(out, maps.delete(req));
    }

    @Override
    public void lookupAndDeleteMapElem(LookupAndDeleteMapElemRequest req, StreamObserver<LookupMapElemResponse> out) {
        reply(out, maps.lookupAndDelete(req));
    }

    @Override
    public void getNextMapKey(GetNextMapKeyRequest req, StreamObserver<GetNextMapKeyResponse> out) {
        reply(out, maps.nextKey(req));
    }

    @Override
    public void dumpMap(DumpMapRequest req, StreamObserver<DumpMapResponse> out) {
        reply(out, maps.dump(req));
    }

    @Override
    public void updateMapBatch(UpdateMapBatchRequest req, StreamObserver<UpdateMapBatchResponse> out) {
        reply(out, maps.updateBatch(req));
    }

    @Override
    public void deleteMapBatch(DeleteMapBatchRequest req, StreamObserver<DeleteMapBatchResponse> out) {
        reply(out, maps.deleteBatch(req));
    }

    @Override
    public void readRingBuffer(ReadRingBufferRequest req, StreamObserver<ReadRingBufferResponse> out) {
        reply(out, maps.readRingBuffer(req));
    }

    @Override
    public void subscribeEvents(SubscribeEventsRequest req, StreamObserver<SubscribeEventsResponse> out) {
        events.subscribe(req, out);
    }

    /** The event streams, for the agent's stop and for tests. */
    /** The applications' conditions and reconcile counters, for metrics. */
    public ApplicationStats applicationStats() {
        return applications.stats();
    }

    public dev.bpfagent.agent.service.events.EventHub eventHub() {
        return hub;
    }

    @Override
    public void freezeMap(FreezeMapRequest req, StreamObserver<FreezeMapResponse> out) {
        reply(out, maps.freeze(req));
    }

    @Override
    public void createChain(CreateChainRequest req, StreamObserver<Chain> out) {
        reply(out, chains.create(req));
    }

    @Override
    public void getChain(GetChainRequest req, StreamObserver<Chain> out) {
        reply(out, chains.get(req));
    }

    @Override
    public void listChains(ListChainsRequest req, StreamObserver<ListChainsResponse> out) {
        reply(out, chains.list(req));
    }

    @Override
    public void setChainEntry(SetChainEntryRequest req, StreamObserver<Chain> out) {
        reply(out, chains.set(req));
    }

    @Override
    public void clearChainEntry(ClearChainEntryRequest req, StreamObserver<Chain> out) {
        reply(out, chains.clear(req));
    }

    @Override
    public void closeChain(CloseChainRequest req, StreamObserver<CloseChainResponse> out) {
        reply(out, chains.close(req));
    }

    @Override
    public void pin(PinRequest req, StreamObserver<PinResponse> out) {
        reply(out, pinCalls.pin(req));
    }

    @Override
    public void unpin(UnpinRequest req, StreamObserver<UnpinResponse> out) {
        reply(out, pinCalls.unpin(req));
    }

    @Override
    public void getPinned(GetPinnedRequest req, StreamObserver<GetPinnedResponse> out) {
        reply(out, pinCalls.getPinned(req));
    }

    @Override
    public void setRunStats(SetRunStatsRequest req, StreamObserver<SetRunStatsResponse> out) {
        reply(out, agent.setRunStats(req));
    }

    @Override
    public void getAgentInfo(GetAgentInfoRequest req, StreamObserver<GetAgentInfoResponse> out) {
        reply(out, agent.info());
    }

    /**
     * A connection ended: what was leased to it is closed, dependents first, with its agent pins. Runs
     * outside any call (its caller is the agent itself).
     */
    public int connectionClosed(long connection) {
        int closed = 0;
        for (var e : registry.leasedTo(connection)) {
            if (registry.find(e.key()) != e) {
                continue; // gone with something closed before it
            }
            try {
                closed += Closer.close(registry, refs.pins(), e, true, false, "lease").closed().size();
            } catch (RuntimeException ex) {
                java.util.logging.Logger.getLogger(BpfServiceImpl.class.getName()).warning("closing " + e.key()
                        + " at the end of its lease: " + ex.getMessage());
            }
        }
        return closed;
    }

    /** At start: hold the programs pinned under the agent's directory by an earlier agent. */
    public int adoptPins() {
        return pinCalls.adoptPins();
    }

    /**
     * At start, after pins are adopted: the applications recorded under the state directory, rebuilt
     * (their objects were closed with the agent that made them), and the reconcile loop. Returns how many.
     */
    public int startApplications(java.nio.file.Path stateDir) throws java.io.IOException {
        return applications.start(stateDir);
    }

    /** At stop: run stats off, then every held object closed (pinned ones stay in the kernel). */
    public void shutdown() {
        applications.close();
        hub.shutdown(5000); // streams first: they hand over what was read, then end UNAVAILABLE
        agent.shutdown();
        registry.closeAll();
    }

    @Override
    public void inspectObject(InspectObjectRequest req, StreamObserver<InspectObjectResponse> out) {
        reply(out, objects.inspect(req));
    }

    @Override
    public void loadObject(LoadObjectRequest req, StreamObserver<LoadObjectResponse> out) {
        reply(out, objects.load(req));
    }

    @Override
    public void attachCollection(AttachCollectionRequest req, StreamObserver<Collection> out) {
        reply(out, objects.attach(req));
    }

    @Override
    public void getCollection(GetCollectionRequest req, StreamObserver<Collection> out) {
        reply(out, objects.get(req));
    }

    @Override
    public void listCollections(ListCollectionsRequest req, StreamObserver<ListCollectionsResponse> out) {
        reply(out, objects.list(req));
    }

    @Override
    public void closeCollection(CloseCollectionRequest req, StreamObserver<CloseCollectionResponse> out) {
        reply(out, objects.close(req));
    }

    @Override
    public void applyApplication(ApplyApplicationRequest req, StreamObserver<ApplyApplicationResponse> out) {
        reply(out, applications.apply(req));
    }

    @Override
    public void getApplication(GetApplicationRequest req, StreamObserver<Application> out) {
        reply(out, applications.get(req));
    }

    @Override
    public void listApplications(ListApplicationsRequest req, StreamObserver<ListApplicationsResponse> out) {
        reply(out, applications.list(req));
    }

    @Override
    public void listInterfaceHooks(ListInterfaceHooksRequest req, StreamObserver<ListInterfaceHooksResponse> out) {
        reply(out, hooks.list(req));
    }

    @Override
    public void deleteApplication(DeleteApplicationRequest req, StreamObserver<DeleteApplicationResponse> out) {
        reply(out, applications.delete(req));
    }

    @Override
    public void watchApplications(WatchApplicationsRequest req, StreamObserver<WatchApplicationsResponse> out) {
        applications.watch(req, out);
    }

    @Override
    public StreamObserver<UploadBlobRequest> uploadBlob(StreamObserver<UploadBlobResponse> out) {
        return applications.upload(out);
    }
}
