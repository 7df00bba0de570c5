package dev.bpfagent.it;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.*;

import dev.bpfagent.client.BpfAgentException;
import dev.bpfagent.client.BpfClient;
import dev.bpfagent.client.CollectionHandle;
import dev.bpfagent.client.Event;
import dev.bpfagent.client.EventStream;
import dev.bpfagent.client.Hooks;
import dev.bpfagent.client.LinkHandle;
import dev.bpfagent.client.MapCodec;
import dev.bpfagent.client.MapHandle;
import dev.bpfagent.client.ProgramHandle;
import dev.bpfagent.client.SubscribeOptions;
import dev.bpfagent.client.TestPackets;
import dev.bpfagent.client.TestRunOptions;
import dev.bpfagent.proto.v1.*;
import io.grpc.Status;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Flow;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * Event streams proven by real events, the agent a separate process: nanosleep syscalls recorded by a
 * tracepoint program into a ring buffer, packets on a veth pair recorded by XDP into a perf event array,
 * test runs filling a ring buffer for several subscribers at once; and every way a stream ends.
 */
class EventStreamsTest extends OneAgentPerClass {
    /** long syscall(long number, ...): nanosleep(2) itself (glibc's nanosleep() calls clock_nanosleep). */
    private static final MethodHandle SYSCALL = Linker.nativeLinker().downcallHandle(
            Linker.nativeLinker().defaultLookup().find("syscall").orElseThrow(),
            FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, ADDRESS, ADDRESS), Linker.Option.firstVariadicArg(1));
    private static final long SYS_NANOSLEEP = 35;

    static void nanosleep(long nanos) throws Throwable {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment ts = a.allocate(16);
            ts.set(JAVA_LONG, 0, nanos / 1_000_000_000L);
            ts.set(JAVA_LONG, 8, nanos % 1_000_000_000L);
            long r = (long) SYSCALL.invokeExact(SYS_NANOSLEEP, ts, MemorySegment.NULL);
            assertEquals(0, r, "nanosleep");
        }
    }

    static CollectionHandle load(BpfClient client, String program, boolean attach, int targetTgid) throws Exception {
        var req = LoadObjectRequest.newBuilder().setObject(ObjectSource.newBuilder()
                        .setElf(com.google.protobuf.ByteString.copyFrom(ObjectFilesKernelTest.object("events")))
                        .setName("events.o"))
                .addPrograms(program).setAttach(attach);
        if (targetTgid != 0) {
            req.putRodata("target_tgid", com.google.protobuf.ByteString.copyFrom(MapCodec.u32(targetTgid)));
        }
        return client.loadObject(req.build());
    }

    /** Events until count Data were seen or the stream went quiet for 5 s. */
    static List<Event> take(EventStream s, int count) throws InterruptedException {
        List<Event> out = new ArrayList<>();
        int data = 0;
        while (data < count) {
            var e = s.poll(Duration.ofSeconds(5));
            if (e.isEmpty()) {
                break;
            }
            out.add(e.get());
            if (e.get() instanceof Event.Data) {
                data++;
            }
        }
        return out;
    }

    @Test
    void ringBufferDeliversEveryNanosleepOfThisProcessInOrder() throws Throwable {
        int pid = (int) ProcessHandle.current().pid();
        try (CollectionHandle h = load(c, "on_nanosleep", true, pid);
             EventStream events = h.subscribe("events")) {
            assertEquals(dev.bpfagent.proto.v1.MapType.MAP_TYPE_RINGBUF, events.started().getMapType());
            assertEquals(1, events.started().getSubscribers());
            assertTrue(events.started().getCpusList().isEmpty(), "a ring buffer has no per-CPU buffers");
            for (int i = 0; i < 1000; i++) {
                nanosleep(1000);
            }
            List<Event> got = take(events, 1000);
            assertEquals(1000, got.size(), "exactly 1,000 events, none of them a loss: " + summary(got));
            for (int i = 0; i < 1000; i++) {
                Event.Data d = assertInstanceOf(Event.Data.class, got.get(i));
                assertEquals(i + 1, d.sequence(), "sequence numbers 1, 2, ... per subscription");
                assertTrue(d.cpu().isEmpty(), "ring buffer records carry no CPU");
                assertEquals(16, d.data().length, "struct sleep_event");
                assertEquals(pid, d.u32(0), "the tgid the program saw is this JVM's");
                assertEquals(i + 1, d.u64(8), "in the order the program counted them");
            }
            assertTrue(events.poll(Duration.ofMillis(200)).isEmpty(), "no more nanosleeps, no more records");
        }
    }

    @Test
    void perfEventArrayRecordsCarryTheCpuThatWroteThem() throws Throwable {
        try (Veth net = Veth.create()) {
            try (CollectionHandle h = load(c, "xdp_perf", false, 0);
                 EventStream events = c.subscribe(SubscribeOptions.collectionMap(h.id(), "perf_events")
                         .perfBufferPages(8).batchDelayMillis(0))) {
                assertEquals(dev.bpfagent.proto.v1.MapType.MAP_TYPE_PERF_EVENT_ARRAY, events.started().getMapType());
                assertEquals(8, events.started().getPerfBufferPages());
                assertFalse(events.started().getCpusList().isEmpty(), "one perf buffer per online CPU");
                ProgramHandle xdp = h.program("xdp_perf").orElseThrow();
                try (LinkHandle link = xdp.attach(Hooks.xdp(net.hostIf()))) {
                    net.sendUdpFromNamespace(50);
                    MapHandle bss = h.map("events.bss").orElseThrow();
                    long received = 0, produced = 0;
                    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
                    while (System.nanoTime() < deadline) {
                        produced = ObjectFilesKernelTest.u64(bss.lookup(MapCodec.u32(0)).orElseThrow(), 8);
                        if (produced >= 50 && received == produced) {
                            break;
                        }
                        var e = events.poll(Duration.ofMillis(200));
                        if (e.isEmpty()) {
                            continue;
                        }
                        Event.Data d = assertInstanceOf(Event.Data.class, e.get(), "no loss: " + e.get());
                        assertTrue(d.cpu().isPresent(), "perf records carry their CPU");
                        assertTrue(d.data().length >= 16 && d.data().length <= 16 + 7, d.data().length + " bytes: "
                                + "struct packet_event and at most the kernel's padding");
                        assertEquals(d.cpu().getAsInt(), d.u32(0), "the buffer's CPU is the one the program ran on");
                        assertTrue(events.started().getCpusList().contains(d.cpu().getAsInt()));
                        assertTrue(d.u32(4) > 0, "the packet's length");
                        assertEquals(++received, d.sequence());
                    }
                    assertTrue(produced >= 50, "every packet (50 sent, and what else crossed the link) ran the program: "
                            + produced);
                    assertEquals(produced, received, "a record for every run of the program (its packets counter)");
                }
            }
        }
    }

    @Test
    void perfBufferLossesInTheKernelAreReported() throws Exception {
        try (CollectionHandle h = load(c, "xdp_perf", false, 0);
             EventStream events = c.subscribe(SubscribeOptions.collectionMap(h.id(), "perf_events").perfBufferPages(1)
                     .queueRecords(1 << 20).batchDelayMillis(0))) {
            assertEquals(1, events.started().getPerfBufferPages());
            ProgramHandle p = h.program("xdp_perf").orElseThrow();
            // 20,000 samples in a few ms into one page per CPU: the kernel cannot keep them all
            p.testRun(TestRunOptions.ofData(TestPackets.udp().build()).withRepeat(20_000));
            long produced = 20_000;
            long[] seen = {0, 0, 1}; // delivered, lost in the kernel, next sequence number
            drain(events, seen, produced);
            // The kernel writes a buffer's count of lost samples just before the next sample that fits in it,
            // so a loss at the end of a burst shows when the program writes on that CPU again: single runs
            // until one lands there (test runs go to whichever CPU the agent's thread is on).
            for (int i = 0; i < 100 && seen[0] + seen[1] < produced; i++) {
                p.testRun(TestRunOptions.ofData(TestPackets.udp().build()));
                produced++;
                drain(events, seen, produced);
            }
            long counted = ObjectFilesKernelTest.u64(h.map("events.bss").orElseThrow().lookup(MapCodec.u32(0))
                    .orElseThrow(), 8);
            assertEquals(produced, counted, "the program ran once per test run (its packets counter)");
            assertTrue(seen[1] > 0, "a one-page buffer lost samples (PERF_RECORD_LOST); delivered " + seen[0]);
            assertEquals(produced, seen[0] + seen[1], "every sample the program wrote is delivered or counted lost: "
                    + seen[0] + " delivered, " + seen[1] + " lost");
        }
    }

    /** Takes events until `produced` sequence numbers are accounted for or none come for 300 ms. */
    private static void drain(EventStream events, long[] seen, long produced) throws InterruptedException {
        while (seen[2] <= produced) {
            var e = events.poll(Duration.ofMillis(300));
            if (e.isEmpty()) {
                return;
            }
            if (e.get() instanceof Event.Data d) {
                assertEquals(seen[2]++, d.sequence());
                seen[0]++;
            } else if (e.get() instanceof Event.Loss l) {
                assertEquals(seen[2], l.firstSequence(), "the notice covers the numbers the lost records took");
                assertEquals(l.count(), l.lostInKernel(), "lost in the kernel's perf buffer, not in the agent");
                seen[2] += l.count();
                seen[1] += l.count();
            }
        }
    }

    @Test
    void twoSubscribersGetEverythingWhileAThirdThatNeverReadsLosesCountedRecords() throws Exception {
        // a million by default; the kernel matrix's emulated guests pass fewer (bpfagent.eventRecords)
        final int runs = 20, perRun = Integer.getInteger("bpfagent.eventRecords", 1_000_000) / runs;
        final int total = runs * perRun;
        try (CollectionHandle h = load(c, "bench16", false, 0);
             EventStream a = c.subscribe(SubscribeOptions.collectionMap(h.id(), "bench_ring").queueRecords(1 << 20)
                     .queueBytes(32L << 20).batchRecords(4096));
             EventStream b = c.subscribe(SubscribeOptions.collectionMap(h.id(), "bench_ring").queueRecords(1 << 20)
                     .queueBytes(32L << 20).batchRecords(4096));
             EventStream slow = c.subscribe(SubscribeOptions.collectionMap(h.id(), "bench_ring").queueRecords(1000))) {
            assertEquals(3, slow.started().getSubscribers(), "three subscribers share the map's one reader");
            assertEquals(1000, slow.started().getQueueRecords());
            long rssBefore = rssKiB(agent.process.pid());
            var counters = new ArrayList<Thread>();
            var received = new java.util.concurrent.atomic.AtomicLongArray(2); // read here while pacing
            Throwable[] failed = new Throwable[2]; // set by a reader thread before it ends (joined below)
            EventStream[] fast = {a, b};
            for (int i = 0; i < 2; i++) {
                int n = i;
                Thread t = new Thread(() -> {
                    try {
                        long expect = 1;
                        while (received.get(n) < total) {
                            var e = fast[n].poll(Duration.ofSeconds(10));
                            if (e.isEmpty()) {
                                break;
                            }
                            Event.Data d = assertInstanceOf(Event.Data.class, e.get(), "a reader that keeps up loses"
                                    + " nothing");
                            assertEquals(expect++, d.sequence());
                            received.incrementAndGet(n);
                        }
                    } catch (Throwable ex) {
                        failed[n] = ex;
                    }
                }, "subscriber-" + i);
                t.start();
                counters.add(t);
            }
            ProgramHandle p = h.program("bench16").orElseThrow();
            for (int r = 1; r <= runs; r++) {
                p.testRun(TestRunOptions.ofData(TestPackets.udp().build()).withRepeat(perRun));
                // the kernel writes 50,000 records in a few ms, faster than any socket carries them: paced,
                // the two readers keep up, while the third never reads at all
                long produced = (long) r * perRun;
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
                while ((received.get(0) < produced || received.get(1) < produced) && System.nanoTime() < deadline
                        && failed[0] == null && failed[1] == null) {
                    Thread.sleep(2);
                }
            }
            long rssAfter = rssKiB(agent.process.pid());
            for (Thread t : counters) {
                t.join(60_000);
            }
            for (Throwable f : failed) {
                if (f != null) {
                    throw new AssertionError(f);
                }
            }
            MapHandle bss = h.map("events.bss").orElseThrow();
            assertEquals(0, ObjectFilesKernelTest.u64(bss.lookup(MapCodec.u32(0)).orElseThrow(), 16),
                    "the ring buffer never ran full (ring_full)");
            assertEquals(total, received.get(0), "the first subscriber got every record");
            assertEquals(total, received.get(1), "the second subscriber got every record");
            // the third never read: what it gets now is what its queue (and the transport) held, and
            // notices of the rest; every sequence number is in one or the other
            long data = 0, lost = 0, dropped = 0, next = 1;
            while (next <= total) {
                var e = slow.poll(Duration.ofSeconds(5));
                if (e.isEmpty()) {
                    break;
                }
                if (e.get() instanceof Event.Data d) {
                    assertEquals(next, d.sequence());
                    next++;
                    data++;
                } else if (e.get() instanceof Event.Loss l) {
                    assertEquals(next, l.firstSequence(), "a loss notice starts where the records stopped");
                    next += l.count();
                    lost += l.count();
                    dropped += l.droppedByAgent();
                }
            }
            assertEquals(total, data + lost, "every record delivered or counted as lost");
            assertEquals(lost, dropped, "lost in the agent (its queue), not in the kernel");
            assertTrue(lost > 0, "records were dropped for the subscriber that never read");
            assertTrue(data <= 100_000, "it got no more than its queue (1,000) and the transport's windows held: "
                    + data);
            System.out.printf("slow subscriber: %d delivered, %d lost (%d dropped by the agent); agent RSS %d -> %d KiB%n",
                    data, lost, dropped, rssBefore, rssAfter);
            assertTrue(rssAfter - rssBefore < 256 * 1024, "the agent's RSS grew " + (rssAfter - rssBefore)
                    + " KiB while " + total + " records went by (a queue without bound would hold them all)");
        }
    }

    @Test
    void publisherDeliversOnDemand() throws Exception {
        try (CollectionHandle h = load(c, "bench16", false, 0)) {
            var publisher = c.async().subscribe(SubscribeOptions.collectionMap(h.id(), "bench_ring").batchDelayMillis(0));
            List<Event> got = new CopyOnWriteArrayList<>();
            CountDownLatch started = new CountDownLatch(1);
            CountDownLatch ten = new CountDownLatch(10);
            Flow.Subscription[] sub = new Flow.Subscription[1];
            AtomicLong requested = new AtomicLong();
            publisher.subscribe(new Flow.Subscriber<>() {
                @Override
                public void onSubscribe(Flow.Subscription s) {
                    sub[0] = s;
                    requested.addAndGet(1);
                    s.request(1);
                }

                @Override
                public void onNext(Event e) {
                    got.add(e);
                    if (e instanceof Event.Started) {
                        started.countDown();
                    } else {
                        ten.countDown();
                    }
                }

                @Override
                public void onError(Throwable t) {
                    got.add(new Event.Loss(-1, -1, -1, -1));
                }

                @Override
                public void onComplete() {
                }
            });
            assertTrue(started.await(10, TimeUnit.SECONDS), "Started comes first");
            h.program("bench16").orElseThrow().testRun(TestRunOptions.ofData(TestPackets.udp().build()).withRepeat(100));
            Thread.sleep(300);
            assertEquals(1, got.size(), "no more than was asked for: " + got);
            for (int i = 0; i < 10; i++) {
                sub[0].request(1);
            }
            assertTrue(ten.await(10, TimeUnit.SECONDS));
            Thread.sleep(200);
            assertEquals(11, got.size(), "exactly what was asked for");
            for (int i = 1; i <= 10; i++) {
                assertEquals(i, ((Event.Data) got.get(i)).sequence());
            }
            sub[0].cancel();
        }
    }

    @Test
    void cliFollowsARingBufferAsJsonLines() throws Exception {
        try (CollectionHandle h = load(c, "bench16", false, 0)) {
            // written before anyone subscribes: they wait in the ring buffer for its first reader
            h.program("bench16").orElseThrow().testRun(TestRunOptions.ofData(TestPackets.udp().build()).withRepeat(3));
            var out = new java.io.ByteArrayOutputStream();
            int mapId = h.map("bench_ring").orElseThrow().id();
            assertEquals(0, dev.bpfagent.cli.Main.run(new String[] {"--target", agent.unixTarget(), "events",
                    Integer.toString(mapId), "--count", "3", "-o", "json"}, new java.io.PrintStream(out), System.err));
            String[] lines = out.toString().strip().split("\n");
            assertEquals(3, lines.length, out.toString());
            // bench16 writes {seq, 16} as two u64s: seq counts from 0
            assertEquals("{\"seq\":1,\"data\":\"00000000000000001000000000000000\"}", lines[0]);
            assertEquals("{\"seq\":3,\"data\":\"02000000000000001000000000000000\"}", lines[2]);
        }
    }

    @Test
    void aClientOfTheProtoAloneReadsRecordsAsMessages() throws Exception {
        try (CollectionHandle h = load(c, "bench16", false, 0)) {
            h.program("bench16").orElseThrow().testRun(TestRunOptions.ofData(TestPackets.udp().build()).withRepeat(5));
            var ctx = io.grpc.Context.current().withCancellation();
            try {
                ctx.run(() -> {
                    var it = BpfServiceGrpc.newBlockingStub(c.channel()).subscribeEvents(SubscribeEventsRequest.newBuilder()
                            .setCollectionMap(CollectionMapRef.newBuilder().setCollection(ObjectRef.newBuilder()
                                    .setId(h.id())).setName("bench_ring")).setBatchDelayMs(0).build());
                    SubscribeEventsResponse first = it.next();
                    assertTrue(first.hasStarted());
                    assertFalse(first.getStarted().getPacked());
                    List<EventRecord> records = new ArrayList<>();
                    long firstSeq = 0;
                    while (records.size() < 5) {
                        SubscribeEventsResponse m = it.next();
                        assertTrue(m.hasBatch(), m.toString());
                        if (records.isEmpty()) {
                            firstSeq = m.getBatch().getFirstSequence();
                        }
                        records.addAll(m.getBatch().getRecordsList());
                    }
                    assertEquals(1, firstSeq);
                    for (int i = 0; i < 5; i++) {
                        assertEquals(16, records.get(i).getData().size());
                        assertFalse(records.get(i).hasCpu(), "ring buffer records carry no CPU");
                        assertEquals(i, records.get(i).getData().asReadOnlyByteBuffer()
                                .order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong(0));
                    }
                });
            } finally {
                ctx.cancel(null);
            }
        }
    }

    @Test
    void badSubscriptionsAreRefusedNamingTheField() throws Exception {
        try (MapHandle hash = c.createMap(dev.bpfagent.proto.v1.MapType.MAP_TYPE_HASH, 4, 4, 4, "not_events")) {
            var e = assertThrows(BpfAgentException.InvalidArgument.class, () -> c.subscribe(SubscribeOptions.map(hash)));
            assertEquals("map", e.field());
        }
        var none = assertThrows(BpfAgentException.class, () -> c.subscribe(SubscribeOptions.of(
                SubscribeEventsRequest.getDefaultInstance())));
        assertEquals(Status.Code.INVALID_ARGUMENT, none.code(), none.getMessage());
        try (MapHandle ring = c.createMap(dev.bpfagent.proto.v1.MapType.MAP_TYPE_RINGBUF, 0, 0, 4096, "ring")) {
            var pages = assertThrows(BpfAgentException.InvalidArgument.class, () -> c.subscribe(
                    SubscribeOptions.map(ring).perfBufferPages(3)));
            assertEquals("perf_buffer_pages", pages.field());
            try (EventStream s = ring.subscribe()) {
                var busy = assertThrows(BpfAgentException.class, () -> ring.readRingBuffer(10));
                assertEquals(Status.Code.FAILED_PRECONDITION, busy.code());
                assertEquals("MAP_STREAMED", busy.reason());
            }
            assertTrue(Kernel.eventually(() -> {
                try {
                    ring.readRingBuffer(10);
                    return true;
                } catch (BpfAgentException stillStreamed) {
                    return false;
                }
            }), "once the stream is closed the map may be read again");
        }
        try (CollectionHandle h = load(c, "bench16", false, 0)) {
            var missing = assertThrows(BpfAgentException.NotFound.class,
                    () -> c.subscribe(SubscribeOptions.collectionMap(h.id(), "no_such_map")));
            assertTrue(missing.getMessage().contains("bench_ring"), "names the maps there are: " + missing.getMessage());
        }
        var unknown = assertThrows(BpfAgentException.NotFound.class, () -> c.subscribe(SubscribeOptions.map(999_999_999)));
        assertEquals("map", unknown.field());
    }

    @Test
    void cancelMapCloseAndAgentStopEndStreamsAndLeaveNothingBehind() throws Throwable {
        try (AgentProcess own = AgentProcess.start(); BpfClient client = BpfClient.connect(own.unixTarget())) {
            long pid = own.process.pid();
            TestRunOptions fiveRuns = TestRunOptions.ofData(TestPackets.udp().build()).withRepeat(5);
            // cancel: the client closes its stream; the perf events, epoll, eventfd and threads go
            try (CollectionHandle h = load(client, "xdp_perf", false, 0)) {
                h.program("xdp_perf").orElseThrow().testRun(fiveRuns); // warms the agent's pool: counts settle
                int fds = fds(pid);
                int threads = threads(pid);
                EventStream perf = client.subscribe(SubscribeOptions.collectionMap(h.id(), "perf_events"));
                int cpus = perf.started().getCpusCount();
                assertTrue(cpus > 0);
                assertTrue(fds(pid) >= fds + cpus + 2, "a perf event per CPU, epoll and its eventfd while subscribed: "
                        + fds(pid) + " vs " + fds);
                assertTrue(threads(pid) >= threads + 2, "a reader and a sender thread");
                perf.close();
                assertTrue(Kernel.eventually(() -> threads(pid) == threads), "threads back to " + threads + ": "
                        + threads(pid));
                assertTrue(Kernel.eventually(() -> fds(pid) == fds), "fds back to " + fds + ": " + fds(pid));
            }

            // map close: the stream ends ABORTED (MAP_CLOSED) after what was read
            try (CollectionHandle h = load(client, "bench16", false, 0)) {
                h.program("bench16").orElseThrow().testRun(fiveRuns); // waits in the ring: the first subscriber gets it
                int fds = fds(pid);
                int threads = threads(pid);
                EventStream s = client.subscribe(SubscribeOptions.collectionMap(h.id(), "bench_ring"));
                List<Event> got = take(s, 5);
                assertEquals(5, got.size(), "what waited in the ring buffer went to the first subscriber");
                h.close();
                var ended = assertThrows(BpfAgentException.class, () -> s.poll(Duration.ofSeconds(10)));
                assertEquals(Status.Code.ABORTED, ended.code(), ended.getMessage());
                assertEquals("MAP_CLOSED", ended.reason());
                s.close();
                assertTrue(Kernel.eventually(() -> threads(pid) == threads), "threads back to " + threads + ": "
                        + threads(pid));
                assertTrue(Kernel.eventually(() -> fds(pid) < fds), "fds below " + fds + " (the collection's went"
                        + " too): " + fds(pid));
            }

            // agent stop: what was read is delivered, then UNAVAILABLE (AGENT_STOPPING)
            CollectionHandle h = load(client, "bench16", false, 0);
            EventStream s = client.subscribe(SubscribeOptions.collectionMap(h.id(), "bench_ring").batchDelayMillis(1000));
            h.program("bench16").orElseThrow().testRun(TestRunOptions.ofData(TestPackets.udp().build()).withRepeat(7));
            Thread.sleep(100); // read by the agent, waiting for its batch (1 s)
            assertEquals(143, own.stop(), "SIGTERM: a graceful stop");
            assertFalse(own.agentStderr().contains("Exception"), own.agentStderr());
            List<Event> last = new ArrayList<>();
            var stopped = assertThrows(BpfAgentException.class, () -> {
                for (int i = 0; i < 100; i++) {
                    s.poll(Duration.ofMillis(200)).ifPresent(last::add);
                }
            }, "the stream ended with an error status");
            assertEquals(Status.Code.UNAVAILABLE, stopped.code(), stopped.getMessage());
            assertEquals("AGENT_STOPPING", stopped.reason());
            assertEquals(7, last.size(), "the 7 records read before the stop were delivered: " + last);
        }
    }

    static String summary(List<Event> events) {
        return events.size() + " events, " + events.stream().filter(e -> e instanceof Event.Loss).toList();
    }

    static int fds(long pid) {
        try (var s = Files.list(Path.of("/proc/" + pid + "/fd"))) {
            return (int) s.count();
        } catch (java.io.IOException e) {
            return -1;
        }
    }

    static int threads(long pid) {
        return (int) statusField(pid, "Threads:");
    }

    static long rssKiB(long pid) {
        return statusField(pid, "VmRSS:");
    }

    static long statusField(long pid, String name) {
        try {
            for (String l : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
                if (l.startsWith(name)) {
                    return Long.parseLong(l.substring(name.length()).trim().split("\\s+")[0]);
                }
            }
        } catch (java.io.IOException e) {
            return -1;
        }
        return -1;
    }

    /** A veth pair whose far end is in a network namespace of its own; closing deletes both. */
    record Veth(String ns, String hostIf, String hostAddr, String nsAddr) implements AutoCloseable {
        static Veth create() throws Exception {
            String ip = NetworkHooksTest.IP;
            Assumptions.assumeTrue(Files.isExecutable(Path.of(ip)), "needs iproute2's ip");
            String tag = UUID.randomUUID().toString().substring(0, 6);
            int net = 100 + (int) (Math.random() * 100);
            Veth v = new Veth("bpfev" + tag, "bpfeh" + tag, "10.214." + net + ".1", "10.214." + net + ".2");
            String nsIf = "bpfen" + tag;
            NetworkHooksTest.sh(ip, "netns", "add", v.ns);
            try {
                NetworkHooksTest.sh(ip, "link", "add", v.hostIf, "type", "veth", "peer", "name", nsIf);
                NetworkHooksTest.sh(ip, "link", "set", nsIf, "netns", v.ns);
                NetworkHooksTest.sh(ip, "addr", "add", v.hostAddr + "/30", "dev", v.hostIf);
                NetworkHooksTest.sh(ip, "link", "set", v.hostIf, "up");
                NetworkHooksTest.sh(ip, "netns", "exec", v.ns, ip, "addr", "add", v.nsAddr + "/30", "dev", nsIf);
                NetworkHooksTest.sh(ip, "netns", "exec", v.ns, ip, "link", "set", nsIf, "up");
            } catch (Throwable e) {
                v.close();
                throw e;
            }
            return v;
        }

        /** count UDP datagrams from the namespace to the host end (nobody listens: XDP sees them anyway). */
        void sendUdpFromNamespace(int count) throws Exception {
            NetworkHooksTest.sh(NetworkHooksTest.IP, "netns", "exec", ns, "/bin/bash", "-c", "for i in $(seq "
                    + count + "); do echo hi > /dev/udp/" + hostAddr + "/9; done");
        }

        @Override
        public void close() throws Exception {
            Processes.run(30, List.of(NetworkHooksTest.IP, "netns", "del", ns));
            Processes.run(30, List.of(NetworkHooksTest.IP, "link", "del", hostIf));
        }
    }
}
