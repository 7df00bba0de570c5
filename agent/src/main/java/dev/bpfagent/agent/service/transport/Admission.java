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
    private final Set<ServerCall<?, ?>> refused = ConcurrentHashMap.newKeySet();

    /** @param limit calls in the pool at once, running or queued */
    public Admission(int limit) {
        this.limit = limit;
    }

    /** True when the call may go to the pool; false marks it to be refused. */
    boolean tryAdmit(ServerCall<?, ?> call) {
        if (inPool.incrementAndGet() <= limit) {
            admitted.add(call);
            return true;
        }
        inPool.decrementAndGet();
        refused.add(call);
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
        if (refused.remove(call)) {
            com.google.rpc.Status s = com.google.rpc.Status.newBuilder()
                    .setCode(Status.Code.RESOURCE_EXHAUSTED.value())
                    .setMessage("the agent is busy: " + limit + " loads, test runs and lists are already running"
                            + " or waiting; try again shortly")
                    .addDetails(Any.pack(ErrorInfo.newBuilder().setDomain(ErrorMapper.DOMAIN).setReason("OVERLOADED")
                            .putMetadata("max_queued_calls", Integer.toString(limit)).build()))
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
