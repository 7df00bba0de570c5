package dev.bpfagent.client;

import com.google.common.util.concurrent.FutureCallback;
import com.google.common.util.concurrent.Futures;
import com.google.common.util.concurrent.ListenableFuture;
import com.google.common.util.concurrent.MoreExecutors;
import dev.bpfagent.proto.v1.*;
import io.grpc.Channel;
import io.grpc.CallOptions;
import io.grpc.stub.ClientCalls;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * The asynchronous form of {@link BpfClient}: every call it has, answered as CompletableFutures that
 * fail with {@link BpfAgentException}. Requests are built by the same code as the blocking client's.
 */
public final class AsyncBpfClient {
    private final BpfClient owner;
    private final BpfServiceGrpc.BpfServiceFutureStub stub;
    private final Channel channel;
    private final long deadlineMillis;
    private final String target;

    AsyncBpfClient(BpfClient owner, Channel channel, long deadlineMillis, String target) {
        this.owner = owner;
        this.stub = BpfServiceGrpc.newFutureStub(channel);
        this.channel = channel;
        this.deadlineMillis = deadlineMillis;
        this.target = target;
    }

    private BpfServiceGrpc.BpfServiceFutureStub stub() {
        return stub.withDeadlineAfter(deadlineMillis, TimeUnit.MILLISECONDS);
    }

    private <T, R> CompletableFuture<R> adapt(ListenableFuture<T> f, Function<T, R> map) {
        CompletableFuture<R> out = new CompletableFuture<>();
        Futures.addCallback(f, new FutureCallback<T>() {
            @Override
            public void onSuccess(T result) {
                try {
                    out.complete(map.apply(result));
                } catch (RuntimeException e) {
                    out.completeExceptionally(e);
                }
            }

            @Override
            public void onFailure(Throwable t) {
                out.completeExceptionally(Errors.map(t, target));
            }
        }, MoreExecutors.directExecutor());
        return out;
    }

    // ---- programs ----

    /** Fails with VerifierRejected carrying the whole log, fetched before the future completes. */
    public CompletableFuture<ProgramHandle> load(LoadOptions options) {
        CompletableFuture<ProgramHandle> loaded = adapt(stub().loadProgram(options.request()),
                r -> new ProgramHandle(owner, r.getProgram(), r.getVerifierLog()));
        return loaded.handle((p, t) -> {
            if (t == null) {
                return CompletableFuture.completedFuture(p);
            }
            Throwable cause = t instanceof java.util.concurrent.CompletionException && t.getCause() != null
                    ? t.getCause() : t;
            if (!Requests.needsWholeLog(cause)) {
                return CompletableFuture.<ProgramHandle>failedFuture(cause);
            }
            var rejected = (BpfAgentException.VerifierRejected) cause;
            return verifierLog(rejected.logId()).handle((log, fetch) -> {
                if (fetch != null) {
                    rejected.addSuppressed(fetch);
                    throw new java.util.concurrent.CompletionException(rejected);
                }
                throw new java.util.concurrent.CompletionException(rejected.withWholeLog(log));
            }).thenApply(x -> (ProgramHandle) x);
        }).thenCompose(f -> f);
    }

    /** The whole log of a rejected load, fetched page by page. */
    public CompletableFuture<String> verifierLog(String logId) {
        return logFrom(logId, new java.io.ByteArrayOutputStream());
    }

    private CompletableFuture<String> logFrom(String logId, java.io.ByteArrayOutputStream into) {
        return adapt(stub().getVerifierLog(Requests.logPage(logId, into.size())), r -> r).thenCompose(page -> {
            into.writeBytes(page.getData().toByteArray());
            return into.size() >= page.getSize() || page.getData().isEmpty()
                    ? CompletableFuture.completedFuture(into.toString(java.nio.charset.StandardCharsets.UTF_8))
                    : logFrom(logId, into);
        });
    }

    public CompletableFuture<ProgramHandle> simpleProgram(ProgramType type, byte[] bytecode, String name) {
        return load(LoadOptions.builder(type, bytecode).name(name).build());
    }

