package dev.bpfagent.it;

import static org.junit.jupiter.api.Assertions.*;

import dev.bpfagent.agent.bpf.KernelObjects;
import dev.bpfagent.client.BpfAgentException;
import dev.bpfagent.client.CollectionHandle;
import dev.bpfagent.client.MapCodec;
import dev.bpfagent.client.MapHandle;
import dev.bpfagent.client.TailCallChain;
import dev.bpfagent.proto.v1.*;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Random interleavings (seeded and printed: -Dsharedmaps.seed=N replays one run,
 * -Dsharedmaps.sequences=N sets how many) of what shares maps by pin: a caller's map pinned where an
 * object pins by name, a chain whose prog array is pinned there, loads of the object, loads that fail at
 * each stage (a map of another shape, a relocation, the verifier, a pin, an attach), a collection's
 * program put in the chain, and the closes and unpins of each, in any order.
 *
 * <p>After every step: nothing is held that no one can name, the caller's map keeps its id, pin and
 * contents, and a failed load changed nothing (the same maps held, with the same pins, the same files in
 * bpffs). After each sequence and a close of everything the caller made: nothing held, and the kernel
 * has no map or program more than before.
 */
class SharedMapsPropertyTest extends OneAgentPerClass {
    static final byte[] KEY = MapCodec.u32(0);

    /** One sequence's state: what the caller made and keeps, and what it expects of it. */
    final class Run {
        final Random rnd;
        final String dirName;
        final Path dir;
        final List<String> log = new ArrayList<>();
        MapHandle counts; // the caller's map, pinned at dir/counts when made
        long value; // counts[0] as the caller expects it
        TailCallChain chain; // its prog array pinned at dir/jmp_table when made
        final Map<Integer, Integer> slotCounts = new TreeMap<>(); // chain slot -> counts map id its program uses
        final List<CollectionHandle> collections = new ArrayList<>();

        Run(long seed, int n) {
            rnd = new Random(seed);
            dirName = "prop/" + n;
            dir = agent.bpffsDir.resolve(dirName);
        }

        String where() {
            return "\n  steps: " + String.join(" > ", log);
        }

        void step() throws Exception {
            switch (rnd.nextInt(10)) {
                case 0 -> createMap();
                case 1 -> createChain();
                case 2, 3 -> load();
                case 4 -> failedLoad();
                case 5 -> putInChain();
                case 6 -> closeCollection();
                case 7 -> closeChain();
                case 8 -> closeMap();
                default -> unpin();
            }
            check();
        }

        void createMap() throws Exception {
            if (counts != null || Files.exists(dir.resolve("counts"))) {
                return;
            }
            log.add("createMap");
            counts = c.createMap(MapType.MAP_TYPE_HASH, 4, 8, 16, "counts");
            assertEquals(dir.resolve("counts").toString(), counts.pin(dirName + "/counts"));
            value = rnd.nextInt(1000);
            counts.put(KEY, MapCodec.u64(value));
        }

        void createChain() throws Exception {
            if (chain != null || Files.exists(dir.resolve("jmp_table"))) {
                return;
            }
            log.add("createChain");
            chain = c.createChain("prop_chain", 4);
            c.pin(ObjectRef.newBuilder().setKind(ObjectKind.OBJECT_KIND_MAP).setId(chain.progArrayId()).build(),
                    dirName + "/jmp_table");
        }

        boolean callersCountsPinned() {
            return counts != null && pinnedPaths(counts.id()).contains(dir.resolve("counts").toString());
        }

        boolean chainPinned() {
            return chain != null && pinnedPaths(chain.progArrayId()).contains(dir.resolve("jmp_table").toString());
        }

        void load() throws Exception {
            log.add("load");
            boolean callers = callersCountsPinned();
            boolean chains = chainPinned();
            CollectionHandle h = c.loadObject(SharedMapsTest.shared(dirName).build());
            collections.add(h);
            if (callers) {
                assertEquals(counts.id(), h.map("counts").orElseThrow().id(), "the caller's map, reused" + where());
                assertTrue(SharedMapsTest.borrowed(h, "counts"), h.collection() + where());
            }
            if (chains) {
                assertEquals(chain.progArrayId(), h.map("jmp_table").orElseThrow().id(), "the chain's" + where());
                assertTrue(SharedMapsTest.borrowed(h, "jmp_table"), h.collection() + where());
            }
            assertEquals(2, SharedMapsTest.run(h), "XDP_PASS: jmp_table's slot 1 is never filled" + where());
            if (callers) {
                value++;
            }
        }

