package dev.bpfagent.agent.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.bpfagent.agent.errno.Errno;
import dev.bpfagent.agent.errno.KernelException;
import org.junit.jupiter.api.Test;

/**
 * The layouts against offsetof() as the kernel's uapi headers give them (checked with gcc against
 * include/uapi/linux/bpf.h and perf_event.h on x86_64).
 */
class LayoutTest {
    @Test
    void progLoad() {
                assertEquals(0, BpfAttr.ProgLoad.prog_type);
        assertEquals(8, BpfAttr.ProgLoad.insns);
        assertEquals(32, BpfAttr.ProgLoad.log_buf);
        assertEquals(48, BpfAttr.ProgLoad.prog_name);
        assertEquals(68, BpfAttr.ProgLoad.expected_attach_type);
        assertEquals(72, BpfAttr.ProgLoad.prog_btf_fd);
        assertEquals(108, BpfAttr.ProgLoad.attach_btf_id);
        assertEquals(112, BpfAttr.ProgLoad.attach_prog_fd);
        assertEquals(120, BpfAttr.ProgLoad.fd_array);
        assertEquals(136, BpfAttr.ProgLoad.core_relo_rec_size);
        assertEquals(140, BpfAttr.ProgLoad.log_true_size);
        assertEquals(144, BpfAttr.ProgLoad.LAYOUT.byteSize());
    }

    @Test
    void testRun() {
                assertEquals(16, BpfAttr.ProgTestRun.data_in);
        assertEquals(32, BpfAttr.ProgTestRun.repeat);
        assertEquals(36, BpfAttr.ProgTestRun.duration);
        assertEquals(56, BpfAttr.ProgTestRun.ctx_out);
        assertEquals(64, BpfAttr.ProgTestRun.flags);
        assertEquals(72, BpfAttr.ProgTestRun.batch_size);
        assertEquals(80, BpfAttr.ProgTestRun.LAYOUT.byteSize());
    }

    @Test
    void mapCommands() {
        // offsetof() in union bpf_attr and struct bpf_map_info, from gcc and include/uapi/linux/bpf.h
        assertEquals(28, BpfAttr.MapCreate.map_name);
        assertEquals(44, BpfAttr.MapCreate.map_ifindex);
        assertEquals(60, BpfAttr.MapCreate.btf_vmlinux_value_type_id);
        assertEquals(64, BpfAttr.MapCreate.map_extra);
        assertEquals(8, BpfAttr.MapElem.key);
        assertEquals(16, BpfAttr.MapElem.value);
        assertEquals(24, BpfAttr.MapElem.flags);
        assertEquals(32, BpfAttr.MapBatch.count);
        assertEquals(36, BpfAttr.MapBatch.map_fd);
        assertEquals(48, BpfAttr.MapBatch.flags);
        assertEquals(24, BpfMapInfo.off("name"));
        assertEquals(48, BpfMapInfo.off("netns_dev"));
        assertEquals(72, BpfMapInfo.off("btf_value_type_id"));
        assertEquals(80, BpfMapInfo.off("map_extra"));
        assertEquals(88, BpfMapInfo.LAYOUT.byteSize());
    }

