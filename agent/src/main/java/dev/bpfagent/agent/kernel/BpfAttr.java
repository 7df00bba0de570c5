package dev.bpfagent.agent.kernel;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;
import static java.lang.foreign.MemoryLayout.paddingLayout;
import static java.lang.foreign.MemoryLayout.sequenceLayout;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.StructLayout;

/**
 * union bpf_attr, one nested class per command, field names exactly as in include/uapi/linux/bpf.h.
 * Each class has the command's LAYOUT and one byte-offset constant per field, computed once from it,
 * so {@code s.set(JAVA_INT, ProgLoad.prog_type, v)} reads like the C. {@code __aligned_u64} pointers
 * are JAVA_LONG holding a native address. LayoutTest checks the offsets against the kernel header.
 *
 * <p>The kernel accepts a shorter attr from older userspace and rejects non-zero bytes it does not
 * know, so each layout stops at the last field the agent uses; newer kernels read the rest as zero.
 */
public final class BpfAttr {
    private BpfAttr() {
    }

    /** BPF_MAP_CREATE, up to map_extra (5.16+; older kernels read only the fields before it). */
    public static final class MapCreate {
        private MapCreate() {
        }

        public static final StructLayout LAYOUT = MemoryLayout.structLayout(
                JAVA_INT.withName("map_type"),
                JAVA_INT.withName("key_size"),
                JAVA_INT.withName("value_size"),
                JAVA_INT.withName("max_entries"),
                JAVA_INT.withName("map_flags"),
                JAVA_INT.withName("inner_map_fd"),
                JAVA_INT.withName("numa_node"),
                sequenceLayout(16, JAVA_BYTE).withName("map_name"),
                JAVA_INT.withName("map_ifindex"),
                JAVA_INT.withName("btf_fd"),
                JAVA_INT.withName("btf_key_type_id"),
                JAVA_INT.withName("btf_value_type_id"),
                JAVA_INT.withName("btf_vmlinux_value_type_id"),
                JAVA_LONG.withName("map_extra"));

        public static final long map_type = offset(LAYOUT, "map_type");
        public static final long key_size = offset(LAYOUT, "key_size");
        public static final long value_size = offset(LAYOUT, "value_size");
        public static final long max_entries = offset(LAYOUT, "max_entries");
        public static final long map_flags = offset(LAYOUT, "map_flags");
        public static final long inner_map_fd = offset(LAYOUT, "inner_map_fd");
        public static final long numa_node = offset(LAYOUT, "numa_node");
        public static final long map_name = offset(LAYOUT, "map_name");
        public static final long map_ifindex = offset(LAYOUT, "map_ifindex");
        public static final long btf_fd = offset(LAYOUT, "btf_fd");
        public static final long btf_key_type_id = offset(LAYOUT, "btf_key_type_id");
        public static final long btf_value_type_id = offset(LAYOUT, "btf_value_type_id");
        public static final long btf_vmlinux_value_type_id = offset(LAYOUT, "btf_vmlinux_value_type_id");
        public static final long map_extra = offset(LAYOUT, "map_extra");
    }

    /**
     * BPF_MAP_LOOKUP_ELEM, _UPDATE_ELEM, _DELETE_ELEM, _GET_NEXT_KEY, _LOOKUP_AND_DELETE_ELEM,
     * _FREEZE: map_fd, key, then value (next_key for GET_NEXT_KEY), flags.
     */
    public static final class MapElem {
        private MapElem() {
        }

        public static final StructLayout LAYOUT = MemoryLayout.structLayout(
                JAVA_INT.withName("map_fd"),
                paddingLayout(4),
                JAVA_LONG.withName("key"),
                JAVA_LONG.withName("value"), // union with next_key
                JAVA_LONG.withName("flags"));

        public static final long map_fd = offset(LAYOUT, "map_fd");
        public static final long key = offset(LAYOUT, "key");
        public static final long value = offset(LAYOUT, "value");
        public static final long next_key = value;
        public static final long flags = offset(LAYOUT, "flags");
    }

    /** BPF_MAP_*_BATCH (5.6+). */
    public static final class MapBatch {
        private MapBatch() {
        }

