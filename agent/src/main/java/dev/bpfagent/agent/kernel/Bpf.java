package dev.bpfagent.agent.kernel;

import dev.bpfagent.agent.errno.KernelException;
import dev.bpfagent.agent.errno.Errno;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import dev.bpfagent.agent.kernel.BpfAttr.BtfLoad;
import dev.bpfagent.agent.kernel.BpfAttr.EnableStats;
import dev.bpfagent.agent.kernel.BpfAttr.GetId;
import dev.bpfagent.agent.kernel.BpfAttr.Info;
import dev.bpfagent.agent.kernel.BpfAttr.LinkCreate;
import dev.bpfagent.agent.kernel.BpfAttr.Obj;
import dev.bpfagent.agent.kernel.BpfAttr.ProgLoad;
import dev.bpfagent.agent.kernel.BpfAttr.ProgTestRun;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.nio.charset.StandardCharsets;
import java.util.OptionalInt;

/**
 * The bpf(2) commands, one method each, named after the command. Mechanical: fills union bpf_attr,
 * makes the call, reads the answer; the bpf package decides what to retry and how to present it.
 */
public final class Bpf {
    private Bpf() {
    }

    /** Size of struct bpf_insn. */
    public static final int INSN_SIZE = 8;
    /** The kernel's BPF_OBJ_NAME_LEN: names of programs and maps, with their NUL. */
    public static final int BPF_OBJ_NAME_LEN = 16;
    /** enum bpf_stats_type */
    public static final int BPF_STATS_RUN_TIME = 0;

    private static MemorySegment attr(Arena arena, StructLayout layout) {
        MemorySegment s = arena.allocate(layout);
        s.fill((byte) 0);
        return s;
    }

    private static long call(Arena arena, BpfCmd cmd, MemorySegment attr) {
        return LibC.bpf(arena, cmd.name(), cmd.value, attr);
    }

    private static int fdOf(Fd.Held h) {
        return h == null ? 0 : h.fd();
    }

    private static Fd.Held holdOrNull(Fd fd) {
        return fd == null ? null : fd.hold();
    }

    /** A loaded program's fd and what the verifier wrote into the log buffer (empty without one). */
    public record ProgLoadResult(Fd fd, String log) {
    }

    /** BPF_PROG_LOAD. On failure the log the kernel wrote (if any) comes with the exception. */
    public static ProgLoadResult progLoad(ProgLoadAttr a) {
        StructLayout L = ProgLoad.LAYOUT;
        try (Arena arena = Arena.ofConfined();
             Fd.Held btf = holdOrNull(a.prog_btf_fd());
             Fd.Held btfObj = holdOrNull(a.attach_btf_obj_fd());
             Fd.Held prog = holdOrNull(a.attach_prog_fd())) {
            MemorySegment s = attr(arena, L);
            MemorySegment insns = arena.allocate(a.insns().length, 8);
            insns.copyFrom(MemorySegment.ofArray(a.insns()));
            MemorySegment license = arena.allocateFrom(a.license());
            MemorySegment log = a.log_level() > 0 && a.log_size() > 0
                    ? arena.allocate(a.log_size()) : MemorySegment.NULL;
            if (log.byteSize() > 0) {
                log.set(JAVA_BYTE, 0, (byte) 0);
            }
            s.set(JAVA_INT, ProgLoad.prog_type, a.prog_type());
            s.set(JAVA_INT, ProgLoad.insn_cnt, a.insns().length / INSN_SIZE);
            s.set(JAVA_LONG, ProgLoad.insns, insns.address());
            s.set(JAVA_LONG, ProgLoad.license, license.address());
            s.set(JAVA_INT, ProgLoad.log_level, log.byteSize() > 0 ? a.log_level() : 0);
            s.set(JAVA_INT, ProgLoad.log_size, (int) log.byteSize());
            s.set(JAVA_LONG, ProgLoad.log_buf, log.address());
            s.set(JAVA_INT, ProgLoad.kern_version, a.kern_version());
            s.set(JAVA_INT, ProgLoad.prog_flags, a.prog_flags());
            if (a.prog_name() != null) {
                byte[] name = a.prog_name().getBytes(StandardCharsets.UTF_8);
                if (name.length > BPF_OBJ_NAME_LEN - 1) { // cutting it would load a program under another name
                    throw new IllegalArgumentException("prog_name '" + a.prog_name() + "' is longer than "
                            + (BPF_OBJ_NAME_LEN - 1) + " bytes");
                }
                MemorySegment.copy(name, 0, s, JAVA_BYTE, ProgLoad.prog_name, name.length);
            }
            s.set(JAVA_INT, ProgLoad.prog_ifindex, a.prog_ifindex());
            s.set(JAVA_INT, ProgLoad.expected_attach_type, a.expected_attach_type());
            s.set(JAVA_INT, ProgLoad.prog_btf_fd, fdOf(btf));
            s.set(JAVA_INT, ProgLoad.attach_btf_id, a.attach_btf_id());
            if (a.func_info() != null && a.func_info().length > 0) {
                s.set(JAVA_INT, ProgLoad.func_info_rec_size, a.func_info_rec_size());
                s.set(JAVA_LONG, ProgLoad.func_info, copyIn(arena, a.func_info()).address());
                s.set(JAVA_INT, ProgLoad.func_info_cnt, a.func_info().length / a.func_info_rec_size());
            }
            if (a.line_info() != null && a.line_info().length > 0) {
                s.set(JAVA_INT, ProgLoad.line_info_rec_size, a.line_info_rec_size());
                s.set(JAVA_LONG, ProgLoad.line_info, copyIn(arena, a.line_info()).address());
                s.set(JAVA_INT, ProgLoad.line_info_cnt, a.line_info().length / a.line_info_rec_size());
            }
            // attach_prog_fd and attach_btf_obj_fd share one place in the union.
            s.set(JAVA_INT, ProgLoad.attach_prog_fd, prog != null ? fdOf(prog) : fdOf(btfObj));
            try {
                Fd fd = new Fd((int) call(arena, BpfCmd.BPF_PROG_LOAD, s));
                return new ProgLoadResult(fd, log.byteSize() > 0 ? log.getString(0, StandardCharsets.UTF_8) : "");
            } catch (KernelException e) {
                String text = log.byteSize() > 0 ? log.getString(0, StandardCharsets.UTF_8) : "";
                throw new ProgLoadException(e.errnoNumber(), text, s.get(JAVA_INT, ProgLoad.log_true_size));
            }
        }
    }

