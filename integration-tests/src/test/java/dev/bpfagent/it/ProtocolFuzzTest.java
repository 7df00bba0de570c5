package dev.bpfagent.it;

import static org.junit.jupiter.api.Assertions.*;

import com.google.protobuf.ByteString;
import com.google.protobuf.Message;
import dev.bpfagent.client.AgentChannels;
import dev.bpfagent.client.BpfClient;
import dev.bpfagent.proto.v1.*;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Raw bytes against every method of a running agent: valid requests mutated, truncated, spliced, and
 * plain garbage, from a fixed seed, on several threads, bounded in count and time. No answer may be
 * UNKNOWN or INTERNAL, and afterwards the agent must still serve with the same fds, threads, kernel
 * programs and pins as before.
 */
class ProtocolFuzzTest {
    static final long SEED = 0x5eed_b0f5L;
    static final int INPUTS = 12_000;
    static final int THREADS = 4;
    static final long BUDGET_NANOS = TimeUnit.SECONDS.toNanos(60);

    static Map<String, List<byte[]>> seeds() {
        ObjectRef missing = ObjectRef.newBuilder().setId(999_999).build();
        Map<String, Message[]> typed = Map.ofEntries(
                Map.entry("LoadProgram", new Message[] {LoadProgramRequest.newBuilder().setType(ProgramType.PROGRAM_TYPE_XDP)
                        .setInstructions(ByteString.copyFrom(Asm.invalid())).setName("fuzz").putLabels("k", "v")
                        .setLog(VerifierLogOptions.newBuilder().setLevel(1)).build()}),
                Map.entry("GetProgram", new Message[] {GetProgramRequest.newBuilder().setProgram(missing).setWithLinks(true).build()}),
                Map.entry("ListPrograms", new Message[] {ListProgramsRequest.newBuilder().setPageSize(3).putLabels("a", "b").build()}),
                Map.entry("CloseProgram", new Message[] {CloseProgramRequest.newBuilder().setProgram(missing).setCascade(true).build()}),
                Map.entry("TestRunProgram", new Message[] {TestRunProgramRequest.newBuilder().setProgram(missing)
                        .setDataIn(ByteString.copyFrom(new byte[64])).setRepeat(3).build()}),
                Map.entry("Pin", new Message[] {PinRequest.newBuilder().setObject(missing).setPath("fuzz/p").build()}),
                Map.entry("Unpin", new Message[] {UnpinRequest.newBuilder().setPath("fuzz/none").build()}),
                Map.entry("GetPinned", new Message[] {GetPinnedRequest.newBuilder().setPath("fuzz/none").build()}),
                Map.entry("SetRunStats", new Message[] {SetRunStatsRequest.newBuilder().setEnabled(false).build()}),
                Map.entry("GetAgentInfo", new Message[] {GetAgentInfoRequest.getDefaultInstance()}),
                Map.entry("GetKernelFeatures", new Message[] {GetKernelFeaturesRequest.newBuilder().setRefresh(true)
                        .build()}),
                Map.entry("GetVerifierLog", new Message[] {GetVerifierLogRequest.newBuilder()
                        .setLogId("00000000-0000-0000-0000-000000000000").setOffset(5).setMaxBytes(100).build()}),
                // Map calls name a map that does not exist (999999), so mutations rarely touch a real one;
                // CreateMap seeds are invalid (a ring buffer of 5000 bytes) and anything made is closed after.
                Map.entry("CreateMap", new Message[] {CreateMapRequest.newBuilder().setType(MapType.MAP_TYPE_RINGBUF)
                        .setMaxEntries(5000).setName("fuzz").build()}),
                Map.entry("GetMap", new Message[] {GetMapRequest.newBuilder().setMap(missingMap()).build()}),
                Map.entry("ListMaps", new Message[] {ListMapsRequest.newBuilder().setPageSize(3).build()}),
                Map.entry("CloseMap", new Message[] {CloseMapRequest.newBuilder().setMap(missingMap()).build()}),
                Map.entry("LookupMapElem", new Message[] {LookupMapElemRequest.newBuilder().setMap(missingMap())
                        .setKey(ByteString.copyFrom(new byte[4])).build()}),
                Map.entry("UpdateMapElem", new Message[] {UpdateMapElemRequest.newBuilder().setMap(missingMap())
                        .setKey(ByteString.copyFrom(new byte[4])).setValue(ByteString.copyFrom(new byte[8])).build()}),
                Map.entry("DeleteMapElem", new Message[] {DeleteMapElemRequest.newBuilder().setMap(missingMap())
                        .setKey(ByteString.copyFrom(new byte[4])).build()}),
                Map.entry("LookupAndDeleteMapElem", new Message[] {LookupAndDeleteMapElemRequest.newBuilder()
                        .setMap(missingMap()).build()}),
                Map.entry("GetNextMapKey", new Message[] {GetNextMapKeyRequest.newBuilder().setMap(missingMap()).build()}),
                Map.entry("DumpMap", new Message[] {DumpMapRequest.newBuilder().setMap(missingMap()).setPageSize(10).build()}),
                Map.entry("FreezeMap", new Message[] {FreezeMapRequest.newBuilder().setMap(missingMap()).build()}),
                Map.entry("ReadRingBuffer", new Message[] {ReadRingBufferRequest.newBuilder().setMap(missingMap())
                        .setMaxRecords(5).build()}),
                Map.entry("SubscribeEvents", new Message[] {SubscribeEventsRequest.newBuilder().setMap(missingMap())
                        .setQueueRecords(10).setBatchRecords(2).setBatchDelayMs(1).setPacked(true).build(),
                        SubscribeEventsRequest.newBuilder().setCollectionMap(CollectionMapRef.newBuilder()
                                .setCollection(ObjectRef.newBuilder().setId(77)).setName("events"))
                                .setPerfBufferPages(3).build()}),
                Map.entry("UpdateMapBatch", new Message[] {UpdateMapBatchRequest.newBuilder().setMap(missingMap())
                        .addEntries(MapEntry.newBuilder().setKey(ByteString.copyFrom(new byte[4]))
                                .setValue(ByteString.copyFrom(new byte[8]))).build()}),
                Map.entry("DeleteMapBatch", new Message[] {DeleteMapBatchRequest.newBuilder().setMap(missingMap())
                        .addKeys(ByteString.copyFrom(new byte[4])).build()}),
                // Chains: an entry naming a program that does not exist, so nothing is made.
                Map.entry("CreateChain", new Message[] {CreateChainRequest.newBuilder().setName("fuzz").setMaxEntries(4)
                        .addEntries(ChainEntry.newBuilder().setIndex(1).setProgram(missing)).build()}),
                Map.entry("GetChain", new Message[] {GetChainRequest.newBuilder().setChain(missingChain()).build()}),
                Map.entry("ListChains", new Message[] {ListChainsRequest.newBuilder().setPageSize(2).build()}),
                Map.entry("SetChainEntry", new Message[] {SetChainEntryRequest.newBuilder().setChain(missingChain())
                        .setIndex(1).setProgram(missing).build()}),
                Map.entry("ClearChainEntry", new Message[] {ClearChainEntryRequest.newBuilder().setChain(missingChain())
                        .setIndex(1).build()}),
                Map.entry("CloseChain", new Message[] {CloseChainRequest.newBuilder().setChain(missingChain()).build()}),
                // Links: the program (999999) does not exist, so nothing is attached.
                Map.entry("AttachProgram", new Message[] {AttachProgramRequest.newBuilder().setProgram(missing)
                        .setHook(Hook.newBuilder().setTracepoint(TracepointHook.newBuilder().setCategory("syscalls")
                                .setName("sys_enter_getpid"))).build(),
                        AttachProgramRequest.newBuilder().setProgram(missing).setHook(Hook.newBuilder().setUprobe(
                                UprobeHook.newBuilder().setBinary("/bin/true").setSymbol("main@@V").setPid(1))).build()}),
                Map.entry("GetLink", new Message[] {GetLinkRequest.newBuilder().setLink(missingLink()).build()}),
                Map.entry("ListLinks", new Message[] {ListLinksRequest.newBuilder().setProgramId(5).setPageSize(2).build()}),
                Map.entry("DetachLink", new Message[] {DetachLinkRequest.newBuilder().setLink(missingLink()).build()}),
                Map.entry("UpdateLink", new Message[] {UpdateLinkRequest.newBuilder().setLink(missingLink())
                        .setProgram(missing).setExpectedProgramId(3).build()}),
                Map.entry("ReadIterator", new Message[] {ReadIteratorRequest.newBuilder().setLink(missingLink())
                        .setMaxBytes(16).build()}),
                Map.entry("InspectObject", new Message[] {InspectObjectRequest.newBuilder().setObject(
                        ObjectSource.newBuilder().setElf(com.google.protobuf.ByteString.copyFrom(elfHeader()))).build()}),
                Map.entry("LoadObject", new Message[] {LoadObjectRequest.newBuilder().setObject(ObjectSource.newBuilder()
                        .setElf(com.google.protobuf.ByteString.copyFrom(elfHeader())).setName("f.o")).addPrograms("p")
                        .putRodata("v", com.google.protobuf.ByteString.copyFrom(new byte[4])).setLogLevel(1).build()}),
                Map.entry("AttachCollection", new Message[] {AttachCollectionRequest.newBuilder().setCollection(
                        ObjectRef.newBuilder().setId(78)).build()}),
                Map.entry("GetCollection", new Message[] {GetCollectionRequest.newBuilder().setCollection(
                        ObjectRef.newBuilder().setId(77)).build()}),
                Map.entry("ListCollections", new Message[] {ListCollectionsRequest.newBuilder().setPageSize(3).build()}),
                Map.entry("CloseCollection", new Message[] {CloseCollectionRequest.newBuilder().setCollection(
                        ObjectRef.newBuilder().setId(77)).setKeepMembers(true).build()}),
                // Applications: a spec whose object is a broken ELF, so nothing is made
                Map.entry("ApplyApplication", new Message[] {ApplyApplicationRequest.newBuilder().setName("fuzz")
                        .setSpec(ApplicationSpec.newBuilder().addObjects(ApplicationObject.newBuilder().setName("o")
                                .setSource(ObjectSource.newBuilder().setElf(com.google.protobuf.ByteString.copyFrom(
                                        elfHeader()))).addPrograms(ApplicationProgram.newBuilder().setName("p")
                                        .addAttach(AttachRule.newBuilder().setHook(Hook.newBuilder().setXdp(
                                                XdpHook.getDefaultInstance())).addInterfaces("fuzz*"))))).build()}),
                Map.entry("GetApplication", new Message[] {GetApplicationRequest.newBuilder().setName("fuzz").build()}),
                Map.entry("ListApplications", new Message[] {ListApplicationsRequest.newBuilder().setPageSize(2).build()}),
                Map.entry("ListInterfaceHooks", new Message[] {ListInterfaceHooksRequest.newBuilder().addInterfaces("lo")
                        .addInterfaces("fuzz[*").build(), ListInterfaceHooksRequest.newBuilder().setNetns("fuzz").build()}),
                Map.entry("DeleteApplication", new Message[] {DeleteApplicationRequest.newBuilder().setName("fuzz")
                        .build()}),
                Map.entry("WatchApplications", new Message[] {WatchApplicationsRequest.newBuilder().setName("fuzz")
                        .build()}),
                Map.entry("UploadBlob", new Message[] {UploadBlobRequest.newBuilder().setData(
                        com.google.protobuf.ByteString.copyFrom(elfHeader())).build()}));
        return typed.entrySet().stream().collect(Collectors.toMap(Map.Entry::getKey,
                e -> Stream.of(e.getValue()).map(Message::toByteArray).toList()));
    }