        public static final StructLayout LAYOUT = MemoryLayout.structLayout(
                JAVA_LONG.withName("in_batch"),
                JAVA_LONG.withName("out_batch"),
                JAVA_LONG.withName("keys"),
                JAVA_LONG.withName("values"),
                JAVA_INT.withName("count"),
                JAVA_INT.withName("map_fd"),
                JAVA_LONG.withName("elem_flags"),
                JAVA_LONG.withName("flags"));

        public static final long in_batch = offset(LAYOUT, "in_batch");
        public static final long out_batch = offset(LAYOUT, "out_batch");
        public static final long keys = offset(LAYOUT, "keys");
        public static final long values = offset(LAYOUT, "values");
        public static final long count = offset(LAYOUT, "count");
        public static final long map_fd = offset(LAYOUT, "map_fd");
        public static final long elem_flags = offset(LAYOUT, "elem_flags");
        public static final long flags = offset(LAYOUT, "flags");
    }

    /** BPF_PROG_LOAD. log_true_size appeared in 6.4; older kernels reject nothing we leave at 0. */
    public static final class ProgLoad {
        private ProgLoad() {
        }

        public static final StructLayout LAYOUT = MemoryLayout.structLayout(
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

        public static final long prog_type = offset(LAYOUT, "prog_type");
        public static final long insn_cnt = offset(LAYOUT, "insn_cnt");
        public static final long insns = offset(LAYOUT, "insns");
        public static final long license = offset(LAYOUT, "license");
        public static final long log_level = offset(LAYOUT, "log_level");
        public static final long log_size = offset(LAYOUT, "log_size");
        public static final long log_buf = offset(LAYOUT, "log_buf");
        public static final long kern_version = offset(LAYOUT, "kern_version");
        public static final long prog_flags = offset(LAYOUT, "prog_flags");
        public static final long prog_name = offset(LAYOUT, "prog_name");
        public static final long prog_ifindex = offset(LAYOUT, "prog_ifindex");
        public static final long expected_attach_type = offset(LAYOUT, "expected_attach_type");
        public static final long prog_btf_fd = offset(LAYOUT, "prog_btf_fd");
        public static final long func_info_rec_size = offset(LAYOUT, "func_info_rec_size");
        public static final long func_info = offset(LAYOUT, "func_info");
        public static final long func_info_cnt = offset(LAYOUT, "func_info_cnt");
        public static final long line_info_rec_size = offset(LAYOUT, "line_info_rec_size");
        public static final long line_info = offset(LAYOUT, "line_info");
        public static final long line_info_cnt = offset(LAYOUT, "line_info_cnt");
        public static final long attach_btf_id = offset(LAYOUT, "attach_btf_id");
        public static final long attach_prog_fd = offset(LAYOUT, "attach_prog_fd");
        public static final long core_relo_cnt = offset(LAYOUT, "core_relo_cnt");
        public static final long fd_array = offset(LAYOUT, "fd_array");
        public static final long core_relos = offset(LAYOUT, "core_relos");
        public static final long core_relo_rec_size = offset(LAYOUT, "core_relo_rec_size");
        public static final long log_true_size = offset(LAYOUT, "log_true_size");
    }

    /** BPF_PROG_TEST_RUN (attr.test). */
    public static final class ProgTestRun {
        private ProgTestRun() {
        }

        public static final StructLayout LAYOUT = MemoryLayout.structLayout(
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

        public static final long prog_fd = offset(LAYOUT, "prog_fd");
        public static final long retval = offset(LAYOUT, "retval");
        public static final long data_size_in = offset(LAYOUT, "data_size_in");
        public static final long data_size_out = offset(LAYOUT, "data_size_out");
        public static final long data_in = offset(LAYOUT, "data_in");
        public static final long data_out = offset(LAYOUT, "data_out");
        public static final long repeat = offset(LAYOUT, "repeat");
        public static final long duration = offset(LAYOUT, "duration");
        public static final long ctx_size_in = offset(LAYOUT, "ctx_size_in");
        public static final long ctx_size_out = offset(LAYOUT, "ctx_size_out");
        public static final long ctx_in = offset(LAYOUT, "ctx_in");
        public static final long ctx_out = offset(LAYOUT, "ctx_out");
        public static final long flags = offset(LAYOUT, "flags");
        public static final long cpu = offset(LAYOUT, "cpu");
        public static final long batch_size = offset(LAYOUT, "batch_size");
    }