    /** What BPF_PROG_TEST_RUN reported. */
    public record TestRunResult(int retval, int duration, byte[] data_out, int data_size_out, byte[] ctx_out,
                                int ctx_size_out) {
    }

    /** BPF_PROG_TEST_RUN. Output buffers of the given sizes are allocated; 0 means none. */
    public static TestRunResult progTestRun(Fd prog, byte[] dataIn, int dataSizeOut, byte[] ctxIn, int ctxSizeOut,
                                            int repeat, int flags, int cpu, int batchSize) {
        StructLayout L = ProgTestRun.LAYOUT;
        try (Arena arena = Arena.ofConfined(); Fd.Held p = prog.hold()) {
            MemorySegment s = attr(arena, L);
            MemorySegment din = copyIn(arena, dataIn);
            MemorySegment dout = dataSizeOut > 0 ? arena.allocate(dataSizeOut) : MemorySegment.NULL;
            MemorySegment cin = copyIn(arena, ctxIn);
            MemorySegment cout = ctxSizeOut > 0 ? arena.allocate(ctxSizeOut) : MemorySegment.NULL;
            s.set(JAVA_INT, ProgTestRun.prog_fd, p.fd());
            s.set(JAVA_INT, ProgTestRun.data_size_in, (int) din.byteSize());
            s.set(JAVA_INT, ProgTestRun.data_size_out, (int) dout.byteSize());
            s.set(JAVA_LONG, ProgTestRun.data_in, din.address());
            s.set(JAVA_LONG, ProgTestRun.data_out, dout.address());
            s.set(JAVA_INT, ProgTestRun.repeat, repeat);
            s.set(JAVA_INT, ProgTestRun.ctx_size_in, (int) cin.byteSize());
            s.set(JAVA_INT, ProgTestRun.ctx_size_out, (int) cout.byteSize());
            s.set(JAVA_LONG, ProgTestRun.ctx_in, cin.address());
            s.set(JAVA_LONG, ProgTestRun.ctx_out, cout.address());
            s.set(JAVA_INT, ProgTestRun.flags, flags);
            s.set(JAVA_INT, ProgTestRun.cpu, cpu);
            s.set(JAVA_INT, ProgTestRun.batch_size, batchSize);
            call(arena, BpfCmd.BPF_PROG_TEST_RUN, s);
            int dataOutSize = s.get(JAVA_INT, ProgTestRun.data_size_out);
            int ctxOutSize = s.get(JAVA_INT, ProgTestRun.ctx_size_out);
            byte[] dataOut = dout.byteSize() == 0 ? new byte[0]
                    : dout.asSlice(0, Math.min(dataOutSize, dout.byteSize())).toArray(JAVA_BYTE);
            byte[] ctxOut = cout.byteSize() == 0 ? new byte[0]
                    : cout.asSlice(0, Math.min(ctxOutSize, cout.byteSize())).toArray(JAVA_BYTE);
            return new TestRunResult(s.get(JAVA_INT, ProgTestRun.retval), s.get(JAVA_INT, ProgTestRun.duration),
                    dataOut, dataOutSize, ctxOut, ctxOutSize);
        }
    }

    private static MemorySegment copyIn(Arena arena, byte[] bytes) {
        if (bytes == null || bytes.length == 0) {
            return MemorySegment.NULL;
        }
        MemorySegment s = arena.allocate(bytes.length, 8);
        s.copyFrom(MemorySegment.ofArray(bytes));
        return s;
    }

