package dev.bpfagent.agent.service.events;

import com.google.protobuf.UnsafeByteOperations;
import dev.bpfagent.proto.v1.EventBatch;
import dev.bpfagent.proto.v1.EventLoss;
import dev.bpfagent.proto.v1.EventRecord;
import dev.bpfagent.proto.v1.EventStreamStarted;
import dev.bpfagent.proto.v1.SubscribeEventsResponse;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ServerCallStreamObserver;
import java.util.ArrayDeque;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.logging.Logger;

/**
 * One subscriber of a map's events: its bounded queue, its sequence numbers and losses, and the thread
 * that sends its batches as gRPC flow control allows.
 *
 * <p>The map's reader thread {@link #offer}s what each poll read; this never blocks it: a full queue
 * drops the records for this subscriber and counts them. The sender thread takes batches (up to
 * {@link Limits#batchRecords} records, or what waited {@link Limits#batchDelayMs}) while the call is
 * ready, and alone calls the observer. {@link #lock} guards the queue, counters and end state.
 */
public final class Subscription {
    private static final Logger LOG = Logger.getLogger(Subscription.class.getName());
    /** A batch message stays under this many bytes of record data (clients take 4 MiB messages by default). */
    static final int BATCH_BYTES = 1 << 20;
    /** When ending, how long the sender waits for a client that does not read before giving up the rest. */
    static final long END_DRAIN_NANOS = TimeUnit.SECONDS.toNanos(2);

    /** The subscription's limits, defaulted and capped. */
    public record Limits(int queueRecords, long queueBytes, int batchRecords, int batchDelayMs, boolean packed) {
    }

    /** A record as the reader copied it, shared by every subscriber of the map; cpu -1 for ring buffers. */
    record Rec(byte[] data, int cpu) {
        /** What queuing it costs the heap, as queue_bytes and the agent's budget count it. */
        long cost() {
            return data.length + RECORD_OVERHEAD;
        }
    }

    /** The heap a queued record takes beyond its data: its array's header, the Rec, the queue's slot. */
    static final int RECORD_OVERHEAD = 64;

    /** Records not delivered, in the queue before the record that follows them. */
    record Loss(long first, long count, long dropped, long kernel) {
    }

    private final Limits limits;
    private final EventCounters counters;
    private final MemoryBudget budget;
    private final ServerCallStreamObserver<SubscribeEventsResponse> out;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    /** Rec and Loss items in sequence order. */
    private final ArrayDeque<Object> queue = new ArrayDeque<>();
    private int queuedRecords;
    private long queuedBytes;
    /** When the oldest queued record arrived (System.nanoTime), for the batch delay. */
    private long oldestAt;
    /** Per offer that queued records, oldest first: {when it arrived, how many of its records are still queued}. */
    private final ArrayDeque<long[]> arrivals = new ArrayDeque<>();
    /** The sequence number the last offered record (or lost one) took. */
    private long offered;
    /** Records lost since the last queued item, not yet in the queue as a Loss. */
    private long pendingFirst, pendingCount, pendingDropped, pendingKernel;
    private boolean cancelled;
    /** The sender has finished: nothing more is queued. */
    private boolean done;
    private io.grpc.Status endStatus; // set once the stream is to end
    private boolean ended;
    private final Thread sender;
    private volatile MapStream stream;

    Subscription(Limits limits, MemoryBudget budget, ServerCallStreamObserver<SubscribeEventsResponse> out,
                 EventCounters counters) {
        this.counters = counters;
        this.limits = limits;
        this.budget = budget;
        this.out = out;
        out.setOnReadyHandler(this::signal);
        out.setOnCancelHandler(() -> {
            lock.lock();
            try {
                cancelled = true;
                changed.signalAll();
            } finally {
                lock.unlock();
            }
        });
        this.sender = Thread.ofPlatform().daemon().name("bpf-agent-events-send").unstarted(this::send);
    }

    public Limits limits() {
        return limits;
    }

    /** Starts sending: the started message first, then what is queued. */
    void start(MapStream stream, EventStreamStarted started) {
        this.stream = stream;
        this.started = started;
        sender.start();
    }

    private EventStreamStarted started;

