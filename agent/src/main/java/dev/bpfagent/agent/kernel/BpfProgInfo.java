package dev.bpfagent.agent.kernel;

import static java.lang.foreign.MemoryLayout.sequenceLayout;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.nio.charset.StandardCharsets;

/**
 * struct bpf_prog_info, as BPF_OBJ_GET_INFO_BY_FD fills it. Field names are the kernel's.
 *
 * @param map_ids filled only when asked for (a second call with a buffer of nr_map_ids)
 */
public record BpfProgInfo(
        int type,
        int id,
        byte[] tag,
        int jited_prog_len,
        int xlated_prog_len,
        long load_time,
        int created_by_uid,
        int nr_map_ids,
        int[] map_ids,
        String name,
        int ifindex,
        boolean gpl_compatible,
        long netns_dev,
        long netns_ino,
        int btf_id,
        long run_time_ns,
        long run_cnt,
        long recursion_misses,
        int verified_insns,
        int attach_btf_obj_id,
        int attach_btf_id) {

    /** The layout up to attach_btf_id (kernel 6.0+ size: 232 bytes with its tail padding). */
    public static final StructLayout LAYOUT = MemoryLayout.structLayout(
            JAVA_INT.withName("type"),
            JAVA_INT.withName("id"),
            sequenceLayout(8, JAVA_BYTE).withName("tag"),
            JAVA_INT.withName("jited_prog_len"),
            JAVA_INT.withName("xlated_prog_len"),
            JAVA_LONG.withName("jited_prog_insns"),
            JAVA_LONG.withName("xlated_prog_insns"),
            JAVA_LONG.withName("load_time"),
            JAVA_INT.withName("created_by_uid"),
            JAVA_INT.withName("nr_map_ids"),
            JAVA_LONG.withName("map_ids"),
            sequenceLayout(16, JAVA_BYTE).withName("name"),
            JAVA_INT.withName("ifindex"),
            JAVA_INT.withName("gpl_compatible"), // bit 0; the other 31 bits are unused
            JAVA_LONG.withName("netns_dev"),
            JAVA_LONG.withName("netns_ino"),
            JAVA_INT.withName("nr_jited_ksyms"),
            JAVA_INT.withName("nr_jited_func_lens"),
            JAVA_LONG.withName("jited_ksyms"),
            JAVA_LONG.withName("jited_func_lens"),
            JAVA_INT.withName("btf_id"),
            JAVA_INT.withName("func_info_rec_size"),
            JAVA_LONG.withName("func_info"),
            JAVA_INT.withName("nr_func_info"),
            JAVA_INT.withName("nr_line_info"),
            JAVA_LONG.withName("line_info"),
            JAVA_LONG.withName("jited_line_info"),
            JAVA_INT.withName("nr_jited_line_info"),
            JAVA_INT.withName("line_info_rec_size"),
            JAVA_INT.withName("jited_line_info_rec_size"),
            JAVA_INT.withName("nr_prog_tags"),
            JAVA_LONG.withName("prog_tags"),
            JAVA_LONG.withName("run_time_ns"),
            JAVA_LONG.withName("run_cnt"),
            JAVA_LONG.withName("recursion_misses"),
            JAVA_INT.withName("verified_insns"),
            JAVA_INT.withName("attach_btf_obj_id"),
            JAVA_INT.withName("attach_btf_id"),
            MemoryLayout.paddingLayout(4));

    static BpfProgInfo read(MemorySegment s, int[] mapIds) {
        byte[] tag = s.asSlice(off("tag"), 8).toArray(JAVA_BYTE);
        return new BpfProgInfo(
                s.get(JAVA_INT, off("type")),
                s.get(JAVA_INT, off("id")),
                tag,
                s.get(JAVA_INT, off("jited_prog_len")),
                s.get(JAVA_INT, off("xlated_prog_len")),
                s.get(JAVA_LONG, off("load_time")),
                s.get(JAVA_INT, off("created_by_uid")),
                s.get(JAVA_INT, off("nr_map_ids")),
                mapIds,
                cString(s.asSlice(off("name"), 16)),
                s.get(JAVA_INT, off("ifindex")),
                (s.get(JAVA_INT, off("gpl_compatible")) & 1) != 0,
                s.get(JAVA_LONG, off("netns_dev")),
                s.get(JAVA_LONG, off("netns_ino")),
                s.get(JAVA_INT, off("btf_id")),
                s.get(JAVA_LONG, off("run_time_ns")),
                s.get(JAVA_LONG, off("run_cnt")),
                s.get(JAVA_LONG, off("recursion_misses")),
                s.get(JAVA_INT, off("verified_insns")),
                s.get(JAVA_INT, off("attach_btf_obj_id")),
                s.get(JAVA_INT, off("attach_btf_id")));
    }

    /** Field offsets, computed once: read() needs twenty of them per call. */
    private static final java.util.Map<String, Long> OFFSETS = LAYOUT.memberLayouts().stream()
            .filter(l -> l.name().isPresent())
            .collect(java.util.stream.Collectors.toUnmodifiableMap(l -> l.name().get(),
                    l -> LAYOUT.byteOffset(MemoryLayout.PathElement.groupElement(l.name().get()))));

    static long off(String field) {
        Long o = OFFSETS.get(field);
        if (o == null) {
            throw new IllegalArgumentException("struct bpf_prog_info has no field " + field);
        }
        return o;
    }

    static String cString(MemorySegment bytes) {
        byte[] b = bytes.toArray(JAVA_BYTE);
        int n = 0;
        while (n < b.length && b[n] != 0) {
            n++;
        }
        return new String(b, 0, n, StandardCharsets.UTF_8);
    }

    /** The tag as bpftool prints it: 16 lowercase hex digits. */
    public String tagHex() {
        StringBuilder sb = new StringBuilder(16);
        for (byte b : tag) {
            sb.append(String.format("%02x", b & 0xff));
        }
        return sb.toString();
    }
}