        void failedLoad() throws Exception {
            int stage = rnd.nextInt(5);
            if (stage == 0 && Files.exists(dir.resolve("counts"))) {
                stage = 1 + rnd.nextInt(4);
            }
            String[] names = {"map of another shape", "relocation", "verifier", "pin", "attach"};
            log.add("failedLoad(" + names[stage] + ")");
            Snapshot before = snapshot();
            MapHandle other = null;
            try {
                if (stage == 0) {
                    other = c.createMap(MapType.MAP_TYPE_HASH, 8, 8, 16, "counts");
                    other.pin(dirName + "/counts");
                    before = snapshot();
                }
                LoadObjectRequest.Builder req = switch (stage) {
                    case 0 -> SharedMapsTest.shared(dirName);
                    case 4 -> SharedMapsTest.shared(dirName).clearPrograms().addPrograms("bad_tp").setAttach(true);
                    default -> fails(dirName, new String[] {"", "bad_reloc", "bad_verify", "bad_pin"}[stage]);
                };
                var e = assertThrows(BpfAgentException.class, () -> c.loadObject(req.build()), names[stage] + where());
                String field = switch (stage) {
                    case 0 -> "pin_dir";
                    case 4 -> "hook.tracepoint.category";
                    default -> null;
                };
                if (field != null) {
                    assertEquals(field, e.field(), e.getMessage() + where());
                }
                assertEquals(before, snapshot(), "a load failed at its " + names[stage] + " changed what was there"
                        + where() + "\n  error: " + e.getMessage());
            } finally {
                if (other != null) {
                    c.unpin(dir.resolve("counts").toString());
                    other.close();
                }
            }
        }

        void putInChain() {
            if (chain == null || collections.isEmpty()) {
                return;
            }
            int slot = new int[] {0, 2, 3}[rnd.nextInt(3)];
            CollectionHandle h = collections.get(rnd.nextInt(collections.size()));
            log.add("putInChain(" + slot + ")");
            chain.set(slot, h.program("shared_xdp").orElseThrow().id());
            slotCounts.put(slot, h.map("counts").orElseThrow().id());
        }

        void closeCollection() {
            if (collections.isEmpty()) {
                return;
            }
            log.add("closeCollection");
            CollectionHandle h = collections.remove(rnd.nextInt(collections.size()));
            h.close();
        }

        void closeChain() {
            if (chain == null) {
                return;
            }
            log.add("closeChain");
            chain.close();
            chain = null;
            slotCounts.clear();
        }

        /** Whether a program the caller can still reach (in a collection, or in a chain slot) uses its map. */
        boolean countsInUse() {
            return collections.stream().anyMatch(h -> h.map("counts").orElseThrow().id() == counts.id())
                    || slotCounts.containsValue(counts.id());
        }

        void closeMap() {
            if (counts == null) {
                return;
            }
            boolean used = countsInUse();
            log.add("closeMap" + (used ? "(in use)" : ""));
            if (used) {
                var refused = assertThrows(BpfAgentException.class, counts::close, where());
                assertEquals("HAS_DEPENDENTS", refused.reason(), refused.getMessage() + where());
                return;
            }
            counts.close();
            counts = null;
        }

        void unpin() throws IOException {
            List<Path> pins = pinsUnder(dir);
            if (pins.isEmpty()) {
                return;
            }
            Path p = pins.get(rnd.nextInt(pins.size()));
            log.add("unpin(" + p.getFileName() + ")");
            c.unpin(p.toString());
        }

        /** Nothing held that no one can name; the caller's map as the caller left it. */
        void check() throws IOException {
            assertEquals(0, c.agentInfo().getUnheld(), "objects held by nothing" + where());
            Set<Integer> nameable = new HashSet<>();
            if (counts != null) {
                nameable.add(counts.id());
                var m = c.map(counts.id());
                assertTrue(m.getAgent().getHeld(), m + where());
                assertEquals(value, MapCodec.asU64(counts.lookup(KEY).orElseThrow()), "counts[0]" + where());
            }
            if (chain != null) {
                nameable.add(chain.progArrayId());
                // the programs in the chain name the maps they use (a closed collection's own_hits)
                for (ChainSlot slot : chain.chain().getSlotsList()) {
                    nameable.addAll(c.program(slot.getProgramId()).getKernel().getMapIdsList());
                }
            }
            for (CollectionHandle h : collections) {
                h.collection().getMapsList().forEach(m -> nameable.add(m.getMapId()));
            }
            for (var m : c.listMaps(ListMapsRequest.newBuilder().setPageSize(1000).build()).getMapsList()) {
                assertTrue(nameable.contains(m.getId()) || !m.getAgent().getPinnedPathsList().isEmpty(),
                        "map " + m.getId() + " (" + m.getKernel().getName() + ") is held, but no handle, collection, chain or"
                                + " pin names it" + where());
            }
        }