    /** BPF_OBJ_PIN and BPF_OBJ_GET. */
    public static final class Obj {
        private Obj() {
        }

        public static final StructLayout LAYOUT = MemoryLayout.structLayout(
                JAVA_LONG.withName("pathname"),
                JAVA_INT.withName("bpf_fd"),
                JAVA_INT.withName("file_flags"));

        public static final long pathname = offset(LAYOUT, "pathname");
        public static final long bpf_fd = offset(LAYOUT, "bpf_fd");
        public static final long file_flags = offset(LAYOUT, "file_flags");
    }

    /** BPF_*_GET_NEXT_ID and BPF_*_GET_FD_BY_ID; start_id shares its place with prog_id, link_id, btf_id. */
    public static final class GetId {
        private GetId() {
        }

        public static final StructLayout LAYOUT = MemoryLayout.structLayout(
                JAVA_INT.withName("start_id"),
                JAVA_INT.withName("next_id"),
                JAVA_INT.withName("open_flags"));

        public static final long start_id = offset(LAYOUT, "start_id");
        public static final long next_id = offset(LAYOUT, "next_id");
        public static final long open_flags = offset(LAYOUT, "open_flags");
    }

    /** BPF_OBJ_GET_INFO_BY_FD (attr.info). */
    public static final class Info {
        private Info() {
        }

        public static final StructLayout LAYOUT = MemoryLayout.structLayout(
                JAVA_INT.withName("bpf_fd"),
                JAVA_INT.withName("info_len"),
                JAVA_LONG.withName("info"));

        public static final long bpf_fd = offset(LAYOUT, "bpf_fd");
        public static final long info_len = offset(LAYOUT, "info_len");
        public static final long info = offset(LAYOUT, "info");
    }

    /** BPF_BTF_LOAD. */
    public static final class BtfLoad {
        private BtfLoad() {
        }

        public static final StructLayout LAYOUT = MemoryLayout.structLayout(
                JAVA_LONG.withName("btf"),
                JAVA_LONG.withName("btf_log_buf"),
                JAVA_INT.withName("btf_size"),
                JAVA_INT.withName("btf_log_size"),
                JAVA_INT.withName("btf_log_level"),
                JAVA_INT.withName("btf_log_true_size"));

        public static final long btf = offset(LAYOUT, "btf");
        public static final long btf_log_buf = offset(LAYOUT, "btf_log_buf");
        public static final long btf_size = offset(LAYOUT, "btf_size");
        public static final long btf_log_size = offset(LAYOUT, "btf_log_size");
        public static final long btf_log_level = offset(LAYOUT, "btf_log_level");
        public static final long btf_log_true_size = offset(LAYOUT, "btf_log_true_size");
    }

    /**
     * BPF_LINK_CREATE (attr.link_create): the part every attach type shares, then the union after it, of
     * which each attach type reads its own member: target_btf_id (tracing), perf_event.bpf_cookie,
     * tcx.relative_fd / expected_revision (6.6+), netfilter.pf / hooknum / priority / flags (6.4+),
     * iter_info / iter_info_len (iterators).
     */
    public static final class LinkCreate {
        private LinkCreate() {
        }