    /** BPF_MAP_CREATE: a new map's fd. */
    public static Fd mapCreate(MapCreateAttr a) {
        StructLayout L = BpfAttr.MapCreate.LAYOUT;
        try (Arena arena = Arena.ofConfined();
             Fd.Held inner = holdOrNull(a.inner_map_fd());
             Fd.Held btf = holdOrNull(a.btf_fd())) {
            MemorySegment s = attr(arena, L);
            s.set(JAVA_INT, BpfAttr.MapCreate.map_type, a.map_type());
            s.set(JAVA_INT, BpfAttr.MapCreate.key_size, a.key_size());
            s.set(JAVA_INT, BpfAttr.MapCreate.value_size, a.value_size());
            s.set(JAVA_INT, BpfAttr.MapCreate.max_entries, a.max_entries());
            s.set(JAVA_INT, BpfAttr.MapCreate.map_flags, a.map_flags());
            s.set(JAVA_INT, BpfAttr.MapCreate.inner_map_fd, fdOf(inner));
            s.set(JAVA_INT, BpfAttr.MapCreate.numa_node, a.numa_node());
            if (a.map_name() != null) {
                byte[] name = a.map_name().getBytes(StandardCharsets.UTF_8);
                if (name.length > BPF_OBJ_NAME_LEN - 1) {
                    throw new IllegalArgumentException("map_name '" + a.map_name() + "' is longer than "
                            + (BPF_OBJ_NAME_LEN - 1) + " bytes");
                }
                MemorySegment.copy(name, 0, s, JAVA_BYTE, BpfAttr.MapCreate.map_name, name.length);
            }
            s.set(JAVA_INT, BpfAttr.MapCreate.map_ifindex, a.map_ifindex());
            s.set(JAVA_INT, BpfAttr.MapCreate.btf_fd, fdOf(btf));
            s.set(JAVA_INT, BpfAttr.MapCreate.btf_key_type_id, a.btf_key_type_id());
            s.set(JAVA_INT, BpfAttr.MapCreate.btf_value_type_id, a.btf_value_type_id());
            s.set(JAVA_LONG, BpfAttr.MapCreate.map_extra, a.map_extra());
            return new Fd((int) call(arena, BpfCmd.BPF_MAP_CREATE, s));
        }
    }

    /** BPF_MAP_LOOKUP_ELEM: the value, or null when the key is absent (ENOENT). */
    public static byte[] mapLookupElem(Fd map, byte[] key, int valueSize, long flags) {
        return elemOut(BpfCmd.BPF_MAP_LOOKUP_ELEM, map, key, valueSize, flags);
    }

    /**
     * BPF_MAP_LOOKUP_ELEM on a bloom filter: no key, and the value is read by the kernel, not written.
     * True when the value may be in the set, false when it surely is not (ENOENT).
     */
    public static boolean mapLookupElemValueIn(Fd map, byte[] value) {
        try (Arena arena = Arena.ofConfined(); Fd.Held h = map.hold()) {
            MemorySegment s = attr(arena, BpfAttr.MapElem.LAYOUT);
            s.set(JAVA_INT, BpfAttr.MapElem.map_fd, h.fd());
            s.set(JAVA_LONG, BpfAttr.MapElem.value, copyIn(arena, value).address());
            try {
                call(arena, BpfCmd.BPF_MAP_LOOKUP_ELEM, s);
                return true;
            } catch (KernelException.NotFound e) {
                return false;
            }
        }
    }

    /** BPF_MAP_LOOKUP_AND_DELETE_ELEM (queues and stacks with no key): the value, or null when empty/absent. */
    public static byte[] mapLookupAndDeleteElem(Fd map, byte[] key, int valueSize) {
        return elemOut(BpfCmd.BPF_MAP_LOOKUP_AND_DELETE_ELEM, map, key, valueSize, 0);
    }

    /** BPF_MAP_GET_NEXT_KEY: the key after key (the first key when key is null), or null at the end. */
    public static byte[] mapGetNextKey(Fd map, byte[] key, int keySize) {
        return elemOut(BpfCmd.BPF_MAP_GET_NEXT_KEY, map, key, keySize, 0);
    }

    private static byte[] elemOut(BpfCmd cmd, Fd map, byte[] key, int outSize, long flags) {
        try (Arena arena = Arena.ofConfined(); Fd.Held h = map.hold()) {
            MemorySegment s = attr(arena, BpfAttr.MapElem.LAYOUT);
            MemorySegment out = arena.allocate(Math.max(outSize, 1), 8);
            s.set(JAVA_INT, BpfAttr.MapElem.map_fd, h.fd());
            s.set(JAVA_LONG, BpfAttr.MapElem.key, copyIn(arena, key).address());
            s.set(JAVA_LONG, BpfAttr.MapElem.value, out.address());
            s.set(JAVA_LONG, BpfAttr.MapElem.flags, flags);
            try {
                call(arena, cmd, s);
            } catch (KernelException.NotFound e) {
                return null;
            }
            return out.asSlice(0, outSize).toArray(JAVA_BYTE);
        }
    }

    /** BPF_MAP_UPDATE_ELEM; key is null for a queue or stack push. */
    public static void mapUpdateElem(Fd map, byte[] key, byte[] value, long flags) {
        try (Arena arena = Arena.ofConfined(); Fd.Held h = map.hold()) {
            MemorySegment s = attr(arena, BpfAttr.MapElem.LAYOUT);
            s.set(JAVA_INT, BpfAttr.MapElem.map_fd, h.fd());
            s.set(JAVA_LONG, BpfAttr.MapElem.key, copyIn(arena, key).address());
            s.set(JAVA_LONG, BpfAttr.MapElem.value, copyIn(arena, value).address());
            s.set(JAVA_LONG, BpfAttr.MapElem.flags, flags);
            call(arena, BpfCmd.BPF_MAP_UPDATE_ELEM, s);
        }
    }

    /** BPF_MAP_DELETE_ELEM: false when the key was absent (ENOENT). */
    public static boolean mapDeleteElem(Fd map, byte[] key) {
        try (Arena arena = Arena.ofConfined(); Fd.Held h = map.hold()) {
            MemorySegment s = attr(arena, BpfAttr.MapElem.LAYOUT);
            s.set(JAVA_INT, BpfAttr.MapElem.map_fd, h.fd());
            s.set(JAVA_LONG, BpfAttr.MapElem.key, copyIn(arena, key).address());
            try {
                call(arena, BpfCmd.BPF_MAP_DELETE_ELEM, s);
                return true;
            } catch (KernelException.NotFound e) {
                return false;
            }
        }
    }

