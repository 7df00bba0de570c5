package dev.bpfagent.agent.service.events;

import static org.junit.jupiter.api.Assertions.*;

import dev.bpfagent.proto.v1.EventStreamStarted;
import dev.bpfagent.proto.v1.SubscribeEventsResponse;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** A subscription's queue, sequence numbers, losses, flow control and end, without a kernel or a socket. */
class SubscriptionTest {
    /** A call the test controls: ready or not, and what was sent. */
    static final class FakeCall extends ServerCallStreamObserver<SubscribeEventsResponse> {
        final List<SubscribeEventsResponse> sent = new CopyOnWriteArrayList<>();
        volatile Throwable error;
        volatile boolean completed;
        volatile boolean ready = true;
        Runnable onReady;
        Runnable onCancel;

        @Override
        public boolean isReady() {
            return ready;
        }

        void becomeReady() {
            ready = true;
            onReady.run();
        }

        @Override
        public void setOnReadyHandler(Runnable r) {
            onReady = r;
        }

        @Override
        public void setOnCancelHandler(Runnable r) {
            onCancel = r;
        }

        @Override
        public boolean isCancelled() {
            return false;
        }

        @Override
        public void setCompression(String compression) {
        }

        @Override
        public void disableAutoInboundFlowControl() {
        }

        @Override
        public void request(int count) {
        }

        @Override
        public void setMessageCompression(boolean enable) {
        }

        @Override
        public void onNext(SubscribeEventsResponse value) {
            sent.add(value);
        }

        @Override
        public void onError(Throwable t) {
            error = t;
        }

        @Override
        public void onCompleted() {
            completed = true;
        }

        /** Sequence numbers delivered, and the losses' (first, count) in order. */
        List<Long> delivered() {
            List<Long> out = new ArrayList<>();
            for (var m : sent) {
                if (m.hasBatch()) {
                    long seq = m.getBatch().getFirstSequence();
                    int n = Math.max(m.getBatch().getRecordsCount(), m.getBatch().getPackedSizesCount());
                    for (int i = 0; i < n; i++) {
                        out.add(seq + i);
                    }
                }
            }
            return out;
        }
    }

    static List<Object> records(int n, int size) {
        List<Object> items = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            items.add(new Subscription.Rec(new byte[size], -1));
        }
        return items;
    }

    static Subscription start(FakeCall call, Subscription.Limits limits, MemoryBudget budget) {
        Subscription s = new Subscription(limits, budget, call, new EventCounters());
        s.start(null, EventStreamStarted.getDefaultInstance());
        return s;
    }

    static boolean eventually(java.util.function.BooleanSupplier c) throws InterruptedException {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (!c.getAsBoolean()) {
            if (System.nanoTime() > end) {
                return false;
            }
            Thread.sleep(5);
        }
        return true;
    }

    @Test
    void aFullQueueDropsCountsAndTellsBeforeTheNextRecord() throws Exception {
        FakeCall call = new FakeCall();
        call.ready = false; // the client reads nothing for now
        MemoryBudget budget = new MemoryBudget(1 << 30);
        Subscription s = start(call, new Subscription.Limits(10, 1 << 20, 4, 0, false), budget);
        s.offer(records(25, 16)); // 10 queued, 15 dropped
        assertTrue(eventually(() -> call.sent.size() == 1), "only `started` while not ready");
        assertEquals(10L * (16 + Subscription.RECORD_OVERHEAD), budget.used(), "the queue's records count against the budget");
        call.becomeReady();
        assertTrue(eventually(() -> call.delivered().size() == 10));
        assertEquals(List.of(1L, 2L, 3L, 4L, 5L, 6L, 7L, 8L, 9L, 10L), call.delivered());
        assertTrue(eventually(() -> call.sent.stream().anyMatch(SubscribeEventsResponse::hasLoss)),
                "with the queue empty, the loss is told without waiting for a record");
        var loss = call.sent.stream().filter(SubscribeEventsResponse::hasLoss).findFirst().orElseThrow().getLoss();
        assertEquals(11, loss.getFirstSequence());
        assertEquals(15, loss.getCount());
        assertEquals(15, loss.getDroppedByAgent());
        assertEquals(0, loss.getLostInKernel());
        s.offer(List.of(new Subscription.Rec(new byte[] {7}, -1), 3L, new Subscription.Rec(new byte[] {8}, -1)));
        assertTrue(eventually(() -> call.delivered().size() == 12));
        assertEquals(26L, call.delivered().get(10), "numbers continue after the lost ones");
        var kernel = call.sent.stream().filter(SubscribeEventsResponse::hasLoss).toList();
        assertEquals(2, kernel.size());
        assertEquals(27, kernel.get(1).getLoss().getFirstSequence());
        assertEquals(3, kernel.get(1).getLoss().getLostInKernel(), "a kernel loss takes its numbers too");
        assertEquals(30L, call.delivered().get(11));
        assertTrue(eventually(() -> budget.used() == 0), "sent records give their budget back");
        s.end(Status.ABORTED.withDescription("map closed"));
        assertTrue(eventually(() -> call.error != null));
        assertEquals(Status.Code.ABORTED, Status.fromThrowable(call.error).getCode());
    }

    @Test
    void batchesRespectTheirSizeAndThePackedForm() throws Exception {
        FakeCall call = new FakeCall();
        Subscription s = start(call, new Subscription.Limits(1000, 1 << 20, 8, 1000, true), new MemoryBudget(1 << 30));
        List<Object> items = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            items.add(new Subscription.Rec(new byte[] {(byte) i, (byte) (i + 1)}, i % 2));
        }
        s.offer(items);
        // 8 and 8 go at once (full batches); the last 4 wait for the delay (1 s) or the end
        assertTrue(eventually(() -> call.delivered().size() == 16));
        Thread.sleep(100);
        assertEquals(16, call.delivered().size(), "a partial batch waits for its delay");
        s.end(Status.UNAVAILABLE);
        assertTrue(eventually(() -> call.error != null));
        assertEquals(20, call.delivered().size(), "ending sends what is queued first");
        var b = call.sent.get(1).getBatch();
        assertEquals(8, b.getPackedSizesCount());
        assertEquals(16, b.getPackedData().size());
        assertEquals(List.of(0, 1, 0, 1, 0, 1, 0, 1), b.getPackedCpusList());
        assertEquals(5, b.getPackedData().byteAt(10), "records back to back");
    }

    @Test
    void theAgentsBudgetBoundsEveryQueueTogether() throws Exception {
        MemoryBudget budget = new MemoryBudget(5L * (100 + Subscription.RECORD_OVERHEAD));
        FakeCall a = new FakeCall();
        FakeCall b = new FakeCall();
        a.ready = false;
        b.ready = false;
        Subscription sa = start(a, new Subscription.Limits(1000, 1 << 20, 100, 0, false), budget);
        Subscription sb = start(b, new Subscription.Limits(1000, 1 << 20, 100, 0, false), budget);
        sa.offer(records(4, 100));
        sb.offer(records(4, 100)); // one fits, three over the budget
        a.becomeReady();
        b.becomeReady();
        assertTrue(eventually(() -> a.delivered().size() == 4 && b.delivered().size() == 1));
        assertTrue(eventually(() -> b.sent.stream().anyMatch(SubscribeEventsResponse::hasLoss)));
        assertEquals(3, b.sent.stream().filter(SubscribeEventsResponse::hasLoss).findFirst().orElseThrow().getLoss()
                .getDroppedByAgent());
        assertTrue(eventually(() -> budget.used() == 0));
        sa.end(Status.CANCELLED);
        sb.end(Status.CANCELLED);
    }
}