        public static final StructLayout LAYOUT = MemoryLayout.structLayout(
                JAVA_INT.withName("prog_fd"),
                JAVA_INT.withName("target_fd"), // union with target_ifindex
                JAVA_INT.withName("attach_type"),
                JAVA_INT.withName("flags"),
                MemoryLayout.unionLayout(
                        JAVA_INT.withName("target_btf_id"),
                        JAVA_LONG.withName("bpf_cookie"), // perf_event
                        MemoryLayout.structLayout(
                                JAVA_INT.withName("relative_fd"), // union with relative_id
                                paddingLayout(4),
                                JAVA_LONG.withName("expected_revision")).withName("tcx"),
                        MemoryLayout.structLayout(
                                JAVA_INT.withName("pf"),
                                JAVA_INT.withName("hooknum"),
                                JAVA_INT.withName("priority"),
                                JAVA_INT.withName("flags")).withName("netfilter"),
                        MemoryLayout.structLayout(
                                JAVA_LONG.withName("iter_info"),
                                JAVA_INT.withName("iter_info_len"),
                                paddingLayout(4)).withName("iter"),
                        MemoryLayout.structLayout(
                                JAVA_LONG.withName("path"),
                                JAVA_LONG.withName("offsets"),
                                JAVA_LONG.withName("ref_ctr_offsets"),
                                JAVA_LONG.withName("cookies"),
                                JAVA_INT.withName("cnt"),
                                JAVA_INT.withName("flags"),
                                JAVA_INT.withName("pid"),
                                paddingLayout(4)).withName("uprobe_multi"),
                        MemoryLayout.structLayout(
                                JAVA_INT.withName("flags"),
                                JAVA_INT.withName("cnt"),
                                JAVA_LONG.withName("syms"),
                                JAVA_LONG.withName("addrs"),
                                JAVA_LONG.withName("cookies")).withName("kprobe_multi")).withName("u"));

        public static final long prog_fd = offset(LAYOUT, "prog_fd");
        public static final long target_fd = offset(LAYOUT, "target_fd");
        public static final long attach_type = offset(LAYOUT, "attach_type");
        public static final long flags = offset(LAYOUT, "flags");
        public static final long target_btf_id = LAYOUT.byteOffset(groupElement("u"), groupElement("target_btf_id"));
        public static final long bpf_cookie = LAYOUT.byteOffset(groupElement("u"), groupElement("bpf_cookie"));
        public static final long tcx_relative_fd = LAYOUT.byteOffset(groupElement("u"), groupElement("tcx"),
                groupElement("relative_fd"));
        public static final long tcx_expected_revision = LAYOUT.byteOffset(groupElement("u"), groupElement("tcx"),
                groupElement("expected_revision"));
        public static final long netfilter_pf = LAYOUT.byteOffset(groupElement("u"), groupElement("netfilter"),
                groupElement("pf"));
        public static final long netfilter_hooknum = LAYOUT.byteOffset(groupElement("u"), groupElement("netfilter"),
                groupElement("hooknum"));
        public static final long netfilter_priority = LAYOUT.byteOffset(groupElement("u"), groupElement("netfilter"),
                groupElement("priority"));
        public static final long netfilter_flags = LAYOUT.byteOffset(groupElement("u"), groupElement("netfilter"),
                groupElement("flags"));
        public static final long uprobe_multi_path = uprobeMulti("path");
        public static final long uprobe_multi_offsets = uprobeMulti("offsets");
        public static final long uprobe_multi_cookies = uprobeMulti("cookies");
        public static final long uprobe_multi_cnt = uprobeMulti("cnt");
        public static final long uprobe_multi_flags = uprobeMulti("flags");
        public static final long uprobe_multi_pid = uprobeMulti("pid");

        public static final long kprobe_multi_flags = kprobeMulti("flags");
        public static final long kprobe_multi_cnt = kprobeMulti("cnt");
        public static final long kprobe_multi_syms = kprobeMulti("syms");
        public static final long kprobe_multi_cookies = kprobeMulti("cookies");

        private static long kprobeMulti(String field) {
            return LAYOUT.byteOffset(groupElement("u"), groupElement("kprobe_multi"), groupElement(field));
        }

        private static long uprobeMulti(String field) {
            return LAYOUT.byteOffset(groupElement("u"), groupElement("uprobe_multi"), groupElement(field));
        }

        public static final long iter_info = LAYOUT.byteOffset(groupElement("u"), groupElement("iter"),
                groupElement("iter_info"));
        public static final long iter_info_len = LAYOUT.byteOffset(groupElement("u"), groupElement("iter"),
                groupElement("iter_info_len"));
    }

    /** BPF_RAW_TRACEPOINT_OPEN (attr.raw_tracepoint); cookie is 6.10+. */
    public static final class RawTracepointOpen {
        private RawTracepointOpen() {
        }

        public static final StructLayout LAYOUT = MemoryLayout.structLayout(
                JAVA_LONG.withName("name"),
                JAVA_INT.withName("prog_fd"),
                paddingLayout(4),
                JAVA_LONG.withName("cookie"));

