package dev.bpfagent.it;

import static org.junit.jupiter.api.Assertions.*;

import dev.bpfagent.client.BpfAgentException;
import dev.bpfagent.client.LoadOptions;
import dev.bpfagent.client.MapHandle;
import dev.bpfagent.proto.v1.*;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * The features report agrees with what the kernel then does: every program and map type it calls
 * supported loads or is created through the agent, every one it calls missing or refused fails, and
 * the sysfs-read answers match sysfs. Printed, so CI's log shows what this kernel has.
 */
class KernelFeaturesTest extends OneAgentPerClass {
    static Map<String, KernelFeature> byName(List<KernelFeature> l) {
        return l.stream().collect(Collectors.toMap(KernelFeature::getName, f -> f));
    }

    @Test
    void theReportMatchesWhatTheKernelDoes() throws Exception {
        GetKernelFeaturesResponse r = c.kernelFeatures(false);
        System.out.println("kernel features of " + r.getKernelRelease() + ":\n" + r);
        assertEquals(Files.readString(Path.of("/proc/sys/kernel/osrelease")).strip(), r.getKernelRelease());
        Map<String, KernelFeature> programs = byName(r.getProgramTypesList());
        // the agent's own tests rely on these: this kernel has them
        for (String t : List.of("XDP", "SOCKET_FILTER", "SCHED_CLS", "TRACEPOINT", "CGROUP_SOCK_ADDR")) {
            assertEquals(FeatureState.FEATURE_STATE_SUPPORTED, programs.get(t).getState(), t);
        }
        // a supported simple type loads through the agent; the report's word is checked, not trusted
        for (String t : List.of("XDP", "SOCKET_FILTER", "SCHED_CLS", "KPROBE", "PERF_EVENT", "RAW_TRACEPOINT")) {
            ProgramType type = ProgramType.valueOf("PROGRAM_TYPE_" + t);
            boolean supported = programs.get(t).getState() == FeatureState.FEATURE_STATE_SUPPORTED;
            try (var p = c.load(LoadOptions.builder(type, Asm.returnImm(0)).build())) {
                assertTrue(supported, t + " loaded, but the report says " + programs.get(t));
            } catch (BpfAgentException e) {
                assertFalse(supported, t + " is reported supported but failed: " + e.getMessage());
            }
        }
        Map<String, KernelFeature> maps = byName(r.getMapTypesList());
        for (String t : List.of("HASH", "ARRAY", "RINGBUF", "QUEUE", "LPM_TRIE")) { // every kernel since 5.8
            assertEquals(FeatureState.FEATURE_STATE_SUPPORTED, maps.get(t).getState(), t);
        }
        try (MapHandle m = c.createMap(MapType.MAP_TYPE_RINGBUF, 0, 0, 4096, "probe2")) {
            assertTrue(m.id() > 0);
        }
        Map<String, KernelFeature> attach = byName(r.getAttachList());
        boolean kprobePmu = Files.exists(Path.of("/sys/bus/event_source/devices/kprobe/type"));
        assertEquals(kprobePmu, attach.get("kprobe_pmu").getState() == FeatureState.FEATURE_STATE_SUPPORTED,
                attach.get("kprobe_pmu").toString());
        if (kprobePmu) {
            String type = Files.readString(Path.of("/sys/bus/event_source/devices/kprobe/type")).strip();
            assertTrue(attach.get("kprobe_pmu").getDetail().startsWith("type " + type + ","));
        }
        assertEquals(FeatureState.FEATURE_STATE_SUPPORTED, attach.get("uprobe_pmu").getState());
        // perf links came in 5.15
        String[] v = r.getKernelRelease().split("[.-]");
        boolean atLeast515 = Integer.parseInt(v[0]) > 5 || (Integer.parseInt(v[0]) == 5 && Integer.parseInt(v[1]) >= 15);
        assertEquals(atLeast515, attach.get("perf_link").getState() == FeatureState.FEATURE_STATE_SUPPORTED,
                attach.get("perf_link").toString());
        // freplace: every kernel the agent runs on (5.10+, BTF) has EXT; this host refuses it (EPERM), the
        // matrix's load it. MISSING would mean the probe's own BTF or target is wrong.
        KernelFeature ext = attach.get("freplace");
        assertNotNull(ext, "the report names freplace");
        assertNotEquals(FeatureState.FEATURE_STATE_MISSING, ext.getState(), ext.toString());
        Map<String, KernelFeature> other = byName(r.getOtherList());
        assertEquals(Files.isReadable(Path.of("/sys/kernel/btf/vmlinux")),
                other.get("btf_vmlinux").getState() == FeatureState.FEATURE_STATE_SUPPORTED);
        assertEquals(FeatureState.FEATURE_STATE_SUPPORTED, other.get("batch_ops").getState());
        // nothing the probes made is left: no held objects, no links
        assertEquals(0, c.agentInfo().getProgramsHeld());
        assertEquals(0, c.listLinks(ListLinksRequest.getDefaultInstance()).getLinksCount());
        // a second call is answered from the first probe
        assertEquals(r, c.kernelFeatures(false));
    }
}
