package dev.bpfagent.agent.kernel;

import static java.lang.foreign.MemoryLayout.paddingLayout;
import static java.lang.foreign.MemoryLayout.sequenceLayout;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;

/** struct bpf_map_info, as BPF_OBJ_GET_INFO_BY_FD fills it. Field names are the kernel's. */
public record BpfMapInfo(
        int type,
        int id,
        int key_size,
        int value_size,
        int max_entries,
        int map_flags,
        String name,
        int ifindex,
        int btf_id,
        int btf_key_type_id,
        int btf_value_type_id,
        long map_extra) {

    /** Up to map_extra (5.16+): 88 bytes. */
    public static final StructLayout LAYOUT = MemoryLayout.structLayout(
            JAVA_INT.withName("type"),
            JAVA_INT.withName("id"),
            JAVA_INT.withName("key_size"),
            JAVA_INT.withName("value_size"),
            JAVA_INT.withName("max_entries"),
            JAVA_INT.withName("map_flags"),
            sequenceLayout(16, JAVA_BYTE).withName("name"),
            JAVA_INT.withName("ifindex"),
            JAVA_INT.withName("btf_vmlinux_value_type_id"),
            JAVA_LONG.withName("netns_dev"),
            JAVA_LONG.withName("netns_ino"),
            JAVA_INT.withName("btf_id"),
            JAVA_INT.withName("btf_key_type_id"),
            JAVA_INT.withName("btf_value_type_id"),
            paddingLayout(4), // btf_vmlinux_id (6.x)
            JAVA_LONG.withName("map_extra"));

    static long off(String field) {
        return LAYOUT.byteOffset(MemoryLayout.PathElement.groupElement(field));
    }

    static BpfMapInfo read(MemorySegment s) {
        return new BpfMapInfo(
                s.get(JAVA_INT, off("type")),
                s.get(JAVA_INT, off("id")),
                s.get(JAVA_INT, off("key_size")),
                s.get(JAVA_INT, off("value_size")),
                s.get(JAVA_INT, off("max_entries")),
                s.get(JAVA_INT, off("map_flags")),
                BpfProgInfo.cString(s.asSlice(off("name"), 16)),
                s.get(JAVA_INT, off("ifindex")),
                s.get(JAVA_INT, off("btf_id")),
                s.get(JAVA_INT, off("btf_key_type_id")),
                s.get(JAVA_INT, off("btf_value_type_id")),
                s.get(JAVA_LONG, off("map_extra")));
    }
}