    /** The start of an ELF64 BPF object's header: garbage after it exercises the parser. */
    static byte[] elfHeader() {
        byte[] h = new byte[64];
        h[0] = 0x7f;
        h[1] = 'E';
        h[2] = 'L';
        h[3] = 'F';
        h[4] = 2;
        h[5] = 1;
        h[16] = 1;
        h[18] = (byte) 247;
        return h;
    }

    /** Closes every chain, program and map the agent holds (chains first); returns how many. */
    static int closeAllHeld(BpfClient c) {
        int made = 0;
        for (var col : c.listCollections(ListCollectionsRequest.getDefaultInstance()).getCollectionsList()) {
            c.closeCollection(CloseCollectionRequest.newBuilder().setCollection(ObjectRef.newBuilder()
                    .setKind(ObjectKind.OBJECT_KIND_COLLECTION).setId(col.getId())).build());
            made++;
        }
        for (var ch : c.listChains(ListChainsRequest.getDefaultInstance()).getChainsList()) {
            c.closeChain(CloseChainRequest.newBuilder().setChain(ObjectRef.newBuilder()
                    .setKind(ObjectKind.OBJECT_KIND_CHAIN).setId(ch.getId())).build());
            made++;
        }
        for (Program p : c.listPrograms(false)) {
            c.closeProgram(CloseProgramRequest.newBuilder().setProgram(ObjectRef.newBuilder().setId(p.getId()))
                    .setCascade(true).build());
            made++;
        }
        for (var m : c.listMaps(ListMapsRequest.getDefaultInstance()).getMapsList()) {
            c.closeMap(CloseMapRequest.newBuilder().setMap(ObjectRef.newBuilder()
                    .setKind(ObjectKind.OBJECT_KIND_MAP).setId(m.getId())).setCascade(true).build());
            made++;
        }
        c.setRunStats(false);
        return made;
    }

