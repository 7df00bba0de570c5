package dev.bpfagent.client;

import com.google.protobuf.ByteString;
import dev.bpfagent.proto.v1.*;

/**
 * The requests both clients send and the results they make of the answers, in one place: the
 * blocking and the async client differ only in how they wait.
 */
final class Requests {
    private Requests() {
    }

    static ObjectRef program(int id) {
        return ObjectRef.newBuilder().setKind(ObjectKind.OBJECT_KIND_PROGRAM).setId(id).build();
    }

    static ObjectRef chain(int id) {
        return ObjectRef.newBuilder().setKind(ObjectKind.OBJECT_KIND_CHAIN).setId(id).build();
    }

    static ObjectRef link(int id) {
        return ObjectRef.newBuilder().setKind(ObjectKind.OBJECT_KIND_LINK).setId(id).build();
    }

    static AttachProgramRequest attach(int programId, Hook hook) {
        return AttachProgramRequest.newBuilder().setProgram(program(programId)).setHook(hook).build();
    }

    static UpdateLinkRequest updateLink(int linkId, int programId) {
        return UpdateLinkRequest.newBuilder().setLink(link(linkId)).setProgram(program(programId)).build();
    }

    static DetachLinkRequest detach(int linkId) {
        return DetachLinkRequest.newBuilder().setLink(link(linkId)).build();
    }

    static ListLinksRequest linksOf(int programId) {
        return ListLinksRequest.newBuilder().setProgramId(programId).setPageSize(1000).build();
    }

    static ObjectRef map(int id) {
        return ObjectRef.newBuilder().setKind(ObjectKind.OBJECT_KIND_MAP).setId(id).build();
    }

    static CreateMapRequest createMap(MapType type, int keySize, int valueSize, int maxEntries, String name) {
        return CreateMapRequest.newBuilder().setType(type).setKeySize(keySize).setValueSize(valueSize)
                .setMaxEntries(maxEntries).setName(name).build();
    }

    static GetProgramRequest get(int id, boolean withLinks) {
        return GetProgramRequest.newBuilder().setProgram(program(id)).setWithLinks(withLinks).build();
    }

    static ListProgramsRequest list(boolean includeKernel) {
        return ListProgramsRequest.newBuilder().setIncludeKernel(includeKernel).setPageSize(1000).build();
    }

    static TestRunProgramRequest testRun(int programId, TestRunOptions o) {
        return TestRunProgramRequest.newBuilder()
                .setProgram(program(programId))
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

    static PinRequest pin(ObjectRef object, String path) {
        return PinRequest.newBuilder().setObject(object).setPath(path).build();
    }

    static UnpinRequest unpin(String path) {
        return UnpinRequest.newBuilder().setPath(path).build();
    }

    static GetPinnedRequest getPinned(String path, ProgramType expectedType, String expectedName) {
        return GetPinnedRequest.newBuilder().setPath(path).setExpectedKind(ObjectKind.OBJECT_KIND_PROGRAM)
                .setProgram(ProgramExpectation.newBuilder().setType(expectedType).setName(expectedName)).build();
    }

    static CloseProgramRequest close(int id, boolean keepPins) {
        return CloseProgramRequest.newBuilder().setProgram(program(id)).setKeepPins(keepPins).build();
    }

    static SetRunStatsRequest runStats(boolean enabled) {
        return SetRunStatsRequest.newBuilder().setEnabled(enabled).build();
    }

    static GetVerifierLogRequest logPage(String logId, long offset) {
        return GetVerifierLogRequest.newBuilder().setLogId(logId).setOffset(offset).build();
    }

    /** A rejection whose status carried only the log's end, and an id to fetch all of it. */
    static boolean needsWholeLog(Throwable t) {
        return t instanceof BpfAgentException.VerifierRejected v && !v.isWholeLog() && !v.logId().isEmpty();
    }

    /** NOT_FOUND answers a "does it exist?" question: false, not an error. */
    static boolean isNotFound(Throwable t) {
        return Errors.map(t) instanceof BpfAgentException.NotFound;
    }

    static GetKernelFeaturesRequest features(boolean refresh) {
        return GetKernelFeaturesRequest.newBuilder().setRefresh(refresh).build();
    }

    static GetPinnedRequest pinnedLink(String path) {
        return GetPinnedRequest.newBuilder().setPath(path).setExpectedKind(ObjectKind.OBJECT_KIND_LINK).build();
    }

    static GetLinkRequest getLink(int linkId) {
        return GetLinkRequest.newBuilder().setLink(link(linkId)).build();
    }

    static ReadIteratorRequest readIterator(int linkId) {
        return ReadIteratorRequest.newBuilder().setLink(link(linkId)).build();
    }

    static InspectObjectRequest inspectObject(byte[] elf, String name) {
        return InspectObjectRequest.newBuilder().setObject(ObjectSource.newBuilder()
                .setElf(ByteString.copyFrom(elf)).setName(name)).build();
    }

    static ObjectRef collection(int id) {
        return ObjectRef.newBuilder().setKind(ObjectKind.OBJECT_KIND_COLLECTION).setId(id).build();
    }

    static AttachCollectionRequest attachCollection(int collectionId) {
        return AttachCollectionRequest.newBuilder().setCollection(collection(collectionId)).build();
    }

    static GetCollectionRequest getCollection(int collectionId) {
        return GetCollectionRequest.newBuilder().setCollection(collection(collectionId)).build();
    }

    static GetMapRequest getMap(int mapId) {
        return GetMapRequest.newBuilder().setMap(map(mapId)).build();
    }

    static CreateChainRequest createChain(String name, int maxEntries) {
        return CreateChainRequest.newBuilder().setName(name).setMaxEntries(maxEntries).build();
    }

    static GetChainRequest getChain(int chainId) {
        return GetChainRequest.newBuilder().setChain(chain(chainId)).build();
    }
}
