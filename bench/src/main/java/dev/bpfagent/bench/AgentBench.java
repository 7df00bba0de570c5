package dev.bpfagent.bench;

import dev.bpfagent.agent.bpf.Program;
import dev.bpfagent.it.AgentProcess;
import dev.bpfagent.it.Asm;
import dev.bpfagent.agent.bpf.ProgramSpec;
import dev.bpfagent.agent.bpf.ProgramType;
import dev.bpfagent.agent.bpf.TestRun;
import dev.bpfagent.client.BpfClient;
import dev.bpfagent.client.LoadOptions;
import dev.bpfagent.client.ProgramHandle;
import dev.bpfagent.client.TestPackets;
import dev.bpfagent.client.TestRunOptions;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;

/**
 * What the agent costs: each operation timed in-process through the kernel layer, then through the
 * agent over its Unix socket and over TCP, beside an empty gRPC call (the health check) on the same
 * channel. One client thread, calls back to back; prints a Markdown table.
 *
 * <p>Run: {@code java --enable-native-access=ALL-UNNAMED -jar bench/target/bpf-agent-bench.jar
 * [--iterations N] [--agent-jar PATH]} as root. It starts its own agent on a private socket and
 * bpffs directory and removes them at the end.
 */
public final class AgentBench {
    private AgentBench() {
    }

    interface Op {
        void run() throws Exception;
    }

    record Row(String operation, String path, int n, double p50us, double p99us, double meanUs, double opsPerSec) {
    }

    static final int ROUNDS = 3;

    /** One row to measure; after runs once the row is timed (to close what a load-only row made). */
    record Task(String operation, String path, int n, Op op, Op after) {
        Task(String operation, String path, int n, Op op) {
            this(operation, path, n, op, () -> { });
        }
    }