    /** BPF_MAP_FREEZE: no more writes from userspace. */
    public static void mapFreeze(Fd map) {
        try (Arena arena = Arena.ofConfined(); Fd.Held h = map.hold()) {
            MemorySegment s = attr(arena, BpfAttr.MapElem.LAYOUT);
            s.set(JAVA_INT, BpfAttr.MapElem.map_fd, h.fd());
            call(arena, BpfCmd.BPF_MAP_FREEZE, s);
        }
    }

    /**
     * One BPF_MAP_LOOKUP_BATCH: up to count entries after the position inBatch (null: the start).
     *
     * @param keys count × key_size bytes, filled
     * @param values count × value bytes (per-CPU: × possible CPUs, each rounded up to 8), filled
     * @param count how many entries came back
     * @param outBatch the position to pass as inBatch for the next call
     * @param done the map has no entries after these (the kernel said ENOENT)
     */
    public record BatchResult(byte[] keys, byte[] values, int count, byte[] outBatch, boolean done) {
    }

    /** BPF_MAP_LOOKUP_BATCH; batchSize is the position token's size (at least the key size). */
    public static BatchResult mapLookupBatch(Fd map, byte[] inBatch, int batchSize, int keySize, int valueSize,
                                             int count) {
        try (Arena arena = Arena.ofConfined(); Fd.Held h = map.hold()) {
            MemorySegment s = attr(arena, BpfAttr.MapBatch.LAYOUT);
            MemorySegment out = arena.allocate(batchSize, 8);
            MemorySegment keys = arena.allocate((long) keySize * count, 8);
            MemorySegment values = arena.allocate((long) valueSize * count, 8);
            s.set(JAVA_LONG, BpfAttr.MapBatch.in_batch, copyIn(arena, inBatch).address());
            s.set(JAVA_LONG, BpfAttr.MapBatch.out_batch, out.address());
            s.set(JAVA_LONG, BpfAttr.MapBatch.keys, keys.address());
            s.set(JAVA_LONG, BpfAttr.MapBatch.values, values.address());
            s.set(JAVA_INT, BpfAttr.MapBatch.count, count);
            s.set(JAVA_INT, BpfAttr.MapBatch.map_fd, h.fd());
            boolean done = false;
            try {
                call(arena, BpfCmd.BPF_MAP_LOOKUP_BATCH, s);
            } catch (KernelException.NotFound e) {
                done = true; // ENOENT: the last entries (maybe none) are in this answer
            }
            int n = s.get(JAVA_INT, BpfAttr.MapBatch.count);
            return new BatchResult(keys.asSlice(0, (long) keySize * n).toArray(JAVA_BYTE),
                    values.asSlice(0, (long) valueSize * n).toArray(JAVA_BYTE), n,
                    out.toArray(JAVA_BYTE), done);
        }
    }

    /**
     * BPF_MAP_UPDATE_BATCH: count entries (keys and values laid end to end) in one call.
     *
     * @return how many the kernel wrote (all of them unless it failed part way: then it throws, and
     *         the entries before the failing one are written)
     */
    public static int mapUpdateBatch(Fd map, byte[] keys, byte[] values, int count, long elemFlags) {
        try (Arena arena = Arena.ofConfined(); Fd.Held h = map.hold()) {
            MemorySegment s = attr(arena, BpfAttr.MapBatch.LAYOUT);
            s.set(JAVA_LONG, BpfAttr.MapBatch.keys, copyIn(arena, keys).address());
            s.set(JAVA_LONG, BpfAttr.MapBatch.values, copyIn(arena, values).address());
            s.set(JAVA_INT, BpfAttr.MapBatch.count, count);
            s.set(JAVA_INT, BpfAttr.MapBatch.map_fd, h.fd());
            s.set(JAVA_LONG, BpfAttr.MapBatch.elem_flags, elemFlags);
            call(arena, BpfCmd.BPF_MAP_UPDATE_BATCH, s);
            return s.get(JAVA_INT, BpfAttr.MapBatch.count);
        }
    }

    /** BPF_MAP_DELETE_BATCH: count keys in one call; ENOENT for a missing key stops it there. */
    public static int mapDeleteBatch(Fd map, byte[] keys, int count) {
        try (Arena arena = Arena.ofConfined(); Fd.Held h = map.hold()) {
            MemorySegment s = attr(arena, BpfAttr.MapBatch.LAYOUT);
            s.set(JAVA_LONG, BpfAttr.MapBatch.keys, copyIn(arena, keys).address());
            s.set(JAVA_INT, BpfAttr.MapBatch.count, count);
            s.set(JAVA_INT, BpfAttr.MapBatch.map_fd, h.fd());
            try {
                call(arena, BpfCmd.BPF_MAP_DELETE_BATCH, s);
            } catch (KernelException.NotFound e) {
                // a key that was not there: the ones before it were deleted; count says how many
            }
            return s.get(JAVA_INT, BpfAttr.MapBatch.count);
        }
    }

