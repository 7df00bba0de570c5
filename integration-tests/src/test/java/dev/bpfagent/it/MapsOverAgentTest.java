package dev.bpfagent.it;

import static org.junit.jupiter.api.Assertions.*;

import com.google.protobuf.ByteString;
import dev.bpfagent.client.BpfAgentException;
import dev.bpfagent.client.BpfClient;
import dev.bpfagent.client.Instructions;
import dev.bpfagent.client.Instructions.Helper;
import dev.bpfagent.client.Instructions.Jump;
import dev.bpfagent.client.Instructions.Reg;
import dev.bpfagent.client.Instructions.Size;
import dev.bpfagent.client.LoadOptions;
import dev.bpfagent.client.MapCodec;
import dev.bpfagent.client.MapHandle;
import dev.bpfagent.client.ProgramHandle;
import dev.bpfagent.client.TestPackets;
import dev.bpfagent.client.TestRunOptions;
import dev.bpfagent.client.TypedMap;
import dev.bpfagent.proto.v1.*;
import io.grpc.Status;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/** Maps through the agent, proven by programs the kernel runs: counters, per-CPU values, tail calls. */
class MapsOverAgentTest extends OneAgentPerClass {
    static final class Insns {
        final ByteArrayOutputStream out = new ByteArrayOutputStream();

        Insns i(int op, int dst, int src, int off, int imm) {
            out.writeBytes(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).put((byte) op)
                    .put((byte) (dst | src << 4)).putShort((short) off).putInt(imm).array());
            return this;
        }

        /** ld_imm64 dst = maps[index] (BPF_PSEUDO_MAP_IDX). */
        Insns map(int dst, int index) {
            return i(0x18, dst, 5, 0, index).i(0, 0, 0, 0, 0);
        }