    static ObjectRef missingLink() {
        return ObjectRef.newBuilder().setKind(ObjectKind.OBJECT_KIND_LINK).setId(999_999).build();
    }

    static ObjectRef missingChain() {
        return ObjectRef.newBuilder().setKind(ObjectKind.OBJECT_KIND_CHAIN).setId(999_999).build();
    }

    static ObjectRef missingMap() {
        return ObjectRef.newBuilder().setKind(ObjectKind.OBJECT_KIND_MAP).setId(999_999).build();
    }

    static byte[] mutate(Random r, byte[] seed, byte[] other) {
        byte[] b = seed.clone();
        switch (r.nextInt(7)) {
            case 0 -> { // flip bits
                for (int i = 0, n = 1 + r.nextInt(4); i < n && b.length > 0; i++) {
                    b[r.nextInt(b.length)] ^= (byte) (1 << r.nextInt(8));
                }
            }
            case 1 -> b = java.util.Arrays.copyOf(b, b.length == 0 ? 0 : r.nextInt(b.length)); // truncate
            case 2 -> { // splice with another request
                byte[] out = new byte[r.nextInt(b.length + 1) + r.nextInt(other.length + 1)];
                int cut = Math.min(b.length, out.length);
                System.arraycopy(b, 0, out, 0, cut);
                System.arraycopy(other, 0, out, cut, Math.min(other.length, out.length - cut));
                b = out;
            }
            case 3 -> { // random bytes
                b = new byte[r.nextInt(200)];
                r.nextBytes(b);
            }
            case 4 -> { // overwrite a byte with an edge value
                if (b.length > 0) {
                    byte[] edge = {0, (byte) 0x80, (byte) 0xff, 0x7f, 0x0b, 0x0c, 0x0f};
                    b[r.nextInt(b.length)] = edge[r.nextInt(edge.length)];
                }
            }
            case 5 -> { // repeat a slice (repeated fields, duplicated fields)
                if (b.length > 1) {
                    int from = r.nextInt(b.length), len = 1 + r.nextInt(b.length - from);
                    byte[] out = new byte[b.length + len];
                    System.arraycopy(b, 0, out, 0, b.length);
                    System.arraycopy(b, from, out, b.length, len);
                    b = out;
                }
            }
            default -> { } // the valid request itself
        }
        return b;
    }