    public CompletableFuture<Program> program(int programId) {
        return program(programId, false);
    }

    public CompletableFuture<Program> program(int programId, boolean withLinks) {
        return adapt(stub().getProgram(Requests.get(programId, withLinks)), r -> r);
    }

    /** Completes with false when the kernel has no such program. */
    public CompletableFuture<Boolean> programExists(int programId) {
        return program(programId).handle((p, t) -> {
            if (t == null) {
                return true;
            }
            if (Requests.isNotFound(t)) {
                return false;
            }
            throw Errors.map(t, target);
        });
    }

    public CompletableFuture<Boolean> programAttached(int programId) {
        return program(programId, true).thenApply(p -> p.getLinks().getAttached());
    }

    public CompletableFuture<ListProgramsResponse> listPrograms(ListProgramsRequest request) {
        return adapt(stub().listPrograms(request), r -> r);
    }

    public CompletableFuture<List<Program>> listPrograms(boolean includeKernel) {
        return listAll(Requests.list(includeKernel));
    }

    /** Every program the request matches, page after page. */
    public CompletableFuture<List<Program>> listAll(ListProgramsRequest request) {
        return collect(request, new ArrayList<>());
    }

    private CompletableFuture<List<Program>> collect(ListProgramsRequest request, List<Program> into) {
        return listPrograms(request).thenCompose(page -> {
            into.addAll(page.getProgramsList());
            return page.getNextPageToken().isEmpty() ? CompletableFuture.completedFuture(into)
                    : collect(request.toBuilder().setPageToken(page.getNextPageToken()).build(), into);
        });
    }

    public CompletableFuture<TestRunResult> testRun(int programId, TestRunOptions options) {
        return adapt(stub().testRunProgram(Requests.testRun(programId, options)), Requests::result);
    }

    public CompletableFuture<CloseProgramResponse> closeProgram(int programId, boolean keepPins) {
        return closeProgram(Requests.close(programId, keepPins));
    }

    public CompletableFuture<CloseProgramResponse> closeProgram(CloseProgramRequest request) {
        return adapt(stub().closeProgram(request), r -> r);
    }

    public CompletableFuture<ProgramHandle> loadTracing(AttachType attachType, String function, byte[] insns,
                                                       String name) {
        return load(LoadOptions.builder(ProgramType.PROGRAM_TYPE_TRACING, insns).name(name)
                .expectedAttachType(attachType).attachFunction(function).build());
    }

    public CompletableFuture<GetKernelFeaturesResponse> kernelFeatures(boolean refresh) {
        return adapt(stub().getKernelFeatures(Requests.features(refresh)),
                r -> r);
    }

    // ---- links ----

    public CompletableFuture<LinkHandle> attach(int programId, Hook hook) {
        return attach(Requests.attach(programId, hook));
    }

    public CompletableFuture<LinkHandle> attach(AttachProgramRequest request) {
        return adapt(stub().attachProgram(request), l -> new LinkHandle(owner, l));
    }

    public CompletableFuture<LinkHandle> getPinnedLink(String path) {
        return adapt(stub().getPinned(Requests.pinnedLink(path)), r -> new LinkHandle(owner, r.getLink()));
    }

    public CompletableFuture<Link> link(int linkId) {
        return adapt(stub().getLink(Requests.getLink(linkId)), r -> r);
    }

    public CompletableFuture<ListLinksResponse> listLinks(ListLinksRequest request) {
        return adapt(stub().listLinks(request), r -> r);
    }

    public CompletableFuture<List<Link>> links(int programId) {
        return adapt(stub().listLinks(Requests.linksOf(programId)), ListLinksResponse::getLinksList);
    }

    public CompletableFuture<DetachLinkResponse> detach(int linkId) {
        return detachLink(Requests.detach(linkId));
    }

    public CompletableFuture<DetachLinkResponse> detachLink(DetachLinkRequest request) {
        return adapt(stub().detachLink(request), r -> r);
    }

    public CompletableFuture<Link> updateLink(int linkId, int programId) {
        return updateLink(Requests.updateLink(linkId, programId));
    }

