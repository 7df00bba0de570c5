package dev.bpfagent.bench;

import dev.bpfagent.agent.bpf.BpfMap;
import dev.bpfagent.agent.bpf.EventReader;
import dev.bpfagent.client.BpfClient;
import dev.bpfagent.client.CollectionHandle;
import dev.bpfagent.client.Event;
import dev.bpfagent.client.EventStream;
import dev.bpfagent.client.ProgramHandle;
import dev.bpfagent.client.SubscribeOptions;
import dev.bpfagent.client.TestPackets;
import dev.bpfagent.client.TestRunOptions;
import dev.bpfagent.it.AgentProcess;
import dev.bpfagent.proto.v1.LoadObjectRequest;
import dev.bpfagent.proto.v1.ObjectSource;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Event streams: records per second a consumer receives from a ring buffer that a program fills as fast
 * as test runs with repeat drive it (events.o's bench16 / bench256, one record per run). Consumers:
 * one and four clients, each in this JVM on its own connection over the Unix socket (the agent is
 * another process); the kernel layer's reader in-process; libbpf's ring_buffer from C. Each consumer's
 * rate is its records over the time from its first to its last record.
 */
final class EventBench {
    static final Duration PRODUCE = Duration.ofSeconds(3);

    record Rate(long records, long lost, double seconds) {
        double perSecond() {
            return seconds > 0 ? records / seconds : 0;
        }
    }

    record Result(String consumer, int recordBytes, int clients, Rate slowest, double total, long lost,
                  double agentCpuNsPerRecord, double consumerCpuNsPerRecord) {
    }

    /** CPU time (user + system) of a process so far, in ns, from /proc/PID/stat (clock ticks of 10 ms). */
    static long cpuNanos(long pid) {
        try {
            String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
            String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
            return (Long.parseLong(f[11]) + Long.parseLong(f[12])) * 10_000_000L; // utime, stime (fields 14, 15)
        } catch (java.io.IOException e) {
            return 0;
        }
    }

    private EventBench() {
    }

    static List<Result> run(AgentProcess agent, Path objects) throws Exception {
        Path file = objects.resolve("events.o");
        if (!Files.exists(file)) {
            System.err.println("bench: no " + file + " (build the integration tests with clang): no event rows");
            return List.of();
        }
        List<Result> out = new ArrayList<>();
        try (BpfClient c = BpfClient.connect(agent.unixTarget());
             CollectionHandle h = c.loadObject(LoadObjectRequest.newBuilder().setObject(ObjectSource.newBuilder()
                     .setElf(com.google.protobuf.ByteString.copyFrom(Files.readAllBytes(file))).setName("events.o"))
                     .addPrograms("bench16").addPrograms("bench256").build())) {
            int mapId = h.map("bench_ring").orElseThrow().id();
            String pin = h.map("bench_ring").orElseThrow().pin("bench-ring");
            try {
                clients(agent, h.id(), h.program("bench16").orElseThrow(), 16, 1); // warm-up: JIT, connections
                for (int size : new int[] {16, 256}) {
                    ProgramHandle p = h.program("bench" + size).orElseThrow();
                    for (int clients : new int[] {1, 4}) {
                        out.add(clients(agent, h.id(), p, size, clients));
                    }
                    out.add(inProcess(agent, mapId, p, size));
                    Result libbpf = libbpf(agent, pin, p, size);
                    if (libbpf != null) {
                        out.add(libbpf);
                    }
                }
            } finally {
                c.unpin(pin);
            }
        }
        return out;
    }

    /** Test runs of p until PRODUCE has passed, on their own thread; the repeat keeps a run near 10 ms. */
    static Thread produce(ProgramHandle p, int recordBytes) {
        int repeat = recordBytes <= 16 ? 50_000 : 20_000;
        TestRunOptions o = TestRunOptions.ofData(TestPackets.udp().build()).withRepeat(repeat);
        Thread t = new Thread(() -> {
            long end = System.nanoTime() + PRODUCE.toNanos();
            while (System.nanoTime() < end) {
                p.testRun(o);
            }
        }, "producer");
        t.start();
        return t;
    }

    static Result clients(AgentProcess agent, int collection, ProgramHandle p, int size, int n) throws Exception {
        List<BpfClient> conns = new ArrayList<>();
        List<EventStream> streams = new ArrayList<>();
        try {
            for (int i = 0; i < n; i++) {
                BpfClient c = BpfClient.connect(agent.unixTarget());
                conns.add(c);
                streams.add(c.subscribe(SubscribeOptions.collectionMap(collection, "bench_ring")
                        .queueRecords(1 << 20).queueBytes(64L << 20).batchRecords(8192)));
            }
            Rate[] rates = new Rate[n];
            List<Thread> readers = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                int k = i;
                Thread t = new Thread(() -> rates[k] = read(streams.get(k)), "consumer-" + i);
                t.start();
                readers.add(t);
            }
            long agentCpu = cpuNanos(agent.process.pid()), selfCpu = cpuNanos(ProcessHandle.current().pid());
            produce(p, size).join();
            for (Thread t : readers) {
                t.join();
            }
            agentCpu = cpuNanos(agent.process.pid()) - agentCpu;
            selfCpu = cpuNanos(ProcessHandle.current().pid()) - selfCpu;
            Rate slowest = rates[0];
            double total = 0;
            long lost = 0;
            for (Rate r : rates) {
                total += r.perSecond();
                lost += r.lost();
                if (r.perSecond() < slowest.perSecond()) {
                    slowest = r;
                }
            }
            long all = 0;
            for (Rate r : rates) {
                all += r.records();
            }
            return new Result(n == 1 ? "1 client (uds)" : n + " clients (uds)", size, n, slowest, total, lost,
                    (double) agentCpu / Math.max(1, all), (double) selfCpu / Math.max(1, all));
        } finally {
            streams.forEach(EventStream::close);
            conns.forEach(BpfClient::close);
        }
    }

    /** Reads until a second passes without an event after the first. */
    static Rate read(EventStream s) {
        long count = 0, lost = 0, first = 0, last = 0;
        try {
            while (true) {
                var e = s.poll(count == 0 ? Duration.ofSeconds(30) : Duration.ofSeconds(1));
                if (e.isEmpty()) {
                    break;
                }
                long now = System.nanoTime();
                if (e.get() instanceof Event.Data) {
                    if (count++ == 0) {
                        first = now;
                    }
                    last = now;
                } else if (e.get() instanceof Event.Loss l) {
                    lost += l.count();
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return new Rate(count, lost, (last - first) / 1e9);
    }

    static Result inProcess(AgentProcess agent, int mapId, ProgramHandle p, int size) throws Exception {
        long[] count = {0};
        EventReader.Sink sink = new EventReader.Sink() {
            @Override
            public void record(int cpu, byte[] data) {
                count[0]++;
            }

            @Override
            public void lost(int cpu, long n) {
            }
        };
        try (BpfMap map = BpfMap.fromId(mapId); EventReader reader = EventReader.open(map, 64)) {
            long selfCpu = cpuNanos(ProcessHandle.current().pid()), agentCpu = cpuNanos(agent.process.pid());
            Thread producer = produce(p, size);
            long first = 0, last = 0, quiet = System.nanoTime();
            while (true) {
                long before = System.nanoTime();
                int n = reader.poll(100, sink);
                long after = System.nanoTime();
                if (n > 0) {
                    if (first == 0) {
                        first = before;
                    }
                    last = after;
                    quiet = after;
                } else if (after - quiet > (count[0] > 0 ? 1_000_000_000L : 30_000_000_000L)) {
                    break;
                }
            }
            producer.join();
            selfCpu = cpuNanos(ProcessHandle.current().pid()) - selfCpu;
            agentCpu = cpuNanos(agent.process.pid()) - agentCpu;
            Rate r = new Rate(count[0], 0, (last - first) / 1e9);
            return new Result("kernel layer, in-process", size, 1, r, r.perSecond(), 0,
                    (double) agentCpu / Math.max(1, count[0]),
                    (double) selfCpu / Math.max(1, count[0]));
        }
    }

    /** libbpf's ring_buffer in a C process on the agent's pin of the map; null when it cannot be built. */
    static Result libbpf(AgentProcess agent, String pin, ProgramHandle p, int size) throws Exception {
        Path bin = LibbpfBaseline.compile("ringbuf_reader.c");
        if (bin == null) {
            return null;
        }
        try {
            Process reader = new ProcessBuilder(bin.toString(), pin).redirectErrorStream(true).start();
            BufferedReader out = new BufferedReader(new InputStreamReader(reader.getInputStream(), StandardCharsets.UTF_8));
            String ready = out.readLine();
            if (!"ready".equals(ready)) {
                System.err.println("libbpf ring_buffer row failed: " + ready);
                reader.destroyForcibly();
                return null;
            }
            long agentCpu = cpuNanos(agent.process.pid());
            produce(p, size).join();
            agentCpu = cpuNanos(agent.process.pid()) - agentCpu;
            String[] f = out.readLine().trim().split(" ");
            reader.waitFor();
            Rate r = new Rate(Long.parseLong(f[0]), 0, (Long.parseLong(f[2]) - Long.parseLong(f[1])) / 1e9);
            return new Result("libbpf ring_buffer (C)", size, 1, r, r.perSecond(), 0,
                    (double) agentCpu / Math.max(1, r.records()), Double.NaN);
        } finally {
            AgentProcess.deleteTree(bin.getParent());
        }
    }

    static String ns(double v) {
        return Double.isNaN(v) ? "" : String.format(Locale.ROOT, "%.0f", v);
    }

    static void print(List<Result> results) {
        if (results.isEmpty()) {
            return;
        }
        System.out.printf(Locale.ROOT, "%nevent streams: a ring buffer filled by test runs (repeat) for %d s per row;"
                + " records each consumer received per second (first to last record)%n%n", PRODUCE.toSeconds());
        System.out.println("| record | consumer | records/s (slowest consumer) | records/s (all consumers) | records"
                + " per consumer | lost in the agent | agent CPU ns/record (its test runs included) | consumer JVM CPU ns/record |");
        System.out.println("|---:|---|---:|---:|---:|---:|---:|---:|");
        for (Result r : results) {
            System.out.printf(Locale.ROOT, "| %d B | %s | %.0f | %.0f | %d | %d | %s | %s |%n", r.recordBytes(),
                    r.consumer(), r.slowest().perSecond(), r.total(), r.slowest().records(), r.lost(),
                    ns(r.agentCpuNsPerRecord()), ns(r.consumerCpuNsPerRecord()));
        }
    }
}