    static long count(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.count();
        }
    }

    static Set<Integer> kernelMaps(BpfClient c) {
        return Set.copyOf(c.listMaps(ListMapsRequest.newBuilder().setIncludeKernel(true).setPageSize(1000).build())
                .getMapsList().stream().map(dev.bpfagent.proto.v1.Map::getId).toList());
    }

    /** The kernel's maps once frees of what was just closed are done (the same twice, 300 ms apart). */
    static Set<Integer> settledMaps(BpfClient c) throws InterruptedException {
        Set<Integer> last = kernelMaps(c);
        for (int i = 0; i < 60; i++) {
            Thread.sleep(300);
            Set<Integer> now = kernelMaps(c);
            if (now.equals(last)) {
                return now;
            }
            last = now;
        }
        return last;
    }

    static int threads(Process p) throws IOException {
        for (String l : Files.readAllLines(Path.of("/proc/" + p.pid() + "/status"))) {
            if (l.startsWith("Threads:")) {
                return Integer.parseInt(l.substring(8).strip());
            }
        }
        throw new IllegalStateException("no Threads line");
    }

    static List<String> pins(Path dir) throws IOException {
        try (Stream<Path> s = Files.walk(dir)) {
            return s.map(Path::toString).sorted().toList();
        }
    }

    @Test
    void garbageNeverBreaksTheAgent() throws Exception {
        Kernel.assumeRoot();
        var methods = RawCalls.methods();
        Map<String, List<byte[]>> seeds = seeds();
        assertEquals(methods.size(), seeds.size(), "a seed for every method");
        List<byte[]> allSeeds = seeds.values().stream().flatMap(List::stream).toList();
        try (AgentProcess agent = AgentProcess.start();
             AgentChannels.Connection conn = AgentChannels.connect(agent.unixTarget());
             BpfClient c = BpfClient.over(conn.channel())) {
            run(conn, methods, seeds, allSeeds, 500, new Random(SEED - 1)); // warm up: pools, connections
            closeAllHeld(c); // what the warm-up made is not part of the baseline
            long fds = count(Path.of("/proc/" + agent.process.pid() + "/fd"));
            int threads = threads(agent.process);
            Set<Integer> kernelBefore = Set.copyOf(c.listPrograms(true).stream().map(Program::getId).toList());
            Set<Integer> mapsBefore = settledMaps(c);
            List<String> pinsBefore = pins(agent.bpffsDir);

            Result r = run(conn, methods, seeds, allSeeds, INPUTS, new Random(SEED));
            System.out.printf("fuzz: %d inputs in %d ms, %d answered OK, %d refused; bad answers: %d%n",
                    r.sent, r.millis, r.ok, r.refused, r.bad.size());
            assertEquals(List.of(), r.bad.stream().limit(20).toList());
            assertTrue(r.sent >= 10_000 || r.millis >= 55_000, "ran " + r.sent + " inputs");

            // A mutation may by chance be a valid request that makes something: it is closed, and counted.
            int made = closeAllHeld(c);
            System.out.println("fuzz: objects made by valid mutations, now closed: " + made);

            assertEquals(dev.bpfagent.client.Health.Status.SERVING, c.health());
            assertEquals(kernelBefore, Set.copyOf(c.listPrograms(true).stream().map(Program::getId).toList()));
            // maps a closed program used are freed by the kernel after the program, a moment later
            long end = System.nanoTime() + 20_000_000_000L;
            while (!kernelMaps(c).equals(mapsBefore) && System.nanoTime() < end) {
                Thread.sleep(100);
            }
            assertEquals(mapsBefore, kernelMaps(c), "the kernel's maps");
            assertEquals(pinsBefore, pins(agent.bpffsDir));
            long fdsAfter = count(Path.of("/proc/" + agent.process.pid() + "/fd"));
            assertTrue(fdsAfter <= fds + 2, "agent fds " + fds + " -> " + fdsAfter);
            int threadsAfter = threads(agent.process);
            assertTrue(threadsAfter <= threads + 2, "agent threads " + threads + " -> " + threadsAfter);
        }
    }

    record Result(int sent, int ok, int refused, long millis, List<String> bad) {
    }

    static Result run(AgentChannels.Connection conn, List<MethodDescriptor<byte[], byte[]>> methods,
                      Map<String, List<byte[]>> seeds, List<byte[]> allSeeds, int inputs, Random master)
            throws Exception {
        AtomicInteger sent = new AtomicInteger();
        AtomicInteger ok = new AtomicInteger();
        AtomicInteger refused = new AtomicInteger();
        ConcurrentLinkedQueue<String> bad = new ConcurrentLinkedQueue<>();
        long start = System.nanoTime();
        ExecutorService pool = Executors.newFixedThreadPool(THREADS);
        try {
            List<Future<?>> work = new ArrayList<>();
            for (int t = 0; t < THREADS; t++) {
                Random r = new Random(master.nextLong());
                work.add(pool.submit(() -> {
                    while (sent.get() < inputs && System.nanoTime() - start < BUDGET_NANOS) {
                        sent.incrementAndGet();
                        var m = methods.get(r.nextInt(methods.size()));
                        String name = m.getFullMethodName().substring(m.getFullMethodName().indexOf('/') + 1);
                        List<byte[]> own = seeds.get(name);
                        byte[] input = mutate(r, own.get(r.nextInt(own.size())), allSeeds.get(r.nextInt(allSeeds.size())));
                        try {
                            RawCalls.call(conn.channel(), m, input);
                            ok.incrementAndGet();
                        } catch (StatusRuntimeException e) {
                            refused.incrementAndGet();
                            Status.Code code = e.getStatus().getCode();
                            if (code == Status.Code.UNKNOWN || code == Status.Code.INTERNAL
                                    || io.grpc.protobuf.StatusProto.fromThrowable(e) == null) {
                                bad.add(name + " " + java.util.HexFormat.of().formatHex(input) + " -> " + code + ": "
                                        + e.getStatus().getDescription());
                            }
                        }
                    }
                    return null;
                }));
            }
            for (Future<?> f : work) {
                f.get(120, TimeUnit.SECONDS);
            }
        } finally {
            pool.shutdownNow();
        }
        return new Result(sent.get(), ok.get(), refused.get(), (System.nanoTime() - start) / 1_000_000,
                List.copyOf(bad));
    }
}