    /** What one poll read, in order: Rec items and kernel losses (Long counts). Never blocks. */
    void offer(List<Object> items) {
        lock.lock();
        try {
            if (cancelled || endStatus != null || done) {
                return;
            }
            boolean wasEmpty = queuedRecords == 0;
            int queuedBefore = queuedRecords;
            for (Object o : items) {
                if (o instanceof Rec r) {
                    long seq = ++offered;
                    long cost = r.cost();
                    if (queuedRecords >= limits.queueRecords() || queuedBytes + cost > limits.queueBytes()
                            || !budget.tryTake(cost)) {
                        addPending(seq, 1, 1, 0);
                        continue;
                    }
                    flushPending();
                    queue.add(r);
                    queuedRecords++;
                    queuedBytes += cost;
                } else {
                    long n = (Long) o;
                    long first = offered + 1;
                    offered += n;
                    addPending(first, n, 0, n);
                }
            }
            if (queuedRecords > queuedBefore) {
                long now = System.nanoTime();
                arrivals.add(new long[] {now, queuedRecords - queuedBefore});
                if (wasEmpty) {
                    oldestAt = now;
                }
            }
            // Wake the sender only when it has something new to decide: it times the batch delay itself,
            // so a signal per poll (often a few records) would cost a context switch each for nothing.
            if ((wasEmpty && queuedRecords > 0) || queuedRecords >= limits.batchRecords()
                    || queuedBytes >= BATCH_BYTES + (long) queuedRecords * RECORD_OVERHEAD
                    || (queuedRecords == 0 && pendingCount > 0)) {
                changed.signalAll();
            }
        } finally {
            lock.unlock();
        }
    }

    private void addPending(long first, long count, long dropped, long kernel) {
        if (pendingCount == 0) {
            pendingFirst = first;
        }
        pendingCount += count;
        pendingDropped += dropped;
        pendingKernel += kernel;
    }

    private void flushPending() {
        if (pendingCount > 0) {
            queue.add(new Loss(pendingFirst, pendingCount, pendingDropped, pendingKernel));
            pendingCount = pendingDropped = pendingKernel = 0;
        }
    }