    @Test
    void smallCommands() {
        assertEquals(8, BpfAttr.Obj.bpf_fd);
        assertEquals(4, BpfAttr.GetId.next_id);
        assertEquals(8, BpfAttr.Info.info);
        assertEquals(16, BpfAttr.BtfLoad.btf_size);
        assertEquals(24, BpfAttr.BtfLoad.btf_log_level);
        assertEquals(4, BpfAttr.EnableStats.LAYOUT.byteSize());
        assertEquals(8, BpfAttr.LinkCreate.attach_type);
        assertEquals(12, BpfAttr.LinkCreate.flags);
        // the union after the shared part (struct { ... } link_create in bpf.h)
        assertEquals(16, BpfAttr.LinkCreate.target_btf_id);
        assertEquals(16, BpfAttr.LinkCreate.bpf_cookie);
        assertEquals(16, BpfAttr.LinkCreate.tcx_relative_fd);
        assertEquals(24, BpfAttr.LinkCreate.tcx_expected_revision);
        assertEquals(20, BpfAttr.LinkCreate.netfilter_hooknum);
        assertEquals(24, BpfAttr.LinkCreate.netfilter_priority);
        assertEquals(28, BpfAttr.LinkCreate.netfilter_flags);
        assertEquals(24, BpfAttr.LinkCreate.iter_info_len);
        assertEquals(16, BpfAttr.LinkCreate.uprobe_multi_path);
        assertEquals(24, BpfAttr.LinkCreate.uprobe_multi_offsets);
        assertEquals(40, BpfAttr.LinkCreate.uprobe_multi_cookies);
        assertEquals(48, BpfAttr.LinkCreate.uprobe_multi_cnt);
        assertEquals(52, BpfAttr.LinkCreate.uprobe_multi_flags);
        assertEquals(56, BpfAttr.LinkCreate.uprobe_multi_pid);
        assertEquals(16, BpfAttr.LinkCreate.kprobe_multi_flags);
        assertEquals(20, BpfAttr.LinkCreate.kprobe_multi_cnt);
        assertEquals(24, BpfAttr.LinkCreate.kprobe_multi_syms);
        assertEquals(40, BpfAttr.LinkCreate.kprobe_multi_cookies);
        assertEquals(64, BpfAttr.LinkCreate.LAYOUT.byteSize());
        assertEquals(8, BpfAttr.RawTracepointOpen.prog_fd);
        assertEquals(16, BpfAttr.RawTracepointOpen.cookie);
        assertEquals(12, BpfAttr.LinkUpdate.old_prog_fd);
    }

    @Test
    void progInfo() {
        assertEquals(40, BpfProgInfo.off("load_time"));
        assertEquals(64, BpfProgInfo.off("name"));
        assertEquals(88, BpfProgInfo.off("netns_dev"));
        assertEquals(128, BpfProgInfo.off("btf_id"));
        assertEquals(184, BpfProgInfo.off("prog_tags"));
        assertEquals(200, BpfProgInfo.off("run_cnt"));
        assertEquals(216, BpfProgInfo.off("verified_insns"));
        assertEquals(224, BpfProgInfo.off("attach_btf_id"));
        assertEquals(232, BpfProgInfo.LAYOUT.byteSize());
    }

    @Test
    void perfEventAttr() {
        assertEquals(40, BpfAttr.offset(PerfEvent.ATTR, "flags"));
        assertEquals(92, BpfAttr.offset(PerfEvent.ATTR, "clockid"));
        assertEquals(128, BpfAttr.offset(PerfEvent.ATTR, "config3"));
        assertEquals(136, PerfEvent.ATTR.byteSize()); // PERF_ATTR_SIZE_VER8
    }

    @Test
    void capabilities() {
        long root = 0x000001ffffffffffL; // CapEff of root on a 6.x kernel
        assertEquals(java.util.List.of(), Capabilities.missingForAgent(root));
        long bpfOnly = (1L << Capabilities.CAP_BPF) | (1L << Capabilities.CAP_PERFMON) | (1L << Capabilities.CAP_NET_ADMIN);
        assertEquals(java.util.List.of(), Capabilities.missingForAgent(bpfOnly));
        assertEquals(3, Capabilities.missingForAgent(0).size());
    }

    @Test
    void errnoNames() {
        assertEquals(Errno.EPERM, Errno.of(1));
        assertEquals(Errno.ENOSPC, Errno.of(28));
        assertEquals(Errno.ENOTSUPP, Errno.of(524));
        assertEquals(Errno.UNKNOWN, Errno.of(4242));
        assertTrue(KernelException.of("BPF_PROG_LOAD", 1, null) instanceof KernelException.PermissionDenied);
        assertTrue(KernelException.of("BPF_PROG_LOAD", 7, null) instanceof KernelException.TooBig);
        assertTrue(KernelException.of("BPF_PROG_TEST_RUN", 28, null) instanceof KernelException.NoSpace);
        var withPath = KernelException.of("BPF_OBJ_GET", 2, null).withContext("/sys/fs/bpf/x");
        assertTrue(withPath instanceof KernelException.NotFound);
        assertTrue(withPath.getMessage().endsWith(": /sys/fs/bpf/x"), withPath.getMessage());
        var e = new KernelException("BPF_PROG_LOAD", 1);
        assertEquals("BPF_PROG_LOAD failed with EPERM (" + Errno.EPERM.hint() + ")", e.getMessage());
    }
}