    public static void main(String[] args) throws Exception {
        int iterations = 2000;
        boolean eventsOnly = false;
        boolean applicationsOnly = false;
        boolean sharedHooksOnly = false;
        Path agentJar = Path.of("agent/target/bpf-agent.jar");
        Path objects = Path.of("integration-tests/target/bpf");
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--iterations" -> iterations = Integer.parseInt(args[++i]);
                case "--agent-jar" -> agentJar = Path.of(args[++i]);
                case "--objects" -> objects = Path.of(args[++i]);
                case "--events-only" -> eventsOnly = true;
                case "--applications-only" -> applicationsOnly = true;
                case "--shared-hooks-only" -> sharedHooksOnly = true;
                default -> {
                    System.err.println("usage: AgentBench [--iterations N] [--agent-jar PATH] [--objects DIR] [--events-only]"
                            + " [--applications-only] [--shared-hooks-only]");
                    System.exit(2);
                }
            }
        }
        if (!Files.exists(agentJar)) {
            System.err.println(agentJar + " not found: build first (mvn -DskipTests package) or pass --agent-jar");
            System.exit(2);
        }
        System.setProperty("bpfagent.jar", agentJar.toString());
        System.setProperty("bpfagent.java", Path.of(System.getProperty("java.home"), "bin", "java").toString());
        try (AgentProcess agent = AgentProcess.start()) {
            if (sharedHooksOnly) {
                List<Row> rows = new ArrayList<>();
                List<String> lines = new ArrayList<>();
                String iface = ApplicationBench.IF;
                ApplicationBench.sh("ip", "link", "add", iface, "type", "veth", "peer", "name", iface + "p");
                try (dev.bpfagent.client.BpfClient c = dev.bpfagent.client.BpfClient.connect(agent.unixTarget())) {
                    ApplicationBench.sh("ip", "link", "set", iface, "up");
                    SharedHookBench.run(c, objects, iface, Math.max(20, iterations / 20), rows, lines);
                } finally {
                    ApplicationBench.sh("ip", "link", "del", iface);
                }
                print(rows, iterations);
                lines.forEach(System.out::println);
                return;
            }
            if (applicationsOnly) {
                List<Row> rows = new ArrayList<>();
                List<String> lines = ApplicationBench.run(agent, objects, Math.max(20, iterations / 20), rows);
                print(rows, iterations);
                lines.forEach(System.out::println);
                return;
            }
            if (eventsOnly) {
                long before = rssKiB(agent.process);
                List<EventBench.Result> events = EventBench.run(agent, objects);
                EventBench.print(events);
                System.out.printf(Locale.ROOT, "%nagent RSS: %d MiB before the event rows, %d MiB after%n",
                        before / 1024, rssKiB(agent.process) / 1024);
                return;
            }
            Path bpffs = agent.bpffsDir;
            long rssIdle = rssKiB(agent.process);
            byte[] insns = Asm.xdpDropUdp();
            byte[] packet = TestPackets.udp().build();
            int loads = Math.max(100, iterations / 4);
            ProgramSpec spec = ProgramSpec.of(ProgramType.XDP, insns, "bench");
            LoadOptions opts = LoadOptions.builder(dev.bpfagent.proto.v1.ProgramType.PROGRAM_TYPE_XDP, insns)
                    .name("bench").build();
            Files.createDirectories(bpffs);
            String pin = bpffs.resolve("inproc").toString();
            TestRun.Input runIn = TestRun.Input.ofData(packet);
            TestRunOptions runOpts = TestRunOptions.ofData(packet);
            List<Row> rows = new ArrayList<>();
            try (Program p = Program.load(spec).program();
                 BpfClient uds = BpfClient.connect(agent.unixTarget());
                 BpfClient tcp = BpfClient.connect(agent.tcpTarget);
                 ProgramHandle pu = uds.load(opts);
                 ProgramHandle pt = tcp.load(opts)) {
                List<Task> tasks = new ArrayList<>();
                // in-process, through the kernel layer: the floor
                tasks.add(new Task("load+close", "in-process", loads, () -> Program.load(spec).program().close()));
                tasks.add(new Task("test-run", "in-process", iterations, () -> p.testRun(runIn)));
                tasks.add(new Task("pin+unpin", "in-process", iterations, () -> {
                    p.pin(pin);
                    Files.delete(Path.of(pin));
                }));
                tasks.add(new Task("get-program", "in-process", iterations, p::info));
                List<Program> loadedHere = new ArrayList<>();
                tasks.add(new Task("load", "in-process", loads, () -> loadedHere.add(Program.load(spec).program()),
                        () -> {
                            loadedHere.forEach(Program::close);
                            loadedHere.clear();
                        }));
                tasks.add(new Task("agent-info", "in-process", iterations,
                        dev.bpfagent.agent.bpf.KernelVersion::release));
                for (var t : List.of(java.util.Map.entry("uds", java.util.Map.entry(uds, pu)),
                        java.util.Map.entry("tcp", java.util.Map.entry(tcp, pt)))) {
                    BpfClient c = t.getValue().getKey();
                    ProgramHandle ph = t.getValue().getValue();
                    tasks.add(new Task("empty call (health)", t.getKey(), iterations, c::health));
                    tasks.add(new Task("load+close", t.getKey(), loads, () -> c.load(opts).close()));
                    tasks.add(new Task("test-run", t.getKey(), iterations, () -> ph.testRun(runOpts)));
                    tasks.add(new Task("pin+unpin", t.getKey(), iterations, () -> c.unpin(ph.pin("bench"))));
                    tasks.add(new Task("get-program", t.getKey(), iterations, () -> c.program(ph.id())));
                    List<ProgramHandle> loadedThere = new ArrayList<>();
                    tasks.add(new Task("load", t.getKey(), loads, () -> loadedThere.add(c.load(opts)), () -> {
                        loadedThere.forEach(ProgramHandle::close);
                        loadedThere.clear();
                    }));
                    tasks.add(new Task("agent-info", t.getKey(), iterations, c::agentInfo));
                }
                // Warm every path first (JIT in both JVMs, connections), then measure.
                for (Task t : tasks) {
                    for (int i = 0; i < t.n(); i++) {
                        t.op().run();
                    }
                    t.after().run();
                }
                // Three rounds, round-robin, so a burst of noise (GC or JIT in either JVM, the other
                // core busy) hits one round of a row, not all; each row keeps its best round by p50.
                java.util.Map<Task, Row> best = new java.util.LinkedHashMap<>();
                for (int round = 0; round < ROUNDS; round++) {
                    for (Task t : tasks) {
                        Row r = measure(t.operation(), t.path(), t.n(), t.op());
                        t.after().run();
                        best.merge(t, r, (x, y) -> x.p50us() <= y.p50us() ? x : y);
                    }
                }
                rows.addAll(best.values());
                // Several callers at once on one channel: what the agent serves in total.
                for (int round = 0; round < ROUNDS; round++) {
                    Row health = measureConcurrent("empty call (health)", "uds, " + THREADS + " threads", iterations,
                            uds::health);
                    Row run = measureConcurrent("test-run", "uds, " + THREADS + " threads", iterations,
                            () -> pu.testRun(runOpts));
                    best.merge(new Task(health.operation(), health.path(), 0, null, null), health,
                            (x, y) -> x.p50us() <= y.p50us() ? x : y);
                    best.merge(new Task(run.operation(), run.path(), 0, null, null), run,
                            (x, y) -> x.p50us() <= y.p50us() ? x : y);
                }
                rows.clear();
                rows.addAll(best.values());
            }
            long rssAfter = rssKiB(agent.process);
            Thread.sleep(10_000);
            long rssRested = rssKiB(agent.process);
            long rssHolding = holding(agent, 10_000);
            mapRows(agent, iterations, rows);
            long rssMaps = rssKiB(agent.process);
            Thread.sleep(10_000);
            long rssMapsRested = rssKiB(agent.process);
            Path cgroup = Files.createDirectory(dev.bpfagent.agent.bpf.Host.cgroup2().orElseThrow(
                    () -> new IllegalStateException("no cgroup v2 hierarchy for the attach rows"))
                    .resolve("bpf-agent-bench-" + ProcessHandle.current().pid()));
            try {
                objectRows(agent, iterations, objects, rows);
                attachRows(agent, iterations, cgroup, rows);
                rows.addAll(LibbpfBaseline.run(iterations, bpffs, Long.parseLong(Files.readString(
                        Path.of("/sys/kernel/tracing/events", ATTACH_TP[0], ATTACH_TP[1], "id")).strip()), cgroup));
            } finally {
                Files.delete(cgroup);
            }
            long rssBeforeEvents = rssKiB(agent.process);
            List<EventBench.Result> events = EventBench.run(agent, objects);
            long rssEvents = rssKiB(agent.process);
            // last: it restarts the agent on its directories
            List<String> appLines = ApplicationBench.run(agent, objects, Math.max(20, iterations / 20), rows);
            print(rows, iterations);
            EventBench.print(events);
            System.out.println();
            appLines.forEach(System.out::println);
            System.out.printf(Locale.ROOT, "%nagent RSS: %d MiB at start, %d MiB after the loads and test runs, %d MiB"
                    + " after 10 s idle, %d MiB holding 10,000 programs; %d MiB after the map rows (200,000-entry"
                    + " dumps), %d MiB 10 s later; %d MiB before the event rows, %d MiB after%n", rssIdle / 1024,
                    rssAfter / 1024, rssRested / 1024, rssHolding / 1024, rssMaps / 1024, rssMapsRested / 1024,
                    rssBeforeEvents / 1024, rssEvents / 1024);
        }
    }

    static final int THREADS = 4;

    /** A tracepoint that rarely fires, for the attach rows. */
    static final String[] ATTACH_TP = {"syscalls", "sys_enter_getppid"};

    /**
     * Attach + detach per hook kind (XDP on lo with a program that passes everything, a tracepoint, a
     * cgroup's connect4 hook on a cgroup made for the bench): through the agent and in-process.
     */
    static void attachRows(AgentProcess agent, int iterations, Path cgroup, List<Row> rows) throws Exception {
        int n = Math.max(100, iterations / 4);
        try (BpfClient c = BpfClient.connect(agent.unixTarget());
             Program xdp = Program.load(ProgramSpec.of(ProgramType.XDP, Asm.returnImm(2), "bench")).program();
             Program tp = Program.load(ProgramSpec.of(ProgramType.TRACEPOINT, Asm.returnImm(0), "bench")).program();
             Program cg = Program.load(ProgramSpec.builder(ProgramType.CGROUP_SOCK_ADDR, Asm.returnImm(1))
                     .name("bench").expectedAttachType(dev.bpfagent.agent.bpf.AttachType.CGROUP_INET4_CONNECT).build())
                     .program();
             ProgramHandle xdpH = c.load(LoadOptions.builder(dev.bpfagent.proto.v1.ProgramType.PROGRAM_TYPE_XDP,
                     Asm.returnImm(2)).build());
             ProgramHandle tpH = c.load(LoadOptions.builder(dev.bpfagent.proto.v1.ProgramType.PROGRAM_TYPE_TRACEPOINT,
                     Asm.returnImm(0)).build());
             ProgramHandle cgH = c.load(LoadOptions.builder(
                     dev.bpfagent.proto.v1.ProgramType.PROGRAM_TYPE_CGROUP_SOCK_ADDR, Asm.returnImm(1))
                     .expectedAttachType(dev.bpfagent.proto.v1.AttachType.ATTACH_TYPE_CGROUP_INET4_CONNECT).build())) {
            var lo = new dev.bpfagent.agent.bpf.Hook.Xdp(new dev.bpfagent.agent.bpf.Hook.Interface("lo", 0), null);
            var tracepoint = new dev.bpfagent.agent.bpf.Hook.Tracepoint(ATTACH_TP[0], ATTACH_TP[1], 0);
            var connect4 = new dev.bpfagent.agent.bpf.Hook.Cgroup(cgroup.toString(),
                    dev.bpfagent.agent.bpf.AttachType.CGROUP_INET4_CONNECT);
            List<Task> tasks = List.of(
                    new Task("attach+detach xdp (lo)", "in-process", n,
                            () -> dev.bpfagent.agent.bpf.Link.attach(xdp, lo).close()),
                    new Task("attach+detach xdp (lo)", "uds", n,
                            () -> xdpH.attach(dev.bpfagent.client.Hooks.xdp("lo")).close()),
                    new Task("attach+detach tracepoint", "in-process", n,
                            () -> dev.bpfagent.agent.bpf.Link.attach(tp, tracepoint).close()),
                    new Task("attach+detach tracepoint", "uds", n,
                            () -> tpH.attach(dev.bpfagent.client.Hooks.tracepoint(ATTACH_TP[0], ATTACH_TP[1])).close()),
                    new Task("attach+detach cgroup", "in-process", n,
                            () -> dev.bpfagent.agent.bpf.Link.attach(cg, connect4).close()),
                    new Task("attach+detach cgroup", "uds", n, () -> cgH.attach(dev.bpfagent.client.Hooks.cgroup(
                            cgroup.toString(), dev.bpfagent.proto.v1.AttachType.ATTACH_TYPE_CGROUP_INET4_CONNECT))
                            .close()));
            rows.addAll(bestOf(tasks));
        }
    }

    /**
     * ELF objects (clang-built test objects): parse alone in-process, load and close in-process and
     * through the agent (bytes sent each time), and bpftool's `prog loadall` of the same file (a
     * process per load, as users run it; pins removed after).
     */
    static void objectRows(AgentProcess agent, int iterations, Path dir, List<Row> rows) throws Exception {
        int n = Math.max(20, iterations / 40);
        List<Task> tasks = new ArrayList<>();
        try (BpfClient c = BpfClient.connect(agent.unixTarget())) {
            for (String name : new String[] {"globals", "tailcalls", "core"}) {
                Path file = dir.resolve(name + ".o");
                if (!Files.exists(file)) {
                    System.err.println("bench: no " + file + " (build the integration tests with clang): no object rows");
                    return;
                }
                byte[] elf = Files.readAllBytes(file);
                String what = "object " + name + ".o";
                tasks.add(new Task(what + " parse", "in-process", n,
                        () -> dev.bpfagent.agent.bpf.object.ObjectSpec.parse(elf, name + ".o")));
                tasks.add(new Task(what + " load+close", "in-process", n, () -> dev.bpfagent.agent.bpf.object
                        .ObjectLoader.load(dev.bpfagent.agent.bpf.object.ObjectSpec.parse(elf, name + ".o"),
                                dev.bpfagent.agent.bpf.object.ObjectLoader.Options.ALL).close()));
                tasks.add(new Task(what + " load+close", "uds", n, () -> c.loadObject(elf, name + ".o").close()));
                Path pins = Path.of("/sys/fs/bpf/bpf-agent-bench-" + ProcessHandle.current().pid());
                tasks.add(new Task(what + " load+close", "bpftool loadall", n, () -> {
                    try {
                        Process p = new ProcessBuilder("bpftool", "prog", "loadall", file.toString(), pins.toString())
                                .redirectErrorStream(true).start();
                        p.getInputStream().readAllBytes();
                        if (p.waitFor() != 0) {
                            throw new IllegalStateException("bpftool prog loadall " + file + " failed");
                        }
                        try (var ls = Files.list(pins)) {
                            for (Path x : ls.toList()) {
                                Files.delete(x);
                            }
                        }
                        Files.delete(pins);
                    } catch (java.io.IOException | InterruptedException e) {
                        throw new IllegalStateException(e);
                    }
                }));
            }
            rows.addAll(bestOf(tasks));
        }
    }

    static final int DUMP_KEYS = 200_000;

    /**
     * Map element calls, one key per call (p50 per call), and a dump of DUMP_KEYS entries in pages of
     * 1,000 and 10,000 (keys per second, best of three): through the agent and in-process.
     */
    static void mapRows(AgentProcess agent, int iterations, List<Row> rows) throws Exception {
        try (BpfClient c = BpfClient.connect(agent.unixTarget());
             dev.bpfagent.client.MapHandle small = c.createMap(dev.bpfagent.proto.v1.MapType.MAP_TYPE_HASH, 4, 8, 1024, "bench");
             dev.bpfagent.client.MapHandle big = c.createMap(dev.bpfagent.proto.v1.MapType.MAP_TYPE_HASH, 4, 8, DUMP_KEYS,
                     "benchdump");
             dev.bpfagent.agent.bpf.BpfMap local = dev.bpfagent.agent.bpf.BpfMap.create(
                     dev.bpfagent.agent.bpf.MapSpec.of(dev.bpfagent.agent.bpf.MapType.HASH, 4, 8, DUMP_KEYS))) {
            byte[] k = dev.bpfagent.client.MapCodec.u32(7);
            byte[] v = dev.bpfagent.client.MapCodec.u64(7);
            small.put(k, v);
            local.update(k, v, 0);
            List<Task> tasks = List.of(
                    new Task("map lookup", "in-process", iterations, () -> local.lookup(k)),
                    new Task("map lookup", "uds", iterations, () -> small.lookup(k)),
                    new Task("map update", "in-process", iterations, () -> local.update(k, v, 0)),
                    new Task("map update", "uds", iterations, () -> small.put(k, v)));
            rows.addAll(bestOf(tasks));
            // fill both dump maps with DUMP_KEYS entries: the agent's through its batch-free path (one
            // update per key would take a while), so fill it in-process through a second fd by id
            try (dev.bpfagent.agent.bpf.BpfMap bigLocal = dev.bpfagent.agent.bpf.BpfMap.fromId(big.id())) {
                for (int i = 0; i < DUMP_KEYS; i++) {
                    byte[] key = dev.bpfagent.client.MapCodec.u32(i);
                    bigLocal.update(key, v, 0);
                    local.update(key, v, 0);
                }
            }
            // batched writes: 1,000 entries a call, DUMP_KEYS entries in all
            List<byte[]> ks = new ArrayList<>();
            List<byte[]> vs = new ArrayList<>();
            for (int i = 0; i < 1000; i++) {
                ks.add(dev.bpfagent.client.MapCodec.u32(i));
                vs.add(v);
            }
            rows.add(bestDump("map update, 1000/call", "uds", 1000, () -> {
                for (int done = 0; done < DUMP_KEYS; done += 1000) {
                    big.putAll(ks, vs);
                }
                return DUMP_KEYS;
            }));
            rows.add(bestDump("map update, 1000/call", "in-process", 1000, () -> {
                for (int done = 0; done < DUMP_KEYS; done += 1000) {
                    local.updateAll(ks, vs, 0);
                }
                return DUMP_KEYS;
            }));
            for (int page : new int[] {1000, 10_000}) {
                rows.add(bestDump("map dump, " + page + "/page", "uds", page, () -> big.dump(page).size()));
                rows.add(bestDump("map dump packed, " + page + "/page", "uds", page,
                        () -> (int) big.dumpPacked(page, (keys, values, count) -> { })));
                rows.add(bestDump("map dump, " + page + "/page", "in-process", page, () -> {
                    int n = 0;
                    byte[] pos = null;
                    while (true) {
                        var b = local.page(pos, page);
                        n += b.keys().size();
                        if (b.done()) {
                            return n;
                        }
                        pos = b.position();
                    }
                }));
            }
        }
    }

    /** Warms every task, then times them round-robin ROUNDS times; each row is its task's best round by p50. */
    static java.util.Collection<Row> bestOf(List<Task> tasks) throws Exception {
        for (Task t : tasks) {
            for (int i = 0; i < t.n(); i++) {
                t.op().run();
            }
        }
        java.util.Map<Task, Row> best = new java.util.LinkedHashMap<>();
        for (int round = 0; round < ROUNDS; round++) {
            for (Task t : tasks) {
                best.merge(t, measure(t.operation(), t.path(), t.n(), t.op()), (x, y) -> x.p50us() <= y.p50us() ? x : y);
            }
        }
        return best.values();
    }

    interface Count {
        int run() throws Exception;
    }

    /** A dump timed whole, best of ROUNDS; the row's ops/s is keys per second. */
    static Row bestDump(String name, String path, int page, Count dump) throws Exception {
        dump.run(); // warm
        double bestSeconds = Double.MAX_VALUE;
        int keys = 0;
        for (int round = 0; round < ROUNDS; round++) {
            long s = System.nanoTime();
            keys = dump.run();
            bestSeconds = Math.min(bestSeconds, (System.nanoTime() - s) / 1e9);
        }
        if (keys != DUMP_KEYS) {
            throw new IllegalStateException(name + " " + path + ": dumped " + keys + " keys of " + DUMP_KEYS);
        }
        double perPage = bestSeconds * 1e6 / Math.ceil((double) keys / page);
        return new Row(name, path, keys, perPage, perPage, perPage, keys / bestSeconds);
    }

    /** VmRSS of a process, KiB. */
    static long rssKiB(Process p) throws java.io.IOException {
        for (String l : Files.readAllLines(Path.of("/proc/" + p.pid() + "/status"))) {
            if (l.startsWith("VmRSS:")) {
                return Long.parseLong(l.replaceAll("[^0-9]", ""));
            }
        }
        return -1;
    }

    /** The agent's RSS while it holds n programs (loaded, measured, closed). */
    static long holding(AgentProcess agent, int n) throws Exception {
        try (BpfClient c = BpfClient.connect(agent.unixTarget())) {
            LoadOptions o = LoadOptions.builder(dev.bpfagent.proto.v1.ProgramType.PROGRAM_TYPE_SOCKET_FILTER,
                    Asm.returnImm(0)).name("held").build();
            List<Integer> ids = new ArrayList<>(n);
            List<java.util.concurrent.CompletableFuture<ProgramHandle>> batch = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                batch.add(c.async().load(o));
                if (batch.size() == 32 || i == n - 1) {
                    for (var f : batch) {
                        ids.add(f.get().id());
                    }
                    batch.clear();
                }
            }
            long rss = rssKiB(agent.process);
            List<java.util.concurrent.CompletableFuture<?>> closes = new ArrayList<>();
            for (int id : ids) {
                closes.add(c.async().closeProgram(id, false));
                if (closes.size() == 32) {
                    closes.forEach(java.util.concurrent.CompletableFuture::join);
                    closes.clear();
                }
            }
            closes.forEach(java.util.concurrent.CompletableFuture::join);
            return rss;
        }
    }

    /** n calls split over THREADS threads; latency per call, throughput over the wall time of all. */
    static Row measureConcurrent(String name, String path, int n, Op op) throws Exception {
        long[] t = new long[n];
        int per = n / THREADS;
        java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(THREADS);
        try {
            java.util.concurrent.CountDownLatch go = new java.util.concurrent.CountDownLatch(1);
            List<java.util.concurrent.Future<?>> fs = new ArrayList<>();
            for (int k = 0; k < THREADS; k++) {
                int base = k * per;
                fs.add(pool.submit(() -> {
                    go.await();
                    for (int i = 0; i < per; i++) {
                        long s = System.nanoTime();
                        op.run();
                        t[base + i] = System.nanoTime() - s;
                    }
                    return null;
                }));
            }
            long start = System.nanoTime();
            go.countDown();
            for (var f : fs) {
                f.get();
            }
            long total = System.nanoTime() - start;
            long[] done = Arrays.copyOf(t, per * THREADS);
            Arrays.sort(done);
            int m = done.length;
            return new Row(name, path, m, done[m / 2] / 1e3, done[Math.min(m - 1, (int) (m * 0.99))] / 1e3,
                    Arrays.stream(done).average().orElse(0) / 1e3, m / (total / 1e9));
        } finally {
            pool.shutdownNow();
        }
    }

    /**
     * What a call costs beyond an empty call and the kernel's own work: p50 / (p50 of the empty call on
     * the same path, times the RPCs the operation makes, + p50 of the same operation in-process).
     */
    static String ratio(Row r, List<Row> rows) {
        if (!r.path().equals("uds") && !r.path().equals("tcp") || r.operation().startsWith("empty")
                || r.operation().startsWith("map dump") || r.operation().contains("/call")
                || r.operation().startsWith("application") || r.operation().startsWith("shared")) {
            return "";
        }
        double empty = rows.stream().filter(x -> x.operation().startsWith("empty") && x.path().equals(r.path()))
                .mapToDouble(Row::p50us).findFirst().orElse(Double.NaN);
        double kernel = rows.stream().filter(x -> x.operation().equals(r.operation()) && x.path().equals("in-process"))
                .mapToDouble(Row::p50us).findFirst().orElse(Double.NaN);
        int rpcs = r.operation().contains("+") ? 2 : 1;
        return String.format(Locale.ROOT, "%.2f", r.p50us() / (rpcs * empty + kernel));
    }

    static Row measure(String name, String path, int n, Op op) throws Exception {
        long[] t = new long[n];
        long start = System.nanoTime();
        for (int i = 0; i < n; i++) {
            long s = System.nanoTime();
            op.run();
            t[i] = System.nanoTime() - s;
        }
        long total = System.nanoTime() - start;
        Arrays.sort(t);
        double mean = Arrays.stream(t).average().orElse(0);
        return new Row(name, path, n, t[(int) (n * 0.50)] / 1e3, t[Math.min(n - 1, (int) (n * 0.99))] / 1e3,
                mean / 1e3, n / (total / 1e9));
    }

    static void print(List<Row> rows, int iterations) {
        System.out.println();
        System.out.printf(Locale.ROOT, "bpf-agent bench: %d calls per row (load+close: %d), one client thread, "
                + "best of %d rounds by p50, kernel %s, %d cores%n%n", iterations, Math.max(100, iterations / 4), ROUNDS,
                System.getProperty("os.version"), Runtime.getRuntime().availableProcessors());
        System.out.println("| operation | path | n | p50 µs | p99 µs | mean µs | ops/s | × (empty + kernel) |");
        System.out.println("|---|---|---:|---:|---:|---:|---:|---:|");
        rows.stream().sorted(Comparator.comparing(Row::operation)).forEach(r -> System.out.printf(Locale.ROOT,
                "| %s | %s | %d | %.1f | %.1f | %.1f | %.0f | %s |%n", r.operation(), r.path(), r.n(), r.p50us(), r.p99us(),
                r.meanUs(), r.opsPerSec(), ratio(r, rows)));
    }
}