        /** Closes what the caller made, in an order of the sequence's choosing, and every pin left. */
        void end() throws IOException {
            log.add("end");
            while (counts != null || chain != null || !collections.isEmpty()) {
                switch (rnd.nextInt(3)) {
                    case 0 -> closeCollection();
                    case 1 -> closeChain();
                    default -> {
                        if (counts != null && !countsInUse()) {
                            counts.close();
                            counts = null;
                        }
                    }
                }
            }
            for (Path p : pinsUnder(dir)) {
                c.unpin(p.toString());
            }
        }
    }

    /** shared_fail.o's program that fails at one stage, with shared.o's maps pinned by name. */
    static LoadObjectRequest.Builder fails(String pinDir, String program) throws Exception {
        return LoadObjectRequest.newBuilder().setObject(ObjectSource.newBuilder().setElf(
                com.google.protobuf.ByteString.copyFrom(ObjectsOverAgentTest.object("shared_fail")))
                .setName("shared_fail.o")).setPinDir(pinDir).addPrograms(program);
    }

    /** What the agent holds (each map's id with its pins) and what bpffs has under the agent's root. */
    record Snapshot(Map<Integer, List<String>> maps, int programs, List<Path> files) {
    }

    static Snapshot snapshot() throws IOException {
        Map<Integer, List<String>> maps = new TreeMap<>();
        for (var m : c.listMaps(ListMapsRequest.newBuilder().setPageSize(1000).build()).getMapsList()) {
            maps.put(m.getId(), m.getAgent().getPinnedPathsList().stream().sorted().toList());
        }
        return new Snapshot(maps, c.agentInfo().getProgramsHeld(), pinsUnder(agent.bpffsDir));
    }

    static List<String> pinnedPaths(int mapId) {
        return c.map(mapId).getAgent().getPinnedPathsList();
    }

    static List<Path> pinsUnder(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        try (Stream<Path> walk = Files.walk(dir)) {
            return walk.filter(Files::isRegularFile).sorted().toList();
        }
    }

    @Test
    void anyInterleavingLeavesWhatTheCallerKeptAndNothingElse() throws Exception {
        // A fixed default keeps CI repeatable; -Dsharedmaps.seed=N (e.g. $(date +%s)) explores others.
        long seed = Long.getLong("sharedmaps.seed", 20261206L);
        int sequences = Integer.getInteger("sharedmaps.sequences", 200);
        System.out.println("SharedMapsPropertyTest: seed " + seed + ", " + sequences + " sequences");
        Set<Integer> mapsBefore = new HashSet<>(KernelObjects.mapIds());
        Set<Integer> progsBefore = new HashSet<>(KernelObjects.programIds());
        Map<String, Integer> steps = new TreeMap<>();
        for (int i = 0; i < sequences; i++) {
            Run run = new Run(seed + i, i);
            try {
                int length = 4 + run.rnd.nextInt(12);
                for (int s = 0; s < length; s++) {
                    run.step();
                }
                run.end();
                run.check();
                assertEquals(Map.of(), snapshot().maps(), "maps held after the end" + run.where());
                assertEquals(0, c.agentInfo().getProgramsHeld(), "programs held after the end" + run.where());
                assertEquals(List.of(), pinsUnder(run.dir), "pins left" + run.where());
            } catch (AssertionError | RuntimeException e) {
                throw new AssertionError("sequence " + i + " (seed " + (seed + i) + ", replay with -Dsharedmaps.seed="
                        + seed + "): " + e.getMessage()
                        + (String.valueOf(e.getMessage()).contains("steps:") ? "" : run.where()), e);
            }
            run.log.forEach(s -> steps.merge(s.replaceAll("\\(.*", ""), 1, Integer::sum));
        }
        System.out.println("SharedMapsPropertyTest: steps taken " + steps);
        assertTrue(Kernel.eventually(() -> mapsBefore.containsAll(KernelObjects.mapIds())),
                "maps left in the kernel");
        assertTrue(Kernel.eventually(() -> progsBefore.containsAll(KernelObjects.programIds())),
                "programs left in the kernel");
    }
}