    public CompletableFuture<Link> updateLink(UpdateLinkRequest request) {
        return adapt(stub().updateLink(request), r -> r);
    }

    public CompletableFuture<InspectObjectResponse> inspectObject(byte[] elf, String name) {
        return inspectObject(Requests.inspectObject(elf, name));
    }

    public CompletableFuture<InspectObjectResponse> inspectObject(InspectObjectRequest request) {
        return adapt(stub().inspectObject(request), r -> r);
    }

    public CompletableFuture<CollectionHandle> loadObject(byte[] elf, String name) {
        return loadObject(LoadObjectOptions.elf(elf, name).build().request());
    }

    public CompletableFuture<CollectionHandle> loadObject(LoadObjectOptions options) {
        return loadObject(options.request());
    }

    public CompletableFuture<CollectionHandle> loadObject(LoadObjectRequest request) {
        return adapt(stub().loadObject(request), r -> new CollectionHandle(owner, r.getCollection(),
                r.getVerifierLogsMap()));
    }

    public CompletableFuture<Collection> attachCollection(int collectionId) {
        return adapt(stub().attachCollection(Requests.attachCollection(collectionId)), r -> r);
    }

    public CompletableFuture<Collection> collection(int collectionId) {
        return adapt(stub().getCollection(Requests.getCollection(collectionId)), r -> r);
    }

    public CompletableFuture<ListCollectionsResponse> listCollections(ListCollectionsRequest request) {
        return adapt(stub().listCollections(request), r -> r);
    }

    public CompletableFuture<CloseCollectionResponse> closeCollection(CloseCollectionRequest request) {
        return adapt(stub().closeCollection(request), r -> r);
    }

    public CompletableFuture<LinkHandle> attach(int programId, Hook hook, AttachMechanism mechanism) {
        return attach(Requests.attach(programId, hook).toBuilder().setMechanism(mechanism).build());
    }

    public CompletableFuture<byte[]> readIterator(int linkId) {
        return readIterator(Requests.readIterator(linkId))
                .thenApply(r -> r.getOutput().toByteArray());
    }

    public CompletableFuture<ReadIteratorResponse> readIterator(ReadIteratorRequest request) {
        return adapt(stub().readIterator(request), r -> r);
    }

    // ---- maps ----

    public CompletableFuture<MapHandle> createMap(CreateMapRequest request) {
        return adapt(stub().createMap(request), m -> new MapHandle(owner, m));
    }

    public CompletableFuture<MapHandle> createMap(MapType type, int keySize, int valueSize, int maxEntries, String name) {
        return createMap(Requests.createMap(type, keySize, valueSize, maxEntries, name));
    }

    public CompletableFuture<dev.bpfagent.proto.v1.Map> map(int mapId) {
        return adapt(stub().getMap(Requests.getMap(mapId)), r -> r);
    }

    public CompletableFuture<ListMapsResponse> listMaps(ListMapsRequest request) {
        return adapt(stub().listMaps(request), r -> r);
    }

    public CompletableFuture<CloseMapResponse> closeMap(CloseMapRequest request) {
        return adapt(stub().closeMap(request), r -> r);
    }

    public CompletableFuture<LookupMapElemResponse> lookupMapElem(LookupMapElemRequest request) {
        return adapt(stub().lookupMapElem(request), r -> r);
    }

    public CompletableFuture<UpdateMapElemResponse> updateMapElem(UpdateMapElemRequest request) {
        return adapt(stub().updateMapElem(request), r -> r);
    }

    public CompletableFuture<DeleteMapElemResponse> deleteMapElem(DeleteMapElemRequest request) {
        return adapt(stub().deleteMapElem(request), r -> r);
    }

    public CompletableFuture<LookupMapElemResponse> lookupAndDeleteMapElem(LookupAndDeleteMapElemRequest request) {
        return adapt(stub().lookupAndDeleteMapElem(request), r -> r);
    }

