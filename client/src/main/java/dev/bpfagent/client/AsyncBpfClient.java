package dev.bpfagent.client;

import com.google.common.util.concurrent.FutureCallback;
import com.google.common.util.concurrent.Futures;
import com.google.common.util.concurrent.ListenableFuture;
import com.google.common.util.concurrent.MoreExecutors;
import dev.bpfagent.proto.v1.*;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * The asynchronous form of {@link BpfClient}: the same calls, answered as CompletableFutures that fail
 * with {@link BpfAgentException}.
 */
public final class AsyncBpfClient {
    private final BpfClient owner;
    private final BpfServiceGrpc.BpfServiceFutureStub stub;
    private final long deadlineMillis;
    private final String target;

    AsyncBpfClient(BpfClient owner, BpfServiceGrpc.BpfServiceFutureStub stub, long deadlineMillis, String target) {
        this.owner = owner;
        this.stub = stub;
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

    public CompletableFuture<ProgramHandle> load(LoadOptions options) {
        return adapt(stub().loadProgram(BpfClient.request(options)),
                r -> new ProgramHandle(owner, r.getProgram(), r.getVerifierLog()));
    }

    public CompletableFuture<TestRunResult> testRun(int programId, TestRunOptions options) {
        return adapt(stub().testRunProgram(BpfClient.request(programId, options)), BpfClient::result);
    }

    public CompletableFuture<String> pin(int programId, String path) {
        return adapt(stub().pinProgram(PinProgramRequest.newBuilder().setProgramId(programId).setPath(path).build()),
                PinProgramResponse::getPath);
    }

    public CompletableFuture<ProgramHandle> getPinned(String path) {
        return adapt(stub().getPinnedProgram(GetPinnedProgramRequest.newBuilder().setPath(path).build()),
                r -> new ProgramHandle(owner, r.getProgram(), ""));
    }

    public CompletableFuture<String> unpin(String path) {
        return adapt(stub().unpinProgram(UnpinProgramRequest.newBuilder().setPath(path).build()),
                UnpinProgramResponse::getPath);
    }

    public CompletableFuture<CloseProgramResponse> closeProgram(int programId, boolean keepPins) {
        return adapt(stub().closeProgram(
                CloseProgramRequest.newBuilder().setProgramId(programId).setKeepPins(keepPins).build()), r -> r);
    }

    public CompletableFuture<Boolean> programExists(int programId) {
        return adapt(stub().programExists(ProgramExistsRequest.newBuilder().setProgramId(programId).build()),
                ProgramExistsResponse::getExists);
    }

    public CompletableFuture<Boolean> programAttached(int programId) {
        return adapt(stub().programAttached(ProgramAttachedRequest.newBuilder().setProgramId(programId).build()),
                ProgramAttachedResponse::getAttached);
    }

    public CompletableFuture<ProgramInfo> programInfo(int programId) {
        return adapt(stub().getProgramInfo(GetProgramInfoRequest.newBuilder().setProgramId(programId).build()),
                GetProgramInfoResponse::getInfo);
    }

    public CompletableFuture<List<ProgramInfo>> listPrograms(boolean includeKernel) {
        return adapt(stub().listPrograms(ListProgramsRequest.newBuilder().setIncludeKernel(includeKernel).build()),
                ListProgramsResponse::getProgramsList);
    }
}