        byte[] bytes() {
            return out.toByteArray();
        }
    }

    /** XDP: counts packets per first byte in maps[0] (hash u32 -> u64), returns XDP_PASS. */
    static byte[] countByFirstByte() {
        return Instructions.program()
                .mov(Reg.R6, Reg.R1)                               // r6 = ctx
                .ldx(Size.W, Reg.R2, Reg.R6, 0)                    // r2 = data
                .ldx(Size.W, Reg.R3, Reg.R6, 4)                    // r3 = data_end
                .mov(Reg.R4, Reg.R2).add(Reg.R4, 1)
                .jump(Jump.JGT, Reg.R4, Reg.R3, "pass")            // no first byte
                .ldx(Size.B, Reg.R5, Reg.R2, 0)
                .stx(Size.W, Reg.R10, -4, Reg.R5)                  // key = data[0] at fp - 4
                .ldMap(Reg.R1, 0)
                .mov(Reg.R2, Reg.R10).add(Reg.R2, -4)
                .call(Helper.MAP_LOOKUP_ELEM)
                .jump(Jump.JEQ, Reg.R0, 0, "new")
                .mov(Reg.R1, 1)
                .atomicAdd(Size.DW, Reg.R0, 0, Reg.R1)             // lock *(u64 *)r0 += 1
                .ja("pass")
                .label("new")
                .st(Size.DW, Reg.R10, -16, 1)                      // value 1 at fp - 16
                .ldMap(Reg.R1, 0)
                .mov(Reg.R2, Reg.R10).add(Reg.R2, -4)
                .mov(Reg.R3, Reg.R10).add(Reg.R3, -16)
                .mov(Reg.R4, 0)                                    // BPF_ANY
                .call(Helper.MAP_UPDATE_ELEM)
                .label("pass")
                .mov(Reg.R0, 2)                                    // XDP_PASS
                .exit()
                .bytes();
    }

    /** XDP: adds 1 to maps[0][0] (a u32 -> u64 array, per-CPU or not), returns XDP_PASS. */
    static byte[] perCpuCounter() {
        return countReturning(2);
    }

    /** Adds 1 to maps[0][0] (a u32 -> u64 array) and returns r0: a counter for any program type. */
    static byte[] countReturning(int r0) {
        return Instructions.program()
                .st(Size.W, Reg.R10, -4, 0)                        // key 0 at fp - 4
                .ldMap(Reg.R1, 0)
                .mov(Reg.R2, Reg.R10).add(Reg.R2, -4)
                .call(Helper.MAP_LOOKUP_ELEM)
                .jump(Jump.JEQ, Reg.R0, 0, "out")
                .mov(Reg.R1, 1)
                .atomicAdd(Size.DW, Reg.R0, 0, Reg.R1)
                .label("out")
                .mov(Reg.R0, r0)
                .exit()
                .bytes();
    }

    static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    static byte[] packetStartingWith(int first) {
        byte[] p = TestPackets.udp().build();
        p[0] = (byte) first;
        return p;
    }

    @Test
    void aProgramCountsIntoAMapTheClientReadsAndTheMapOutlivesNoDependent() throws Exception {
        MapHandle counts = c.createMap(MapType.MAP_TYPE_HASH, 4, 8, 256, "counts");
        ProgramHandle p = c.load(LoadOptions.builder(ProgramType.PROGRAM_TYPE_XDP, countByFirstByte()).name("counter")
                .map(counts.id()).build());
        try {
            for (int i = 0; i < 3; i++) {
                assertEquals(2, p.testRun(packetStartingWith(0x11)).retval());
            }
            p.testRun(TestRunOptions.ofData(packetStartingWith(0x22)).withRepeat(5));
            assertEquals(3L, MapCodec.asU64(counts.lookup(MapCodec.u32(0x11)).orElseThrow()));
            assertEquals(5L, MapCodec.asU64(counts.lookup(MapCodec.u32(0x22)).orElseThrow()));
            assertTrue(counts.lookup(MapCodec.u32(0x33)).isEmpty());
            Map<Integer, Long> dumped = counts.dump(1).stream().collect(Collectors.toMap(
                    e -> MapCodec.asU32(e.getKey().toByteArray()), e -> MapCodec.asU64(e.getValue().toByteArray())));
            assertEquals(Map.of(0x11, 3L, 0x22, 5L), dumped, "a dump in pages of 1");
            // the same through codecs: typed keys and values, every entry walked lazily a page at a time
            TypedMap<Integer, Long> typed = counts.typed(MapCodec.U32, MapCodec.U64);
            assertEquals(Optional.of(3L), typed.get(0x11));
            assertEquals(Optional.empty(), typed.get(0x33));
            Map<Integer, Long> walked = new java.util.HashMap<>();
            typed.entries(1).forEach(e -> walked.put(e.getKey(), e.getValue()));
            assertEquals(dumped, walked);
            assertEquals(1, typed.stream(1).limit(1).count(), "a limit stops the walk");
            typed.put(0x33, 7L);
            assertEquals(7L, MapCodec.asU64(counts.lookup(MapCodec.u32(0x33)).orElseThrow()));
            assertTrue(typed.delete(0x33));
            assertFalse(typed.delete(0x33));
            var wrongSize = assertThrows(IllegalArgumentException.class,
                    () -> counts.typed(MapCodec.U64, MapCodec.U64).get(1L));
            assertTrue(wrongSize.getMessage().contains("4-byte keys"), wrongSize.getMessage());
            // the kernel says the program uses the map; the agent says the program depends on it
            assertEquals(List.of(counts.id()), p.info().getKernel().getMapIdsList());
            assertEquals(List.of(ObjectRef.newBuilder().setKind(ObjectKind.OBJECT_KIND_MAP).setId(counts.id()).build()),
                    p.info().getAgent().getDependsOnList());

            // closing the map while the program is held is refused, naming the program
            BpfAgentException refused = assertThrows(BpfAgentException.class, counts::close);
            assertEquals(Status.Code.FAILED_PRECONDITION, refused.code());
            assertEquals("HAS_DEPENDENTS", refused.reason());
            assertTrue(refused.getMessage().contains("program " + p.id()), refused.getMessage());
            assertFalse(counts.isClosed());
            // cascade: the program first, then the map
            CloseMapResponse r = c.closeMap(CloseMapRequest.newBuilder().setMap(ObjectRef.newBuilder()
                    .setKind(ObjectKind.OBJECT_KIND_MAP).setId(counts.id())).setCascade(true).build());
            assertEquals(List.of(p.id(), counts.id()), r.getClosedList().stream().map(ObjectRef::getId).toList());
            assertTrue(Kernel.eventually(() -> !c.programExists(p.id())));
            // the kernel frees the map once the program's last reference goes (deferred work): soon
            long end = System.nanoTime() + 20_000_000_000L;
            while (true) {
                try {
                    assertFalse(c.map(counts.id()).getAgent().getHeld(), "the agent let go of it at once");
                } catch (BpfAgentException.NotFound gone) {
                    break;
                }
                assertTrue(System.nanoTime() < end, "the kernel still has map " + counts.id() + " after 20 s");
                sleep(50);
            }
        } finally {
            p.close();
            counts.close();
        }
    }

    @Test
    void perCpuValuesComeOncePerPossibleCpuAndSumToTheRuns() {
        int cpus = c.agentInfo().getPossibleCpus();
        try (MapHandle m = c.createMap(MapType.MAP_TYPE_PERCPU_ARRAY, 4, 8, 1, "percpu");
             ProgramHandle p = c.load(LoadOptions.builder(ProgramType.PROGRAM_TYPE_XDP, perCpuCounter())
                     .map(m.id()).build())) {
            assertEquals(cpus, m.map().getKernel().getValuesPerKey());
            assertThrows(IllegalArgumentException.class, () -> m.typed(MapCodec.U32, MapCodec.U64),
                    "a per-CPU map has a value per CPU: lookupPerCpu");
            p.testRun(TestRunOptions.ofData(TestPackets.udp().build()).withRepeat(1000));
            List<byte[]> values = m.lookupPerCpu(MapCodec.u32(0)).orElseThrow();
            assertEquals(cpus, values.size());
            assertEquals(1000L, values.stream().mapToLong(MapCodec::asU64).sum());
            // writes take every CPU's value
            var stub = BpfServiceGrpc.newBlockingStub(c.channel());
            ObjectRef ref = ObjectRef.newBuilder().setKind(ObjectKind.OBJECT_KIND_MAP).setId(m.id()).build();
            UpdateMapElemRequest.Builder u = UpdateMapElemRequest.newBuilder().setMap(ref)
                    .setKey(ByteString.copyFrom(MapCodec.u32(0)));
            for (int cpu = 0; cpu < cpus; cpu++) {
                u.addPerCpuValues(ByteString.copyFrom(MapCodec.u64(cpu * 10L)));
            }
            stub.updateMapElem(u.build());
            assertEquals(10L * cpus * (cpus - 1) / 2, m.lookupPerCpu(MapCodec.u32(0)).orElseThrow().stream()
                    .mapToLong(MapCodec::asU64).sum());
        }
    }

    /** r2 = maps[0] (a prog array), r3 = index, bpf_tail_call; else return fallback. */
    static byte[] tailCaller(int index, int fallback) {
        return new Insns().map(2, 0).i(0xb7, 3, 0, 0, index).i(0x85, 0, 0, 0, 12).i(0xb7, 0, 0, 0, fallback)
                .i(0x95, 0, 0, 0, 0).bytes();
    }

    @Test
    void aTailCallChainBuiltThroughTheAgent() {
        byte[] packet = TestPackets.udp().build();
        try (MapHandle chain = c.createMap(MapType.MAP_TYPE_PROG_ARRAY, 4, 4, 4, "chain");
             ProgramHandle entry = c.load(LoadOptions.builder(ProgramType.PROGRAM_TYPE_XDP, tailCaller(1, 100))
                     .map(chain.id()).build());
             ProgramHandle middle = c.load(LoadOptions.builder(ProgramType.PROGRAM_TYPE_XDP, tailCaller(2, 101))
                     .map(chain.id()).build());
             ProgramHandle last = c.load(LoadOptions.builder(ProgramType.PROGRAM_TYPE_XDP, Asm.returnImm(42)).build());
             ProgramHandle other = c.load(LoadOptions.builder(ProgramType.PROGRAM_TYPE_XDP, Asm.returnImm(7)).build())) {
            assertEquals(100, entry.testRun(packet).retval());
            // values are program ids; the agent puts the programs' fds in
            chain.put(MapCodec.u32(1), MapCodec.u32(middle.id()));
            chain.put(MapCodec.u32(2), MapCodec.u32(last.id()));
            assertEquals(42, entry.testRun(packet).retval());
            assertTrue(chain.delete(MapCodec.u32(2)));
            assertEquals(101, entry.testRun(packet).retval());
            chain.put(MapCodec.u32(2), MapCodec.u32(other.id()));
            assertEquals(7, entry.testRun(packet).retval());
            assertEquals(middle.id(), MapCodec.asU32(chain.lookup(MapCodec.u32(1)).orElseThrow()));
            // a program the agent does not hold cannot be put in
            BpfAgentException e = assertThrows(BpfAgentException.class,
                    () -> chain.put(MapCodec.u32(3), MapCodec.u32(Integer.MAX_VALUE - 5)));
            assertEquals(Status.Code.NOT_FOUND, e.code());
        }
    }

    @Test
    void badInputIsAClearStatusAndLeavesNothing() throws Exception {
        try (MapHandle m = c.createMap(MapType.MAP_TYPE_HASH, 4, 8, 4, "bad")) {
            var e1 = assertThrows(BpfAgentException.InvalidArgument.class, () -> m.put(MapCodec.u32(1), new byte[3]));
            assertEquals("value", e1.field());
            var e2 = assertThrows(BpfAgentException.InvalidArgument.class, () -> m.lookup(new byte[2]));
            assertEquals("key", e2.field());
            m.put(MapCodec.u32(1), MapCodec.u64(1));
            assertThrows(BpfAgentException.AlreadyExists.class,
                    () -> m.update(MapCodec.u32(1), MapCodec.u64(2), UpdateMode.UPDATE_MODE_NOEXIST));
            assertThrows(BpfAgentException.NotFound.class,
                    () -> m.update(MapCodec.u32(9), MapCodec.u64(2), UpdateMode.UPDATE_MODE_EXIST));
            // a map index the request does not give, and a raw fd, refused by field before the kernel
            var idx = assertThrows(BpfAgentException.InvalidArgument.class, () -> c.load(LoadOptions.builder(
                    ProgramType.PROGRAM_TYPE_XDP, perCpuCounter()).build()));
            assertEquals("maps", idx.field());
            byte[] rawFd = perCpuCounter();
            rawFd[8 + 1] = (byte) (1 | 1 << 4); // insn 1: ld_imm64 r1 with src BPF_PSEUDO_MAP_FD
            var raw = assertThrows(BpfAgentException.InvalidArgument.class, () -> c.load(LoadOptions.builder(
                    ProgramType.PROGRAM_TYPE_XDP, rawFd).map(m.id()).build()));
            assertEquals("instructions", raw.field());
            var noMap = assertThrows(BpfAgentException.NotFound.class, () -> c.map(Integer.MAX_VALUE - 9));
            assertEquals("MAP_NOT_FOUND", noMap.reason());
            var ring = assertThrows(BpfAgentException.InvalidArgument.class,
                    () -> c.createMap(MapType.MAP_TYPE_RINGBUF, 0, 0, 5000, "r"));
            assertEquals("max_entries", ring.field());
        }
        assertEquals(0, c.agentInfo().getMapsHeld());
    }

    @Test
    void mapsPinAndComeBackFromTheirPins() {
        try (MapHandle m = c.createMap(MapType.MAP_TYPE_ARRAY, 4, 8, 2, "pinned")) {
            m.put(MapCodec.u32(1), MapCodec.u64(99));
            String path = m.pin("maps/pinned");
            GetPinnedResponse got = BpfServiceGrpc.newBlockingStub(c.channel())
                    .getPinned(GetPinnedRequest.newBuilder().setPath(path).build());
            assertEquals(m.id(), got.getMap().getId(), "the same map, held once");
            assertEquals(List.of(path), got.getMap().getAgent().getPinnedPathsList());
            var wrong = assertThrows(io.grpc.StatusRuntimeException.class, () -> BpfServiceGrpc.newBlockingStub(
                    c.channel()).getPinned(GetPinnedRequest.newBuilder().setPath(path)
                    .setExpectedKind(ObjectKind.OBJECT_KIND_PROGRAM).build()));
            assertEquals(Status.Code.FAILED_PRECONDITION, wrong.getStatus().getCode());
        }
        assertFalse(java.nio.file.Files.exists(agent.bpffsDir.resolve("maps")), "close removed the pin and its directory");
    }

    @Test
    void mapsListInPagesFilteredByLabelsAndType() {
        String run = "r" + System.nanoTime();
        List<MapHandle> made = new java.util.ArrayList<>();
        try {
            for (int i = 0; i < 5; i++) {
                made.add(c.createMap(CreateMapRequest.newBuilder()
                        .setType(i < 3 ? MapType.MAP_TYPE_HASH : MapType.MAP_TYPE_ARRAY).setKeySize(4).setValueSize(8)
                        .setMaxEntries(4).putLabels("run", run).build()));
            }
            List<Integer> seen = new java.util.ArrayList<>();
            String token = "";
            int pages = 0;
            do {
                ListMapsResponse page = c.listMaps(ListMapsRequest.newBuilder().putLabels("run", run).setPageSize(2)
                        .setPageToken(token).build());
                page.getMapsList().forEach(m -> seen.add(m.getId()));
                token = page.getNextPageToken();
                pages++;
            } while (!token.isEmpty());
            assertEquals(made.stream().map(MapHandle::id).sorted().toList(), seen, "each once, in id order");
            assertEquals(3, pages);
            assertEquals(3, c.listMaps(ListMapsRequest.newBuilder().putLabels("run", run)
                    .setType(MapType.MAP_TYPE_HASH).build()).getMapsCount());
            // every kernel map, held or not, includes ours
            List<Integer> all = new java.util.ArrayList<>();
            token = "";
            do {
                ListMapsResponse page = c.listMaps(ListMapsRequest.newBuilder().setIncludeKernel(true).setPageSize(50)
                        .setPageToken(token).build());
                page.getMapsList().forEach(m -> all.add(m.getId()));
                token = page.getNextPageToken();
            } while (!token.isEmpty());
            assertTrue(all.containsAll(seen));
            assertEquals(all.size(), new java.util.HashSet<>(all).size());
        } finally {
            made.forEach(MapHandle::close);
        }
    }

    @Test
    void batchWritesAndDeletesInOneCall() {
        try (MapHandle m = c.createMap(MapType.MAP_TYPE_HASH, 4, 8, 4096, "batch")) {
            List<byte[]> keys = new java.util.ArrayList<>();
            List<byte[]> values = new java.util.ArrayList<>();
            for (int i = 0; i < 3000; i++) {
                keys.add(MapCodec.u32(i));
                values.add(MapCodec.u64(i * 3L));
            }
            assertEquals(3000, m.putAll(keys, values));
            assertEquals(3000, m.dump(0).size());
            TypedMap<Integer, Long> typed = m.typed(MapCodec.U32, MapCodec.U64);
            assertEquals(3000, typed.stream(700).count(), "five pages, walked lazily");
            assertTrue(typed.stream(700).allMatch(e -> e.getValue() == e.getKey() * 3L));
            // packed pages carry the same entries, the kernel's layout end to end
            java.util.Map<Integer, Long> packed = new java.util.HashMap<>();
            assertEquals(3000, m.dumpPacked(700, (ks, vs, n) -> {
                for (int i = 0; i < n; i++) {
                    packed.put(MapCodec.asU32(java.util.Arrays.copyOfRange(ks, i * 4, i * 4 + 4)),
                            MapCodec.asU64(java.util.Arrays.copyOfRange(vs, i * 8, i * 8 + 8)));
                }
            }));
            assertEquals(3000, packed.size());
            assertEquals(2997L, packed.get(999));
            assertEquals(2997L, MapCodec.asU64(m.lookup(MapCodec.u32(999)).orElseThrow()));
            // NOEXIST on keys that are there: refused by the kernel as a whole status
            var dup = assertThrows(BpfAgentException.AlreadyExists.class, () -> c.updateMapBatch(
                    UpdateMapBatchRequest.newBuilder().setMap(ObjectRef.newBuilder().setKind(ObjectKind.OBJECT_KIND_MAP)
                            .setId(m.id())).setMode(UpdateMode.UPDATE_MODE_NOEXIST).addEntries(MapEntry.newBuilder()
                            .setKey(ByteString.copyFrom(MapCodec.u32(1))).setValue(ByteString.copyFrom(MapCodec.u64(1)))).build()));
            assertEquals(Status.Code.ALREADY_EXISTS, dup.code());
            // half the keys, plus some that were never there: only those there count
            List<byte[]> gone = new java.util.ArrayList<>(keys.subList(0, 1500));
            gone.add(MapCodec.u32(100_000));
            gone.add(MapCodec.u32(2000));
            assertEquals(1501, m.deleteAll(gone));
            assertEquals(1499, m.dump(500).size());
            var badValue = assertThrows(BpfAgentException.InvalidArgument.class,
                    () -> m.putAll(List.of(MapCodec.u32(1)), List.of(new byte[5])));
            assertEquals("entries[0].value", badValue.field());
        }
        try (MapHandle progs = c.createMap(MapType.MAP_TYPE_PROG_ARRAY, 4, 4, 2, "pa")) {
            var e = assertThrows(BpfAgentException.InvalidArgument.class,
                    () -> progs.putAll(List.of(MapCodec.u32(0)), List.of(MapCodec.u32(1))));
            assertEquals("map", e.field());
        }
    }

    /** XDP: bpf_ringbuf_output(maps[0], &value, 8, 0) of a fixed u64, returns XDP_PASS. */
    static byte[] ringWriter(long value) {
        return new Insns()
                .i(0x18, 1, 0, 0, (int) value).i(0, 0, 0, 0, (int) (value >>> 32)) // r1 = value (ld_imm64)
                .i(0x7b, 10, 1, -8, 0)    // *(u64 *)(fp - 8) = r1
                .map(1, 0)                // r1 = maps[0]
                .i(0xbf, 2, 10, 0, 0)     // r2 = fp
                .i(0x07, 2, 0, 0, -8)     // r2 -= 8
                .i(0xb7, 3, 0, 0, 8)      // r3 = 8 bytes
                .i(0xb7, 4, 0, 0, 0)      // r4 = flags
                .i(0x85, 0, 0, 0, 130)    // bpf_ringbuf_output
                .i(0xb7, 0, 0, 0, 2)      // r0 = XDP_PASS
                .i(0x95, 0, 0, 0, 0)      // exit
                .bytes();
    }

    @Test
    void whatAProgramWritesToARingBufferIsReadThroughTheAgent() {
        try (MapHandle ring = c.createMap(MapType.MAP_TYPE_RINGBUF, 0, 0, 64 * 1024, "ring");
             ProgramHandle p = c.load(LoadOptions.builder(ProgramType.PROGRAM_TYPE_XDP, ringWriter(0x1122334455667788L))
                     .map(ring.id()).build())) {
            assertEquals(List.of(), ring.readRingBuffer(10), "nothing written yet");
            for (int i = 0; i < 3; i++) {
                p.testRun(TestPackets.udp().build());
            }
            List<byte[]> records = ring.readRingBuffer(10);
            assertEquals(3, records.size());
            for (byte[] r : records) {
                assertEquals(0x1122334455667788L, MapCodec.asU64(r));
            }
            assertEquals(List.of(), ring.readRingBuffer(10), "consumed");
            // more than fit in one read: taken in turns
            p.testRun(TestRunOptions.ofData(TestPackets.udp().build()).withRepeat(5));
            assertEquals(2, ring.readRingBuffer(2).size());
            assertEquals(3, ring.readRingBuffer(100).size());
            var notRing = assertThrows(BpfAgentException.InvalidArgument.class, () -> {
                try (MapHandle h = c.createMap(MapType.MAP_TYPE_HASH, 4, 8, 2, "h")) {
                    h.readRingBuffer(1);
                }
            });
            assertEquals("map", notRing.field());
        }
    }

    @Test
    void anArrayOfMapsHoldsMapsTheAgentHolds() {
        try (MapHandle inner = c.createMap(MapType.MAP_TYPE_ARRAY, 4, 8, 2, "inner");
             MapHandle other = c.createMap(MapType.MAP_TYPE_ARRAY, 4, 8, 2, "other");
             MapHandle outer = c.createMap(CreateMapRequest.newBuilder().setType(MapType.MAP_TYPE_ARRAY_OF_MAPS)
                     .setKeySize(4).setValueSize(4).setMaxEntries(2).setName("outer")
                     .setInnerMap(ObjectRef.newBuilder().setKind(ObjectKind.OBJECT_KIND_MAP).setId(inner.id())).build())) {
            outer.put(MapCodec.u32(0), MapCodec.u32(other.id()));
            assertEquals(other.id(), MapCodec.asU32(outer.lookup(MapCodec.u32(0)).orElseThrow()), "read back as the id");
            var notHeld = assertThrows(BpfAgentException.NotFound.class,
                    () -> outer.put(MapCodec.u32(1), MapCodec.u32(Integer.MAX_VALUE - 3)));
            assertEquals("MAP_NOT_HELD", notHeld.reason());
            var noInner = assertThrows(BpfAgentException.InvalidArgument.class, () -> c.createMap(
                    MapType.MAP_TYPE_HASH_OF_MAPS, 4, 4, 2, "x"));
            assertEquals("inner_map", noInner.field());
        }
    }

    /** XDP: return bpf_redirect_map(maps[0], 0, XDP_PASS): XDP_REDIRECT (4) when entry 0 is there, else XDP_PASS. */
    static byte[] redirectToEntryZero() {
        return new Insns()
                .map(1, 0)                // 0-1: r1 = maps[0]
                .i(0xb7, 2, 0, 0, 0)      // 2: r2 = key 0
                .i(0xb7, 3, 0, 0, 2)      // 3: r3 = XDP_PASS, returned on a miss
                .i(0x85, 0, 0, 0, 51)     // 4: bpf_redirect_map
                .i(0x95, 0, 0, 0, 0)      // 5: exit
                .bytes();
    }

    @Test
    void bloomFiltersAnswerMaybeOrSurelyNot() {
        org.junit.jupiter.api.Assumptions.assumeTrue(LinksOverAgentTest.supported("BLOOM_FILTER"),
                "the features report says this kernel has no bloom filter maps (5.16+)");
        try (MapHandle bloom = c.createMap(CreateMapRequest.newBuilder().setType(MapType.MAP_TYPE_BLOOM_FILTER)
                .setValueSize(8).setMaxEntries(100).setMapExtra(3).setName("bloom").build())) {
            for (long v = 1; v <= 3; v++) {
                bloom.push(MapCodec.u64(v * 1_000_003L));
            }
            for (long v = 1; v <= 3; v++) {
                assertTrue(bloom.mayContain(MapCodec.u64(v * 1_000_003L)), "no false negatives");
            }
            // 3 values in a filter sized for 100 with 3 hashes: a false positive is about 1 in 10^5
            assertFalse(bloom.mayContain(MapCodec.u64(0x5eed_f00d_cafeL)), "never pushed");
            var wrongSize = assertThrows(BpfAgentException.InvalidArgument.class, () -> bloom.mayContain(new byte[3]));
            assertEquals("value", wrongSize.field());
        }
        var hashes = assertThrows(BpfAgentException.InvalidArgument.class, () -> c.createMap(CreateMapRequest
                .newBuilder().setType(MapType.MAP_TYPE_BLOOM_FILTER).setValueSize(8).setMaxEntries(10).setMapExtra(16)
                .build()));
        assertEquals("map_extra", hashes.field());
        try (MapHandle hash = c.createMap(MapType.MAP_TYPE_HASH, 4, 8, 2, "h")) {
            var notBloom = assertThrows(BpfAgentException.InvalidArgument.class, () -> hash.mayContain(new byte[8]));
            assertEquals("value", notBloom.field());
        }
    }

    @Test
    void perfEventArraysHaveASlotPerCpuAndClientsCannotWriteFdsIntoThem() {
        int cpus = c.agentInfo().getPossibleCpus();
        try (MapHandle perf = c.createMap(MapType.MAP_TYPE_PERF_EVENT_ARRAY, 4, 4, 0, "perf")) {
            assertEquals(cpus, perf.map().getKernel().getMaxEntries(), "one slot per possible CPU by default");
            // 3 is some fd of the agent's own process: the agent must not let a client name it
            var raw = assertThrows(BpfAgentException.InvalidArgument.class, () -> perf.put(MapCodec.u32(0),
                    MapCodec.u32(3)));
            assertEquals("value", raw.field());
            var unreadable = assertThrows(BpfAgentException.InvalidArgument.class, () -> perf.lookup(MapCodec.u32(0)));
            assertEquals("map", unreadable.field());
        }
        try (MapHandle socks = c.createMap(MapType.MAP_TYPE_SOCKMAP, 4, 8, 4, "socks")) {
            var raw = assertThrows(BpfAgentException.InvalidArgument.class, () -> socks.put(MapCodec.u32(0),
                    MapCodec.u64(3)));
            assertEquals("value", raw.field());
            var batch = assertThrows(BpfAgentException.InvalidArgument.class, () -> socks.putAll(
                    List.of(MapCodec.u32(0)), List.of(MapCodec.u64(4))));
            assertEquals("value", batch.field());
        }
        var sockValue = assertThrows(BpfAgentException.InvalidArgument.class,
                () -> c.createMap(MapType.MAP_TYPE_SOCKHASH, 4, 12, 4, "sh"));
        assertEquals("value_size", sockValue.field());
    }

    @Test
    void devmapsRedirectToTheirEntriesAndCarryXdpProgramsById() {
        try (MapHandle devs = c.createMap(MapType.MAP_TYPE_DEVMAP, 4, 4, 4, "devs");
             ProgramHandle redirect = c.load(LoadOptions.builder(ProgramType.PROGRAM_TYPE_XDP, redirectToEntryZero())
                     .map(devs.id()).build())) {
            assertEquals(2, redirect.testRun(TestPackets.udp().build()).retval(), "no entry 0: XDP_PASS");
            devs.put(MapCodec.u32(0), MapCodec.u32(1)); // lo
            assertEquals(1, MapCodec.asU32(devs.lookup(MapCodec.u32(0)).orElseThrow()));
            assertEquals(4, redirect.testRun(TestPackets.udp().build()).retval(), "entry 0: XDP_REDIRECT");
        }
        try (MapHandle devs = c.createMap(MapType.MAP_TYPE_DEVMAP, 4, 8, 4, "devprogs");
             ProgramHandle onEgress = c.load(LoadOptions.builder(ProgramType.PROGRAM_TYPE_XDP, Asm.returnImm(2))
                     .expectedAttachType(AttachType.ATTACH_TYPE_XDP_DEVMAP).build());
             ProgramHandle plain = c.load(LoadOptions.builder(ProgramType.PROGRAM_TYPE_XDP, Asm.returnImm(2)).build())) {
            byte[] entry = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putInt(1).putInt(onEgress.id()).array();
            devs.put(MapCodec.u32(0), entry);
            assertArrayEquals(entry, devs.lookup(MapCodec.u32(0)).orElseThrow(), "the program reads back as its id");
            byte[] noProg = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putInt(1).putInt(0).array();
            devs.put(MapCodec.u32(1), noProg);
            assertArrayEquals(noProg, devs.lookup(MapCodec.u32(1)).orElseThrow());
            var notHeld = assertThrows(BpfAgentException.NotFound.class, () -> devs.put(MapCodec.u32(2),
                    ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putInt(1).putInt(Integer.MAX_VALUE - 5)
                            .array()));
            assertEquals("PROGRAM_NOT_HELD", notHeld.reason());
            // the kernel takes only programs loaded for devmaps
            assertThrows(BpfAgentException.InvalidArgument.class, () -> devs.put(MapCodec.u32(2),
                    ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putInt(1).putInt(plain.id()).array()));
            assertTrue(devs.lookup(MapCodec.u32(2)).isEmpty(), "nothing half-written");
        }
        var wide = assertThrows(BpfAgentException.InvalidArgument.class,
                () -> c.createMap(MapType.MAP_TYPE_DEVMAP, 4, 12, 4, "x"));
        assertEquals("value_size", wide.field());
    }

    @Test
    void cpumapsTakeAQueueSizePerCpu() {
        int cpus = c.agentInfo().getPossibleCpus();
        try (MapHandle cpusMap = c.createMap(MapType.MAP_TYPE_CPUMAP, 4, 4, cpus, "cpus")) {
            cpusMap.put(MapCodec.u32(0), MapCodec.u32(192));
            assertEquals(192, MapCodec.asU32(cpusMap.lookup(MapCodec.u32(0)).orElseThrow()));
        }
    }

    @Test
    void mapsCreatedWithBtfCarryTheirKeyAndValueTypes() {
        try (MapHandle typed = c.createMap(CreateMapRequest.newBuilder().setType(MapType.MAP_TYPE_HASH).setKeySize(4)
                .setValueSize(4).setMaxEntries(4).setName("typed").setBtf(MapBtf.newBuilder()
                        .setBtf(ByteString.copyFrom(Btf.oneInt())).setKeyTypeId(1).setValueTypeId(1)).build())) {
            MapKernelInfo k = typed.map().getKernel();
            assertNotEquals(0, k.getBtfId(), "the kernel keeps the BTF object with the map");
            assertEquals(1, k.getBtfKeyTypeId());
            assertEquals(1, k.getBtfValueTypeId());
            typed.put(MapCodec.u32(7), MapCodec.u32(-7));
            assertEquals(-7, MapCodec.asU32(typed.lookup(MapCodec.u32(7)).orElseThrow()));
        }
        var sizes = assertThrows(BpfAgentException.InvalidArgument.class, () -> c.createMap(CreateMapRequest
                .newBuilder().setType(MapType.MAP_TYPE_HASH).setKeySize(4).setValueSize(8).setMaxEntries(4)
                .setBtf(MapBtf.newBuilder().setBtf(ByteString.copyFrom(Btf.oneInt())).setKeyTypeId(1)
                        .setValueTypeId(1)).build()));
        assertTrue(sizes.getMessage().contains("btf.value_type_id"), sizes.getMessage());
        var noBlob = assertThrows(BpfAgentException.InvalidArgument.class, () -> c.createMap(CreateMapRequest
                .newBuilder().setType(MapType.MAP_TYPE_HASH).setKeySize(4).setValueSize(4).setMaxEntries(4)
                .setBtf(MapBtf.newBuilder().setValueTypeId(1)).build()));
        assertEquals("btf.btf", noBlob.field());
        var garbage = assertThrows(BpfAgentException.InvalidArgument.class, () -> c.createMap(CreateMapRequest
                .newBuilder().setType(MapType.MAP_TYPE_HASH).setKeySize(4).setValueSize(4).setMaxEntries(4)
                .setBtf(MapBtf.newBuilder().setBtf(ByteString.copyFromUtf8("not btf at all, not at all"))
                        .setValueTypeId(1)).build()));
        assertTrue(garbage.getMessage().contains("BTF"), garbage.getMessage());
    }
}
