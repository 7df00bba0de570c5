package dev.bpfagent.client;

import dev.bpfagent.proto.v1.BpfServiceGrpc;
import dev.bpfagent.proto.v1.SubscribeEventsRequest;
import dev.bpfagent.proto.v1.SubscribeEventsResponse;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.Metadata;
import io.grpc.Status;
import java.util.ArrayDeque;
import java.util.Objects;
import java.util.concurrent.Flow;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Event subscriptions as a {@link Flow.Publisher}: each {@link #subscribe} opens its own subscription
 * in the agent. Events arrive in order: {@link Event.Started} first, then {@link Event.Data} and
 * {@link Event.Loss}. Demand maps onto gRPC flow control: a message is asked of the agent only when
 * the subscriber has demand and the last message's events are all delivered, so a slow subscriber makes
 * the agent drop (and count) records rather than grow this JVM. The stream ends with onComplete when
 * the agent completes it, else onError with a {@link BpfAgentException} (map closed: ABORTED,
 * MAP_CLOSED; agent stopping: UNAVAILABLE); cancel unsubscribes.
 */
public final class EventPublisher implements Flow.Publisher<Event> {
    private final Channel channel;
    private final String target;
    private final SubscribeEventsRequest request;

    EventPublisher(Channel channel, String target, SubscribeEventsRequest request) {
        this.channel = channel;
        this.target = target;
        this.request = request;
    }

    @Override
    public void subscribe(Flow.Subscriber<? super Event> subscriber) {
        Objects.requireNonNull(subscriber, "subscriber");
        new Subscription(subscriber).start();
    }

    private final class Subscription implements Flow.Subscription {
        private final Flow.Subscriber<? super Event> subscriber;
        private final ClientCall<SubscribeEventsRequest, SubscribeEventsResponse> call =
                channel.newCall(BpfServiceGrpc.getSubscribeEventsMethod(), CallOptions.DEFAULT);
        /** Guarded by this: events received and not yet delivered, demand, the call's state. */
        private final ArrayDeque<Event> buffer = new ArrayDeque<>();
        private long demand;
        private boolean awaitingMessage;
        private boolean callStarted;
        private Status endStatus;
        private Metadata endTrailers;
        private boolean finished;
        private boolean cancelled;
        /** Drain runs in one thread at a time; others bump this and leave. */
        private final AtomicInteger wip = new AtomicInteger();

        Subscription(Flow.Subscriber<? super Event> subscriber) {
            this.subscriber = subscriber;
        }

        void start() {
            subscriber.onSubscribe(this);
            synchronized (this) {
                if (cancelled) {
                    return;
                }
                call.start(new ClientCall.Listener<>() {
                    @Override
                    public void onMessage(SubscribeEventsResponse message) {
                        synchronized (Subscription.this) {
                            buffer.addAll(Event.of(message));
                            awaitingMessage = false;
                        }
                        drain();
                    }

                    @Override
                    public void onClose(Status status, Metadata trailers) {
                        synchronized (Subscription.this) {
                            endStatus = status;
                            endTrailers = trailers;
                        }
                        drain();
                    }
                }, new Metadata());
                call.sendMessage(request);
                call.halfClose();
                callStarted = true;
            }
            drain();
        }

        @Override
        public void request(long n) {
            if (n <= 0) {
                synchronized (this) {
                    cancelled = true;
                    call.cancel("request(" + n + ")", null);
                }
                subscriber.onError(new IllegalArgumentException("request(" + n + "): demand must be positive (§3.9)"));
                return;
            }
            synchronized (this) {
                demand = demand + n < 0 ? Long.MAX_VALUE : demand + n;
            }
            drain();
        }

        @Override
        public void cancel() {
            synchronized (this) {
                if (cancelled || finished) {
                    return;
                }
                cancelled = true;
                buffer.clear();
                call.cancel("the subscriber cancelled", null);
            }
        }

        private void drain() {
            if (wip.getAndIncrement() != 0) {
                return;
            }
            do {
                while (true) {
                    Event next = null;
                    Throwable error = null;
                    boolean complete = false;
                    synchronized (this) {
                        if (cancelled || finished) {
                            break;
                        }
                        if (demand > 0 && !buffer.isEmpty()) {
                            next = buffer.poll();
                            demand--;
                        } else if (buffer.isEmpty() && endStatus != null) {
                            finished = true;
                            if (endStatus.isOk()) {
                                complete = true;
                            } else {
                                error = Errors.map(endStatus.asRuntimeException(endTrailers), target);
                            }
                        } else {
                            if (buffer.isEmpty() && demand > 0 && !awaitingMessage && callStarted) {
                                awaitingMessage = true;
                                call.request(1);
                            }
                            break;
                        }
                    }
                    if (next != null) {
                        subscriber.onNext(next);
                    } else if (complete) {
                        subscriber.onComplete();
                        break;
                    } else if (error != null) {
                        subscriber.onError(error);
                        break;
                    }
                }
            } while (wip.decrementAndGet() != 0);
        }
    }
}
