package dev.bpfagent.agent.kernel;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;
import static java.lang.foreign.MemoryLayout.paddingLayout;
import static java.lang.foreign.MemoryLayout.sequenceLayout;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.StructLayout;

/**
 * union bpf_attr, one layout per command, field names exactly as in include/uapi/linux/bpf.h.
 * {@code __aligned_u64} pointers are JAVA_LONG holding a native address. Each layout's offsets are
 * checked against the kernel header in BpfAttrTest.
 *
 * <p>The kernel accepts a shorter attr from older userspace and rejects non-zero bytes it does not
 * know, so each layout stops at the last field the agent uses; newer kernels read the rest as zero.
 */
public final class BpfAttr {
    private BpfAttr() {
    }

    /** BPF_PROG_LOAD. log_true_size appeared in 6.4; older kernels reject nothing we leave at 0. */
    public static final StructLayout PROG_LOAD = struct(
            JAVA_INT.withName("prog_type"),
            JAVA_INT.withName("insn_cnt"),
            JAVA_LONG.withName("insns"),
            JAVA_LONG.withName("license"),
            JAVA_INT.withName("log_level"),
            JAVA_INT.withName("log_size"),
            JAVA_LONG.withName("log_buf"),
            JAVA_INT.withName("kern_version"),
            JAVA_INT.withName("prog_flags"),
            sequenceLayout(16, JAVA_BYTE).withName("prog_name"),
            JAVA_INT.withName("prog_ifindex"),
            JAVA_INT.withName("expected_attach_type"),
            JAVA_INT.withName("prog_btf_fd"),
            JAVA_INT.withName("func_info_rec_size"),
            JAVA_LONG.withName("func_info"),
            JAVA_INT.withName("func_info_cnt"),
            JAVA_INT.withName("line_info_rec_size"),
            JAVA_LONG.withName("line_info"),
            JAVA_INT.withName("line_info_cnt"),
            JAVA_INT.withName("attach_btf_id"),
            JAVA_INT.withName("attach_prog_fd"), // union with attach_btf_obj_fd
            JAVA_INT.withName("core_relo_cnt"),
            JAVA_LONG.withName("fd_array"),
            JAVA_LONG.withName("core_relos"),
            JAVA_INT.withName("core_relo_rec_size"),
            JAVA_INT.withName("log_true_size"));

    /** BPF_PROG_TEST_RUN (attr.test). */
    public static final StructLayout PROG_TEST_RUN = struct(
            JAVA_INT.withName("prog_fd"),
            JAVA_INT.withName("retval"),
            JAVA_INT.withName("data_size_in"),
            JAVA_INT.withName("data_size_out"),
            JAVA_LONG.withName("data_in"),
            JAVA_LONG.withName("data_out"),
            JAVA_INT.withName("repeat"),
            JAVA_INT.withName("duration"),
            JAVA_INT.withName("ctx_size_in"),
            JAVA_INT.withName("ctx_size_out"),
            JAVA_LONG.withName("ctx_in"),
            JAVA_LONG.withName("ctx_out"),
            JAVA_INT.withName("flags"),
            JAVA_INT.withName("cpu"),
            JAVA_INT.withName("batch_size"),
            paddingLayout(4));

    /** BPF_OBJ_PIN and BPF_OBJ_GET. */
    public static final StructLayout OBJ = struct(
            JAVA_LONG.withName("pathname"),
            JAVA_INT.withName("bpf_fd"),
            JAVA_INT.withName("file_flags"));

    /** BPF_*_GET_NEXT_ID and BPF_*_GET_FD_BY_ID; start_id shares its place with prog_id, link_id, btf_id. */
    public static final StructLayout GET_ID = struct(
            JAVA_INT.withName("start_id"),
            JAVA_INT.withName("next_id"),
            JAVA_INT.withName("open_flags"));

    /** BPF_OBJ_GET_INFO_BY_FD (attr.info). */
    public static final StructLayout INFO = struct(
            JAVA_INT.withName("bpf_fd"),
            JAVA_INT.withName("info_len"),
            JAVA_LONG.withName("info"));

    /** BPF_BTF_LOAD. */
    public static final StructLayout BTF_LOAD = struct(
            JAVA_LONG.withName("btf"),
            JAVA_LONG.withName("btf_log_buf"),
            JAVA_INT.withName("btf_size"),
            JAVA_INT.withName("btf_log_size"),
            JAVA_INT.withName("btf_log_level"),
            JAVA_INT.withName("btf_log_true_size"));

    /** BPF_LINK_CREATE (attr.link_create), the part every attach type shares. */
    public static final StructLayout LINK_CREATE = struct(
            JAVA_INT.withName("prog_fd"),
            JAVA_INT.withName("target_fd"), // union with target_ifindex
            JAVA_INT.withName("attach_type"),
            JAVA_INT.withName("flags"));

    /** BPF_ENABLE_STATS (attr.enable_stats). */
    public static final StructLayout ENABLE_STATS = struct(JAVA_INT.withName("type"));

    /** Byte offset of a named field. */
    public static long offset(StructLayout layout, String field) {
        return layout.byteOffset(groupElement(field));
    }

    private static StructLayout struct(java.lang.foreign.MemoryLayout... fields) {
        return java.lang.foreign.MemoryLayout.structLayout(fields);
    }
}
