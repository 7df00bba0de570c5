package dev.bpfagent.agent.service.transport;

import com.google.protobuf.Any;
import com.google.protobuf.Duration;
import com.google.rpc.ErrorInfo;
import com.google.rpc.RetryInfo;
import dev.bpfagent.agent.service.errors.ErrorMapper;
import io.grpc.ForwardingServerCall;
import io.grpc.ForwardingServerCallListener;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.grpc.protobuf.StatusProto;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Bounds the calls waiting for the worker pool. {@link CallExecutors} asks {@link #tryAdmit} when a
 * call arrives (on the event loop, before anything is queued); a call over the bound is not queued
 * but refused here, on the event loop, with RESOURCE_EXHAUSTED and a RetryInfo. An admitted call
 * gives its place back when it closes or is cancelled.
 *
 * <p>grpc-java hands the executor supplier and the handler the same ServerCall object, so calls are
 * told apart by identity (ServerCallImpl keeps Object's equals).
 */
public final class Admission implements ServerInterceptor {
    /** How long a refused client should wait before trying again. */
    static final long RETRY_MILLIS = 100;

    private final int limit;
    private final AtomicInteger inPool = new AtomicInteger();
    private final Set<ServerCall<?, ?>> admitted = ConcurrentHashMap.newKeySet();
    /** Refused calls, each with the refusal it gets when its handler would start. */
    private final java.util.Map<ServerCall<?, ?>, Refusal> refused = new ConcurrentHashMap<>();
    private final DirectMemory memory;

    enum Refusal { OVERLOADED, MEMORY_BUSY }

    /** @param limit calls in the pool at once, running or queued */
    public Admission(int limit) {
        this(limit, DirectMemory.jvm());
    }

    Admission(int limit, DirectMemory memory) {
        this.limit = limit;
        this.memory = memory;
    }

    /**
     * True when the call may go to the pool; false marks it to be refused. A call waiting for the pool
     * holds its request's bytes in netty's direct buffers until a worker parses it, so while direct
     * memory is above half its cap new ones are refused here, before any of their bytes are read:
     * with grpc-java's 4 MiB message limit and the bounded pool, reaching the cap (which would fail a
     * whole connection, every call on it) takes far more than the agent admits.
     */
    boolean tryAdmit(ServerCall<?, ?> call) {
        if (memory.busy()) {
            refused.put(call, Refusal.MEMORY_BUSY);
            return false;
        }
        if (inPool.incrementAndGet() <= limit) {
            admitted.add(call);
            return true;
        }
        inPool.decrementAndGet();
        refused.put(call, Refusal.OVERLOADED);
        return false;
    }

    /** For work a handler hands to the pool itself: true and counted, or false when the pool is full. */
    public boolean tryAcquire() {
        if (inPool.incrementAndGet() <= limit) {
            return true;
        }
        inPool.decrementAndGet();
        return false;
    }

    /** Gives back what {@link #tryAcquire} took. */
    public void releaseOne() {
        inPool.decrementAndGet();
    }

    /** The most calls in the pool at once. */
    public int limit() {
        return limit;
    }

    /** Calls in the pool now, running or queued. */
    public int inPool() {
        return inPool.get();
    }

    private void release(ServerCall<?, ?> call) {
        if (admitted.remove(call)) {
            inPool.decrementAndGet();
        }
    }

    @Override
    public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
                                                       ServerCallHandler<Q, R> next) {
        Refusal why = refused.remove(call);
        if (why != null) {
            ErrorInfo info = why == Refusal.OVERLOADED
                    ? ErrorInfo.newBuilder().setDomain(ErrorMapper.DOMAIN).setReason("OVERLOADED")
                            .putMetadata("max_queued_calls", Integer.toString(limit)).build()
                    : ErrorInfo.newBuilder().setDomain(ErrorMapper.DOMAIN).setReason("MEMORY_BUSY")
                            .putMetadata("direct_memory_used", Long.toString(memory.used()))
                            .putMetadata("direct_memory_limit", Long.toString(memory.limit())).build();
            com.google.rpc.Status s = com.google.rpc.Status.newBuilder()
                    .setCode(Status.Code.RESOURCE_EXHAUSTED.value())
                    .setMessage(why == Refusal.OVERLOADED ? "the agent is busy: " + limit + " loads, test runs and"
                            + " lists are already running or waiting; try again shortly"
                            : "the agent is busy: requests waiting for it hold " + (memory.used() >> 20) + " MiB of"
                            + " its " + (memory.limit() >> 20) + " MiB of direct memory; try again shortly")
                    .addDetails(Any.pack(info))
                    .addDetails(Any.pack(RetryInfo.newBuilder().setRetryDelay(
                            Duration.newBuilder().setNanos((int) (RETRY_MILLIS * 1_000_000))).build()))
                    .build();
            var e = StatusProto.toStatusRuntimeException(s);
            call.close(e.getStatus(), e.getTrailers());
            return new ServerCall.Listener<>() { };
        }
        if (!admitted.contains(call)) {
            return next.startCall(call, headers); // runs on the event loop: nothing to count
        }
        ServerCall<Q, R> counted = new ForwardingServerCall.SimpleForwardingServerCall<>(call) {
            @Override
            public void close(Status status, Metadata trailers) {
                release(call);
                super.close(status, trailers);
            }
        };
        return new ForwardingServerCallListener.SimpleForwardingServerCallListener<>(next.startCall(counted, headers)) {
            @Override
            public void onCancel() {
                release(call);
                super.onCancel();
            }

            @Override
            public void onComplete() {
                release(call);
                super.onComplete();
            }
        };
    }
}