    /** BPF_OBJ_GET_INFO_BY_FD for a map. */
    public static BpfMapInfo mapInfo(Fd map) {
        try (Arena arena = Arena.ofConfined(); Fd.Held h = map.hold()) {
            MemorySegment s = attr(arena, BpfAttr.Info.LAYOUT);
            MemorySegment info = arena.allocate(BpfMapInfo.LAYOUT);
            info.fill((byte) 0);
            s.set(JAVA_INT, BpfAttr.Info.bpf_fd, h.fd());
            s.set(JAVA_INT, BpfAttr.Info.info_len, (int) BpfMapInfo.LAYOUT.byteSize());
            s.set(JAVA_LONG, BpfAttr.Info.info, info.address());
            call(arena, BpfCmd.BPF_OBJ_GET_INFO_BY_FD, s);
            return BpfMapInfo.read(info);
        }
    }

    /** BPF_OBJ_PIN: pin the object behind fd at a bpffs path. */
    public static void objPin(Fd fd, String pathname) {
        StructLayout L = Obj.LAYOUT;
        try (Arena arena = Arena.ofConfined(); Fd.Held h = fd.hold()) {
            MemorySegment s = attr(arena, L);
            s.set(JAVA_LONG, Obj.pathname, arena.allocateFrom(pathname).address());
            s.set(JAVA_INT, Obj.bpf_fd, h.fd());
            try {
                call(arena, BpfCmd.BPF_OBJ_PIN, s);
            } catch (KernelException e) {
                throw e.withContext(pathname);
            }
        }
    }

