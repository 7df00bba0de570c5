package dev.bpfagent.agent.service.transport;

import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;

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
        return new ServerCall<>() {
            @Override public void request(int n) { }
            @Override public void sendHeaders(Metadata headers) { }
            @Override public void sendMessage(R message) { }
            @Override public void close(Status status, Metadata trailers) { }
            @Override public boolean isCancelled() { return false; }
            @Override public Attributes getAttributes() { return Attributes.EMPTY; }
            @Override public MethodDescriptor<Q, R> getMethodDescriptor() { return method; }
        };
    }

    @Test
    void unboundedKernelWorkGoesToThePool() {
        Executor pool = Runnable::run;
        CallExecutors ex = new CallExecutors(pool);
        assertSame(pool, ex.getExecutor(callOf(BpfServiceGrpc.getLoadProgramMethod()), new Metadata()));
        assertSame(pool, ex.getExecutor(callOf(BpfServiceGrpc.getTestRunProgramMethod()), new Metadata()));
        assertSame(pool, ex.getExecutor(callOf(BpfServiceGrpc.getListProgramsMethod()), new Metadata()));
        assertNull(ex.getExecutor(callOf(BpfServiceGrpc.getPinMethod()), new Metadata()));
        assertNull(ex.getExecutor(callOf(BpfServiceGrpc.getGetAgentInfoMethod()), new Metadata()));
    }
}
