package dev.bpfagent.agent.service;

import dev.bpfagent.agent.service.errors.RequestException;
import io.grpc.Context;
import io.grpc.Status;

/**
 * Where a handler sends work that turned out to be long (a test run of many repeats), after it has
 * seen the request: a bounded pool, shared with the calls routed there whole. The work runs in the
 * call's gRPC context (its deadline and cancellation).
 */
@FunctionalInterface
public interface Offload {
    /**
     * Runs work on the pool, or throws RESOURCE_EXHAUSTED (OVERLOADED, with a retry delay) when the
     * pool is full.
     */
    void submit(Runnable work);

    /** Runs work where it is asked: for in-process use and tests. */
    Offload INLINE = Runnable::run;

    /** The pool's refusal, in one place. */
    static RequestException overloaded(int limit) {
        return (RequestException) RequestException.of(Status.Code.RESOURCE_EXHAUSTED, "OVERLOADED", null,
                "the agent is busy: " + limit + " loads, test runs and lists are already running or waiting;"
                        + " try again shortly").with("max_queued_calls", Integer.toString(limit)).retryAfter(100);
    }

    /**
     * Computes a call's answer on the pool and sends it (or the status of what it threw) from there,
     * in the call's context.
     */
    default <T> void reply(io.grpc.stub.StreamObserver<T> out, java.util.function.Supplier<T> answer) {
        submit(inCallContext(() -> {
            T value;
            try {
                value = answer.get();
            } catch (RuntimeException | Error e) {
                out.onError(dev.bpfagent.agent.service.errors.ErrorMapper.toException(e));
                return;
            }
            out.onNext(value);
            out.onCompleted();
        }));
    }

    /** The current call's context around work handed to another thread. */
    static Runnable inCallContext(Runnable work) {
        return Context.current().wrap(work);
    }
}