    /** BPF_OBJ_GET: open the object pinned at a bpffs path. */
    public static Fd objGet(String pathname) {
        StructLayout L = Obj.LAYOUT;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = attr(arena, L);
            s.set(JAVA_LONG, Obj.pathname, arena.allocateFrom(pathname).address());
            try {
                return new Fd((int) call(arena, BpfCmd.BPF_OBJ_GET, s));
            } catch (KernelException e) {
                throw e.withContext(pathname);
            }
        }
    }

    /** BPF_PROG_GET_NEXT_ID / BPF_LINK_GET_NEXT_ID: the next id after startId, or empty at the end. */
    public static OptionalInt getNextId(BpfCmd cmd, int startId) {
        StructLayout L = GetId.LAYOUT;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = attr(arena, L);
            s.set(JAVA_INT, GetId.start_id, startId);
            try {
                call(arena, cmd, s);
            } catch (KernelException e) {
                if (e.errno() == Errno.ENOENT) {
                    return OptionalInt.empty();
                }
                throw e;
            }
            return OptionalInt.of(s.get(JAVA_INT, GetId.next_id));
        }
    }

    /** BPF_PROG_GET_FD_BY_ID / BPF_LINK_GET_FD_BY_ID / BPF_BTF_GET_FD_BY_ID. */
    public static Fd getFdById(BpfCmd cmd, int id) {
        StructLayout L = GetId.LAYOUT;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = attr(arena, L);
            s.set(JAVA_INT, GetId.start_id, id);
            try {
                return new Fd((int) call(arena, cmd, s));
            } catch (KernelException e) {
                throw e.withContext("id " + id);
            }
        }
    }

    /** BPF_OBJ_GET_INFO_BY_FD for a program; map ids are fetched too when there are any. */
    public static BpfProgInfo progInfo(Fd prog) {
        try (Arena arena = Arena.ofConfined(); Fd.Held h = prog.hold()) {
            MemorySegment info = arena.allocate(BpfProgInfo.LAYOUT);
            info.fill((byte) 0);
            objGetInfoByFd(arena, h.fd(), info);
            int nrMaps = info.get(JAVA_INT, BpfProgInfo.off("nr_map_ids"));
            int[] mapIds = new int[0];
            if (nrMaps > 0) {
                MemorySegment ids = arena.allocate(JAVA_INT, nrMaps);
                info.fill((byte) 0);
                info.set(JAVA_INT, BpfProgInfo.off("nr_map_ids"), nrMaps);
                info.set(JAVA_LONG, BpfProgInfo.off("map_ids"), ids.address());
                objGetInfoByFd(arena, h.fd(), info);
                int got = Math.min(nrMaps, info.get(JAVA_INT, BpfProgInfo.off("nr_map_ids")));
                mapIds = ids.asSlice(0, (long) got * 4).toArray(JAVA_INT);
            }
            return BpfProgInfo.read(info, mapIds);
        }
    }

    /** The prog_id of a link: struct bpf_link_info's third u32 (type, id, prog_id). */
    public static int linkProgId(Fd link) {
        try (Arena arena = Arena.ofConfined(); Fd.Held h = link.hold()) {
            MemorySegment info = arena.allocate(16, 8);
            info.fill((byte) 0);
            objGetInfoByFd(arena, h.fd(), info);
            return info.get(JAVA_INT, 8);
        }
    }

    private static void objGetInfoByFd(Arena arena, int fd, MemorySegment info) {
        StructLayout L = Info.LAYOUT;
        MemorySegment s = attr(arena, L);
        s.set(JAVA_INT, Info.bpf_fd, fd);
        s.set(JAVA_INT, Info.info_len, (int) info.byteSize());
        s.set(JAVA_LONG, Info.info, info.address());
        call(arena, BpfCmd.BPF_OBJ_GET_INFO_BY_FD, s);
    }

    /** BPF_BTF_LOAD of raw BTF (a .BTF section). The kernel's BTF log, if any, is in the exception. */
    public static Fd btfLoad(byte[] btf) {
        StructLayout L = BtfLoad.LAYOUT;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = attr(arena, L);
            MemorySegment data = copyIn(arena, btf);
            int logSize = 64 * 1024;
            MemorySegment log = arena.allocate(logSize);
            s.set(JAVA_LONG, BtfLoad.btf, data.address());
            s.set(JAVA_INT, BtfLoad.btf_size, btf.length);
            try {
                return new Fd((int) call(arena, BpfCmd.BPF_BTF_LOAD, s));
            } catch (KernelException first) {
                // Ask again with a log, to say why.
                s.set(JAVA_LONG, BtfLoad.btf_log_buf, log.address());
                s.set(JAVA_INT, BtfLoad.btf_log_size, logSize);
                s.set(JAVA_INT, BtfLoad.btf_log_level, 1);
                try {
                    return new Fd((int) call(arena, BpfCmd.BPF_BTF_LOAD, s));
                } catch (KernelException e) {
                    throw e.withContext("BTF rejected: " + log.getString(0, StandardCharsets.UTF_8).strip());
                }
            }
        }
    }

    /** BPF_LINK_CREATE: attach prog to target (an fd, or an ifindex for XDP/tcx) at attachType. */
    public static Fd linkCreate(Fd prog, int target, int attachType, int flags) {
        return linkCreate(new LinkCreateAttr(prog, null, target, attachType, flags, null));
    }

    /** BPF_LINK_CREATE with the union member the attach type reads. */
    public static Fd linkCreate(LinkCreateAttr a) {
        StructLayout L = LinkCreate.LAYOUT;
        LinkCreateAttr.Tcx tcx = a.union() instanceof LinkCreateAttr.Tcx t ? t : null;
        LinkCreateAttr.Iter iter = a.union() instanceof LinkCreateAttr.Iter it ? it : null;
        try (Arena arena = Arena.ofConfined(); Fd.Held p = a.prog_fd().hold(); Fd.Held target = holdOrNull(a.target_fd());
             Fd.Held relative = holdOrNull(tcx != null ? tcx.relative_fd() : null);
             Fd.Held iterMap = holdOrNull(iter != null ? iter.map_fd() : null)) {
            MemorySegment s = attr(arena, L);
            s.set(JAVA_INT, LinkCreate.prog_fd, p.fd());
            s.set(JAVA_INT, LinkCreate.target_fd, target != null ? target.fd() : a.target_ifindex());
            s.set(JAVA_INT, LinkCreate.attach_type, a.attach_type());
            s.set(JAVA_INT, LinkCreate.flags, a.flags());
            switch (a.union()) {
                case LinkCreateAttr.None n -> {
                }
                case LinkCreateAttr.Tracing t -> s.set(JAVA_INT, LinkCreate.target_btf_id, t.target_btf_id());
                case LinkCreateAttr.PerfEvent pe -> s.set(JAVA_LONG, LinkCreate.bpf_cookie, pe.bpf_cookie());
                case LinkCreateAttr.Tcx t -> {
                    s.set(JAVA_INT, LinkCreate.tcx_relative_fd, relative != null ? relative.fd() : t.relative_id());
                    s.set(JAVA_LONG, LinkCreate.tcx_expected_revision, t.expected_revision());
                }
                case LinkCreateAttr.UprobeMulti u -> {
                    s.set(JAVA_LONG, LinkCreate.uprobe_multi_path, arena.allocateFrom(u.path()).address());
                    s.set(JAVA_LONG, LinkCreate.uprobe_multi_offsets, arena.allocateFrom(JAVA_LONG, u.offsets()).address());
                    if (u.cookies().length > 0) {
                        s.set(JAVA_LONG, LinkCreate.uprobe_multi_cookies,
                                arena.allocateFrom(JAVA_LONG, u.cookies()).address());
                    }
                    s.set(JAVA_INT, LinkCreate.uprobe_multi_cnt, u.offsets().length);
                    s.set(JAVA_INT, LinkCreate.uprobe_multi_flags, u.flags());
                    s.set(JAVA_INT, LinkCreate.uprobe_multi_pid, u.pid());
                }
                case LinkCreateAttr.KprobeMulti k -> {
                    MemorySegment syms = arena.allocate(JAVA_LONG, k.syms().length);
                    for (int i = 0; i < k.syms().length; i++) {
                        syms.setAtIndex(JAVA_LONG, i, arena.allocateFrom(k.syms()[i]).address());
                    }
                    s.set(JAVA_INT, LinkCreate.kprobe_multi_flags, k.flags());
                    s.set(JAVA_INT, LinkCreate.kprobe_multi_cnt, k.syms().length);
                    s.set(JAVA_LONG, LinkCreate.kprobe_multi_syms, syms.address());
                    if (k.cookies().length > 0) {
                        s.set(JAVA_LONG, LinkCreate.kprobe_multi_cookies,
                                arena.allocateFrom(JAVA_LONG, k.cookies()).address());
                    }
                }
                case LinkCreateAttr.Iter it -> {
                    if (iterMap != null) {
                        MemorySegment info = arena.allocate(16, 8); // union bpf_iter_link_info
                        info.fill((byte) 0);
                        info.set(JAVA_INT, 0, iterMap.fd());
                        s.set(JAVA_LONG, LinkCreate.iter_info, info.address());
                        s.set(JAVA_INT, LinkCreate.iter_info_len, 16);
                    }
                }
                case LinkCreateAttr.Netfilter nf -> {
                    s.set(JAVA_INT, LinkCreate.netfilter_pf, nf.pf());
                    s.set(JAVA_INT, LinkCreate.netfilter_hooknum, nf.hooknum());
                    s.set(JAVA_INT, LinkCreate.netfilter_priority, nf.priority());
                    s.set(JAVA_INT, LinkCreate.netfilter_flags, nf.flags());
                }
            }
            return new Fd((int) call(arena, BpfCmd.BPF_LINK_CREATE, s));
        }
    }

    /** BPF_RAW_TRACEPOINT_OPEN: a raw tracepoint link (a bpf_link since 5.8); name null for tp_btf/tracing. */
    public static Fd rawTracepointOpen(String name, Fd prog, long cookie) {
        StructLayout L = BpfAttr.RawTracepointOpen.LAYOUT;
        try (Arena arena = Arena.ofConfined(); Fd.Held p = prog.hold()) {
            MemorySegment s = attr(arena, L);
            s.set(JAVA_LONG, BpfAttr.RawTracepointOpen.name, name == null ? 0 : arena.allocateFrom(name).address());
            s.set(JAVA_INT, BpfAttr.RawTracepointOpen.prog_fd, p.fd());
            s.set(JAVA_LONG, BpfAttr.RawTracepointOpen.cookie, cookie);
            return new Fd((int) call(arena, BpfCmd.BPF_RAW_TRACEPOINT_OPEN, s));
        }
    }

    /** BPF_F_REPLACE for BPF_LINK_UPDATE: only if the link still runs old_prog_fd. */
    public static final int BPF_F_REPLACE = 1 << 2;

    /** BPF_LINK_UPDATE: the link now runs newProg; with oldProg, only if it ran that one (else EPERM). */
    public static void linkUpdate(Fd link, Fd newProg, Fd oldProg) {
        StructLayout L = BpfAttr.LinkUpdate.LAYOUT;
        try (Arena arena = Arena.ofConfined(); Fd.Held l = link.hold(); Fd.Held n = newProg.hold();
             Fd.Held o = holdOrNull(oldProg)) {
            MemorySegment s = attr(arena, L);
            s.set(JAVA_INT, BpfAttr.LinkUpdate.link_fd, l.fd());
            s.set(JAVA_INT, BpfAttr.LinkUpdate.new_prog_fd, n.fd());
            if (o != null) {
                s.set(JAVA_INT, BpfAttr.LinkUpdate.flags, BPF_F_REPLACE);
                s.set(JAVA_INT, BpfAttr.LinkUpdate.old_prog_fd, o.fd());
            }
            call(arena, BpfCmd.BPF_LINK_UPDATE, s);
        }
    }

    /** BPF_LINK_DETACH (5.9+): the link stops running its program now, though fds and pins of it remain. */
    public static void linkDetach(Fd link) {
        try (Arena arena = Arena.ofConfined(); Fd.Held l = link.hold()) {
            MemorySegment s = attr(arena, BpfAttr.LinkFd.LAYOUT);
            s.set(JAVA_INT, BpfAttr.LinkFd.link_fd, l.fd());
            call(arena, BpfCmd.BPF_LINK_DETACH, s);
        }
    }

    /**
     * struct bpf_btf_info's name and kernel_btf (1 for vmlinux and module BTF): "vmlinux", or the
     * module's name.
     */
    public record BtfInfo(int id, String name, boolean kernelBtf) {
    }

    /** BPF_OBJ_GET_INFO_BY_FD on a BTF object. */
    public static BtfInfo btfInfo(Fd btf) {
        try (Arena arena = Arena.ofConfined(); Fd.Held h = btf.hold()) {
            MemorySegment info = arena.allocate(40, 8); // btf, btf_size, id, name, name_len, kernel_btf
            info.fill((byte) 0);
            MemorySegment name = arena.allocate(64);
            name.fill((byte) 0);
            info.set(JAVA_LONG, 16, name.address());
            info.set(JAVA_INT, 24, 63);
            objGetInfoByFd(arena, h.fd(), info);
            return new BtfInfo(info.get(JAVA_INT, 12), name.getString(0, StandardCharsets.UTF_8),
                    info.get(JAVA_INT, 28) != 0);
        }
    }

    /** BPF_ITER_CREATE: an fd whose reads run an iterator link's program and return what it printed. */
    public static Fd iterCreate(Fd link) {
        try (Arena arena = Arena.ofConfined(); Fd.Held l = link.hold()) {
            MemorySegment s = attr(arena, BpfAttr.LinkFd.LAYOUT);
            s.set(JAVA_INT, BpfAttr.LinkFd.link_fd, l.fd());
            return new Fd((int) call(arena, BpfCmd.BPF_ITER_CREATE, s));
        }
    }

    /**
     * struct bpf_link_info's head: type, id, prog_id, and the first 16 bytes of its per-type union
     * (XDP: ifindex; tcx: ifindex, attach_type; cgroup: cgroup_id, attach_type; netns: netns_ino, attach_type).
     */
    public static BpfLinkInfo linkInfo(Fd link) {
        try (Arena arena = Arena.ofConfined(); Fd.Held h = link.hold()) {
            MemorySegment info = arena.allocate(BpfLinkInfo.SIZE, 8);
            info.fill((byte) 0);
            objGetInfoByFd(arena, h.fd(), info);
            return new BpfLinkInfo(info.get(JAVA_INT, 0), info.get(JAVA_INT, 4), info.get(JAVA_INT, 8),
                    info.get(JAVA_LONG, 16), info.get(JAVA_LONG, 24));
        }
    }

    /** BPF_ENABLE_STATS: while the returned fd is open the kernel counts run_cnt and run_time_ns. */
    public static Fd enableStats(int type) {
        StructLayout L = EnableStats.LAYOUT;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = attr(arena, L);
            s.set(JAVA_INT, EnableStats.type, type);
            return new Fd((int) call(arena, BpfCmd.BPF_ENABLE_STATS, s));
        }
    }

    /** BPF_F_ALLOW_MULTI for BPF_PROG_ATTACH: other programs may attach at the same cgroup hook too. */
    public static final int BPF_F_ALLOW_MULTI = 1 << 1;

    /** BPF_PROG_ATTACH: prog at target (a cgroup, a netns, a sockmap) for attachType, with attach_flags. */
    public static void progAttach(Fd target, Fd prog, int attachType, int attachFlags) {
        try (Arena arena = Arena.ofConfined(); Fd.Held t = target.hold(); Fd.Held p = prog.hold()) {
            MemorySegment s = attr(arena, BpfAttr.ProgAttach.LAYOUT);
            s.set(JAVA_INT, BpfAttr.ProgAttach.target_fd, t.fd());
            s.set(JAVA_INT, BpfAttr.ProgAttach.attach_bpf_fd, p.fd());
            s.set(JAVA_INT, BpfAttr.ProgAttach.attach_type, attachType);
            s.set(JAVA_INT, BpfAttr.ProgAttach.attach_flags, attachFlags);
            call(arena, BpfCmd.BPF_PROG_ATTACH, s);
        }
    }

    /** BPF_PROG_DETACH: that program (attached with BPF_F_ALLOW_MULTI) from target's attachType hook. */
    public static void progDetach(Fd target, Fd prog, int attachType) {
        try (Arena arena = Arena.ofConfined(); Fd.Held t = target.hold(); Fd.Held p = prog.hold()) {
            MemorySegment s = attr(arena, BpfAttr.ProgAttach.LAYOUT);
            s.set(JAVA_INT, BpfAttr.ProgAttach.target_fd, t.fd());
            s.set(JAVA_INT, BpfAttr.ProgAttach.attach_bpf_fd, p.fd());
            s.set(JAVA_INT, BpfAttr.ProgAttach.attach_type, attachType);
            call(arena, BpfCmd.BPF_PROG_DETACH, s);
        }
    }

    /** BPF_PROG_QUERY: the ids of the programs attached at target's attachType hook (at most max). */
    public static int[] progQuery(Fd target, int attachType, int max) {
        try (Arena arena = Arena.ofConfined(); Fd.Held t = target.hold()) {
            MemorySegment s = attr(arena, BpfAttr.Query.LAYOUT);
            MemorySegment ids = arena.allocate(JAVA_INT, Math.max(1, max));
            s.set(JAVA_INT, BpfAttr.Query.target_fd, t.fd());
            s.set(JAVA_INT, BpfAttr.Query.attach_type, attachType);
            s.set(JAVA_LONG, BpfAttr.Query.prog_ids, ids.address());
            s.set(JAVA_INT, BpfAttr.Query.prog_cnt, max);
            call(arena, BpfCmd.BPF_PROG_QUERY, s);
            int n = Math.min(max, s.get(JAVA_INT, BpfAttr.Query.prog_cnt));
            return ids.asSlice(0, 4L * n).toArray(JAVA_INT);
        }
    }

    /**
     * BPF_PROG_QUERY of an interface's hook (tcx: query.target_ifindex): the ids of its programs in the
     * order they run (at most max).
     */
    public static int[] progQueryIfindex(int ifindex, int attachType, int max) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = attr(arena, BpfAttr.Query.LAYOUT);
            MemorySegment ids = arena.allocate(JAVA_INT, Math.max(1, max));
            s.set(JAVA_INT, BpfAttr.Query.target_fd, ifindex); // the union's target_ifindex
            s.set(JAVA_INT, BpfAttr.Query.attach_type, attachType);
            s.set(JAVA_LONG, BpfAttr.Query.prog_ids, ids.address());
            s.set(JAVA_INT, BpfAttr.Query.prog_cnt, max);
            call(arena, BpfCmd.BPF_PROG_QUERY, s);
            int n = Math.min(max, s.get(JAVA_INT, BpfAttr.Query.prog_cnt));
            return ids.asSlice(0, 4L * n).toArray(JAVA_INT);
        }
    }

    /** What an iterator printed: its bytes, and whether reading stopped at the limit before its end. */
    public record IterOutput(byte[] data, boolean truncated) {
    }

    /**
     * BPF_ITER_CREATE on an iterator link, then read(2) until the end (each read runs the program over
     * the next objects) or until limit bytes; the iterator fd is closed after.
     */
    public static IterOutput iterRead(Fd link, int limit) {
        try (Fd it = iterCreate(link); Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(65536);
            java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
            while (true) {
                int n = LibC.read(it, buf);
                if (n == 0) {
                    return new IterOutput(out.toByteArray(), false);
                }
                int take = Math.min(n, limit - out.size());
                out.write(buf.asSlice(0, take).toArray(JAVA_BYTE), 0, take);
                if (out.size() >= limit) {
                    return new IterOutput(out.toByteArray(), true);
                }
            }
        }
    }
}