    public CompletableFuture<GetNextMapKeyResponse> getNextMapKey(GetNextMapKeyRequest request) {
        return adapt(stub().getNextMapKey(request), r -> r);
    }

    public CompletableFuture<DumpMapResponse> dumpMap(DumpMapRequest request) {
        return adapt(stub().dumpMap(request), r -> r);
    }

    public CompletableFuture<UpdateMapBatchResponse> updateMapBatch(UpdateMapBatchRequest request) {
        return adapt(stub().updateMapBatch(request), r -> r);
    }

    public CompletableFuture<DeleteMapBatchResponse> deleteMapBatch(DeleteMapBatchRequest request) {
        return adapt(stub().deleteMapBatch(request), r -> r);
    }

    /** Subscriptions to a ring buffer's or perf event array's records, one per Flow.Subscriber. */
    public EventPublisher subscribe(SubscribeOptions options) {
        return new EventPublisher(channel, target, options.request());
    }

    public CompletableFuture<ReadRingBufferResponse> readRingBuffer(ReadRingBufferRequest request) {
        return adapt(stub().readRingBuffer(request), r -> r);
    }

    public CompletableFuture<FreezeMapResponse> freezeMap(FreezeMapRequest request) {
        return adapt(stub().freezeMap(request), r -> r);
    }

    // ---- tail-call chains ----

    public CompletableFuture<TailCallChain> createChain(String name, int maxEntries) {
        return createChain(Requests.createChain(name, maxEntries));
    }

    public CompletableFuture<TailCallChain> createChain(CreateChainRequest request) {
        return adapt(stub().createChain(request), ch -> new TailCallChain(owner, ch));
    }

    public CompletableFuture<Chain> chain(int chainId) {
        return adapt(stub().getChain(Requests.getChain(chainId)), r -> r);
    }

    public CompletableFuture<ListChainsResponse> listChains(ListChainsRequest request) {
        return adapt(stub().listChains(request), r -> r);
    }

    public CompletableFuture<Chain> setChainEntry(SetChainEntryRequest request) {
        return adapt(stub().setChainEntry(request), r -> r);
    }

    public CompletableFuture<Chain> clearChainEntry(ClearChainEntryRequest request) {
        return adapt(stub().clearChainEntry(request), r -> r);
    }

    public CompletableFuture<CloseChainResponse> closeChain(CloseChainRequest request) {
        return adapt(stub().closeChain(request), r -> r);
    }

    // ---- pins ----

    public CompletableFuture<String> pin(int programId, String path) {
        return pin(Requests.program(programId), path).thenApply(PinResponse::getPath);
    }

    public CompletableFuture<PinResponse> pin(ObjectRef object, String path) {
        return adapt(stub().pin(Requests.pin(object, path)), r -> r);
    }

    public CompletableFuture<ProgramHandle> getPinned(String path) {
        return getPinned(path, ProgramType.PROGRAM_TYPE_UNSPECIFIED, "");
    }

    public CompletableFuture<ProgramHandle> getPinned(String path, ProgramType expectedType, String expectedName) {
        return adapt(stub().getPinned(Requests.getPinned(path, expectedType, expectedName)),
                r -> new ProgramHandle(owner, r.getProgram(), ""));
    }

    public CompletableFuture<String> unpin(String path) {
        return adapt(stub().unpin(Requests.unpin(path)), UnpinResponse::getPath);
    }

    // ---- the agent ----

    public CompletableFuture<Boolean> setRunStats(boolean enabled) {
        return adapt(stub().setRunStats(Requests.runStats(enabled)), SetRunStatsResponse::getEnabled);
    }

    public CompletableFuture<GetAgentInfoResponse> agentInfo() {
        return adapt(stub().getAgentInfo(GetAgentInfoRequest.getDefaultInstance()), r -> r);
    }

    public CompletableFuture<Health.Status> health() {
        return adapt(ClientCalls.futureUnaryCall(channel.newCall(Health.CHECK,
                CallOptions.DEFAULT.withDeadlineAfter(deadlineMillis, TimeUnit.MILLISECONDS)), Health.request("")),
                Health::response);
    }
}
