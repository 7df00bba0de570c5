package dev.bpfagent.agent.service.transport;

import static org.junit.jupiter.api.Assertions.*;

import dev.bpfagent.proto.v1.BpfServiceGrpc;
import io.grpc.Attributes;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.ServerCall;
import io.grpc.Status;
import java.util.concurrent.Executor;
import org.junit.jupiter.api.Test;

class CallExecutorsTest {
    static <Q, R> ServerCall<Q, R> callOf(MethodDescriptor<Q, R> method) {
        return callOf(method, new java.util.ArrayList<>(), new java.util.ArrayList<>());
    }

    /** A call that records how it was closed. */
    static <Q, R> ServerCall<Q, R> callOf(MethodDescriptor<Q, R> method, java.util.List<Status> closed,
                                          java.util.List<Metadata> trailersOut) {
        return new ServerCall<>() {
            @Override public void request(int n) { }
            @Override public void sendHeaders(Metadata headers) { }
            @Override public void sendMessage(R message) { }
            @Override public void close(Status status, Metadata trailers) { closed.add(status); trailersOut.add(trailers); }
            @Override public boolean isCancelled() { return false; }
            @Override public Attributes getAttributes() { return Attributes.EMPTY; }
            @Override public MethodDescriptor<Q, R> getMethodDescriptor() { return method; }
        };
    }

    @Test
    void unboundedKernelWorkGoesToThePool() {
        Executor pool = Runnable::run;
        CallExecutors ex = new CallExecutors(pool, new Admission(100));
        // loads and test runs: their handlers decide, knowing their size; they start on the loop
        assertNull(ex.getExecutor(callOf(BpfServiceGrpc.getLoadProgramMethod()), new Metadata()));
        assertNull(ex.getExecutor(callOf(BpfServiceGrpc.getTestRunProgramMethod()), new Metadata()));
        assertSame(pool, ex.getExecutor(callOf(BpfServiceGrpc.getListProgramsMethod()), new Metadata()));
        assertNull(ex.getExecutor(callOf(BpfServiceGrpc.getPinMethod()), new Metadata()));
        assertNull(ex.getExecutor(callOf(BpfServiceGrpc.getGetAgentInfoMethod()), new Metadata()));
    }

    @Test
    void callsOverTheBoundStayOnTheLoopAndAreRefusedWithARetryDelay() {
        Executor pool = Runnable::run;
        Admission admission = new Admission(1);
        CallExecutors ex = new CallExecutors(pool, admission);
        var first = callOf(BpfServiceGrpc.getListProgramsMethod());
        assertSame(pool, ex.getExecutor(first, new Metadata()));
        java.util.List<Status> closed = new java.util.ArrayList<>();
        java.util.List<Metadata> trailers = new java.util.ArrayList<>();
        var second = callOf(BpfServiceGrpc.getListProgramsMethod(), closed, trailers);
        assertNull(ex.getExecutor(second, new Metadata()), "refused calls are answered on the event loop");
        boolean[] handlerRan = {false};
        admission.interceptCall(second, new Metadata(), (c, h) -> {
            handlerRan[0] = true;
            return new ServerCall.Listener<>() { };
        });
        assertFalse(handlerRan[0]);
        assertEquals(Status.Code.RESOURCE_EXHAUSTED, closed.get(0).getCode());
        var rich = io.grpc.protobuf.StatusProto.fromStatusAndTrailers(closed.get(0), trailers.get(0));
        assertTrue(rich.getDetailsList().stream().anyMatch(a -> a.is(com.google.rpc.RetryInfo.class)));
        assertEquals(1, admission.inPool());

        // The admitted call gives its place back when it closes.
        admission.interceptCall(first, new Metadata(), (c, h) -> {
            c.close(Status.OK, new Metadata());
            return new ServerCall.Listener<>() { };
        });
        assertEquals(0, admission.inPool());
        assertSame(pool, ex.getExecutor(callOf(BpfServiceGrpc.getListProgramsMethod()), new Metadata()));
    }

    @Test
    void whileDirectMemoryIsOverHalfItsCapPoolCallsAreRefusedBeforeTheirBytesAreRead() throws Exception {
        long[] used = {10};
        DirectMemory memory = new DirectMemory() {
            @Override public long used() { return used[0]; }
            @Override public long limit() { return 100; }
        };
        Executor pool = Runnable::run;
        Admission admission = new Admission(10, memory);
        CallExecutors ex = new CallExecutors(pool, admission);
        assertSame(pool, ex.getExecutor(callOf(BpfServiceGrpc.getListProgramsMethod()), new Metadata()));
        used[0] = 51;
        java.util.List<Status> closed = new java.util.ArrayList<>();
        java.util.List<Metadata> trailers = new java.util.ArrayList<>();
        var busy = callOf(BpfServiceGrpc.getLoadObjectMethod(), closed, trailers);
        assertNull(ex.getExecutor(busy, new Metadata()));
        admission.interceptCall(busy, new Metadata(), (c, h) -> fail("the handler ran"));
        assertEquals(Status.Code.RESOURCE_EXHAUSTED, closed.get(0).getCode());
        var rich = io.grpc.protobuf.StatusProto.fromStatusAndTrailers(closed.get(0), trailers.get(0));
        var info = rich.getDetails(0).unpack(com.google.rpc.ErrorInfo.class);
        assertEquals("MEMORY_BUSY", info.getReason());
        assertEquals("100", info.getMetadataMap().get("direct_memory_limit"));
        assertTrue(rich.getDetailsList().stream().anyMatch(a -> a.is(com.google.rpc.RetryInfo.class)));
        assertEquals(1, admission.inPool(), "a refusal takes no place");
        // calls answered on the event loop are not held back
        assertNull(ex.getExecutor(callOf(BpfServiceGrpc.getGetAgentInfoMethod()), new Metadata()));
    }
}