    /** The stream is to end with status once what is queued has been sent. */
    void end(io.grpc.Status status) {
        lock.lock();
        try {
            if (endStatus == null) {
                endStatus = status;
            }
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    private void signal() {
        lock.lock();
        try {
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** Waits up to millis for the sender to finish; true when it has. */
    boolean awaitDone(long millis) throws InterruptedException {
        sender.join(Math.max(1, millis));
        return !sender.isAlive();
    }

    /** Sequence number of the next record taken from the queue. */
    private long nextSeq = 1;

    private void send() {
        io.grpc.Status finalStatus = null;
        try {
            if (!emit(SubscribeEventsResponse.newBuilder().setStarted(started).build())) {
                return;
            }
            long endingSince = 0;
            while (true) {
                SubscribeEventsResponse msg;
                lock.lock();
                try {
                    while (true) {
                        if (cancelled) {
                            return;
                        }
                        if (endStatus != null && endingSince == 0) {
                            endingSince = System.nanoTime();
                        }
                        if (queue.isEmpty() && pendingCount > 0) {
                            flushPending(); // nothing left to put it before: tell it now
                        }
                        if (queue.isEmpty() && endStatus != null) {
                            finalStatus = endStatus;
                            break;
                        }
                        if (!queue.isEmpty() && !out.isReady()) {
                            if (endStatus != null && System.nanoTime() - endingSince > END_DRAIN_NANOS) {
                                finalStatus = endStatus; // the client does not read: end without the rest
                                break;
                            }
                            changed.await(50, TimeUnit.MILLISECONDS); // onReady signals; the timeout is a guard
                            continue;
                        }
                        if (queue.isEmpty()) {
                            changed.await();
                            continue;
                        }
                        if (queue.peekFirst() instanceof Loss || endStatus != null
                                || queuedRecords >= limits.batchRecords() || queuedBytes >= BATCH_BYTES
                                + (long) queuedRecords * RECORD_OVERHEAD) {
                            break;
                        }
                        long wait = oldestAt + TimeUnit.MILLISECONDS.toNanos(limits.batchDelayMs()) - System.nanoTime();
                        if (wait <= 0) {
                            break;
                        }
                        changed.awaitNanos(wait);
                    }
                    if (finalStatus != null) {
                        break;
                    }
                    msg = take();
                } finally {
                    lock.unlock();
                }
                if (!emit(msg)) {
                    return;
                }
            }
            close(finalStatus);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (RuntimeException e) {
            LOG.log(java.util.logging.Level.WARNING, "event stream of map " + (stream == null ? "?" : stream.mapId()), e);
            close(io.grpc.Status.INTERNAL.withDescription("the agent's event stream failed: " + e
                    + " (see the agent's log); subscribe again"));
        } finally {
            lock.lock();
            try {
                done = true;
                budget.give(queuedBytes);
                queue.clear();
                arrivals.clear();
                queuedRecords = 0;
                queuedBytes = 0;
            } finally {
                lock.unlock();
            }
            MapStream s = stream;
            if (s != null) {
                s.leave(this);
            }
        }
    }

    /** The next message from the queue's head: a loss notice, or a batch of records. Under lock. */
    private SubscribeEventsResponse take() {
        Object head = queue.pollFirst();
        if (head instanceof Loss l) {
            nextSeq = l.first() + l.count();
            counters.droppedByAgent.add(l.dropped());
            counters.lostInKernel.add(l.kernel());
            return SubscribeEventsResponse.newBuilder().setLoss(EventLoss.newBuilder().setFirstSequence(l.first())
                    .setCount(l.count()).setDroppedByAgent(l.dropped()).setLostInKernel(l.kernel())).build();
        }
        EventBatch.Builder b = EventBatch.newBuilder().setFirstSequence(nextSeq);
        // the batch's records: up to batchRecords, BATCH_BYTES of data, or the next Loss
        int n = 1;
        int bytes = ((Rec) head).data().length;
        for (Object next : queue) {
            if (n >= limits.batchRecords() || !(next instanceof Rec r) || bytes + r.data().length > BATCH_BYTES) {
                break;
            }
            n++;
            bytes += r.data().length;
        }
        counters.delivered.add(n);
        byte[] packed = limits.packed() ? new byte[bytes] : null;
        int at = 0;
        long cost = 0;
        for (int i = 0; i < n; i++) {
            Rec r = (Rec) (i == 0 ? head : queue.pollFirst());
            cost += r.cost();
            if (packed != null) {
                System.arraycopy(r.data(), 0, packed, at, r.data().length);
                at += r.data().length;
                b.addPackedSizes(r.data().length);
                if (r.cpu() >= 0) {
                    b.addPackedCpus(r.cpu());
                }
            } else {
                EventRecord.Builder er = EventRecord.newBuilder().setData(UnsafeByteOperations.unsafeWrap(r.data()));
                if (r.cpu() >= 0) {
                    er.setCpu(r.cpu());
                }
                b.addRecords(er);
            }
        }
        if (packed != null) {
            b.setPackedData(UnsafeByteOperations.unsafeWrap(packed));
        }
        queuedRecords -= n;
        queuedBytes -= cost;
        budget.give(cost);
        nextSeq += n;
        for (int left = n; left > 0 && !arrivals.isEmpty(); ) {
            long[] a = arrivals.peekFirst();
            int used = (int) Math.min(left, a[1]);
            a[1] -= used;
            left -= used;
            if (a[1] == 0) {
                arrivals.pollFirst();
            }
        }
        if (!arrivals.isEmpty()) {
            oldestAt = arrivals.peekFirst()[0]; // the batch delay runs from when the next record arrived
        }
        return SubscribeEventsResponse.newBuilder().setBatch(b).build();
    }

    /** Sends one message; false when the call is gone (cancelled meanwhile). */
    private boolean emit(SubscribeEventsResponse msg) {
        try {
            out.onNext(msg);
            return true;
        } catch (StatusRuntimeException | IllegalStateException e) {
            return false;
        }
    }

    /** Closes the call with status (OK completes it). */
    private void close(io.grpc.Status status) {
        if (ended) {
            return;
        }
        ended = true;
        try {
            if (status.isOk()) {
                out.onCompleted();
            } else {
                out.onError(withErrorInfo(status));
            }
        } catch (StatusRuntimeException | IllegalStateException e) {
            // cancelled meanwhile
        }
    }

    /** The status's ErrorInfo, as every other status of the agent carries one. */
    private static StatusRuntimeException withErrorInfo(io.grpc.Status status) {
        com.google.rpc.Status proto = io.grpc.protobuf.StatusProto.fromStatusAndTrailers(status, null);
        String reason = status.getCode() == io.grpc.Status.Code.ABORTED ? "MAP_CLOSED"
                : status.getCode() == io.grpc.Status.Code.UNAVAILABLE ? "AGENT_STOPPING" : status.getCode().name();
        proto = proto.toBuilder().addDetails(com.google.protobuf.Any.pack(com.google.rpc.ErrorInfo.newBuilder()
                .setDomain(dev.bpfagent.agent.service.errors.ErrorMapper.DOMAIN).setReason(reason).build())).build();
        return io.grpc.protobuf.StatusProto.toStatusRuntimeException(proto);
    }
}