        public static final long name = offset(LAYOUT, "name");
        public static final long prog_fd = offset(LAYOUT, "prog_fd");
        public static final long cookie = offset(LAYOUT, "cookie");
    }

    /** BPF_LINK_UPDATE (attr.link_update). */
    public static final class LinkUpdate {
        private LinkUpdate() {
        }

        public static final StructLayout LAYOUT = MemoryLayout.structLayout(
                JAVA_INT.withName("link_fd"),
                JAVA_INT.withName("new_prog_fd"),
                JAVA_INT.withName("flags"),
                JAVA_INT.withName("old_prog_fd"));

        public static final long link_fd = offset(LAYOUT, "link_fd");
        public static final long new_prog_fd = offset(LAYOUT, "new_prog_fd");
        public static final long flags = offset(LAYOUT, "flags");
        public static final long old_prog_fd = offset(LAYOUT, "old_prog_fd");
    }

    /** BPF_LINK_DETACH (attr.link_detach) and BPF_ITER_CREATE (attr.iter_create): a link fd, then flags. */
    public static final class LinkFd {
        private LinkFd() {
        }

        public static final StructLayout LAYOUT = MemoryLayout.structLayout(
                JAVA_INT.withName("link_fd"),
                JAVA_INT.withName("flags"));

        public static final long link_fd = offset(LAYOUT, "link_fd");
        public static final long flags = offset(LAYOUT, "flags");
    }

    /** BPF_PROG_ATTACH and BPF_PROG_DETACH (the anonymous struct they share), up to replace_bpf_fd. */
    public static final class ProgAttach {
        private ProgAttach() {
        }

        public static final StructLayout LAYOUT = MemoryLayout.structLayout(
                JAVA_INT.withName("target_fd"),
                JAVA_INT.withName("attach_bpf_fd"),
                JAVA_INT.withName("attach_type"),
                JAVA_INT.withName("attach_flags"),
                JAVA_INT.withName("replace_bpf_fd"));

        public static final long target_fd = offset(LAYOUT, "target_fd");
        public static final long attach_bpf_fd = offset(LAYOUT, "attach_bpf_fd");
        public static final long attach_type = offset(LAYOUT, "attach_type");
        public static final long attach_flags = offset(LAYOUT, "attach_flags");
        public static final long replace_bpf_fd = offset(LAYOUT, "replace_bpf_fd");
    }

    /** BPF_PROG_QUERY (attr.query), up to prog_cnt. */
    public static final class Query {
        private Query() {
        }

        public static final StructLayout LAYOUT = MemoryLayout.structLayout(
                JAVA_INT.withName("target_fd"),
                JAVA_INT.withName("attach_type"),
                JAVA_INT.withName("query_flags"),
                JAVA_INT.withName("attach_flags"),
                JAVA_LONG.withName("prog_ids"),
                JAVA_INT.withName("prog_cnt"),
                paddingLayout(4),
                // 6.6+ (tcx, bpf_mprog): the kernel writes revision back whatever size it is given, so
                // the attr must reach it
                JAVA_LONG.withName("prog_attach_flags"),
                JAVA_LONG.withName("link_ids"),
                JAVA_LONG.withName("link_attach_flags"),
                JAVA_LONG.withName("revision"));

        public static final long target_fd = offset(LAYOUT, "target_fd");
        public static final long attach_type = offset(LAYOUT, "attach_type");
        public static final long query_flags = offset(LAYOUT, "query_flags");
        public static final long attach_flags = offset(LAYOUT, "attach_flags");
        public static final long prog_ids = offset(LAYOUT, "prog_ids");
        public static final long prog_cnt = offset(LAYOUT, "prog_cnt");
    }

    /** BPF_ENABLE_STATS (attr.enable_stats). */
    public static final class EnableStats {
        private EnableStats() {
        }

        public static final StructLayout LAYOUT = MemoryLayout.structLayout(
                JAVA_INT.withName("type"));

        public static final long type = offset(LAYOUT, "type");
    }

    /** Byte offset of a named field. */
    public static long offset(StructLayout layout, String field) {
        return layout.byteOffset(groupElement(field));
    }
}
