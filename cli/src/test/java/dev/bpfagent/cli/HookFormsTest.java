package dev.bpfagent.cli;

import static org.junit.jupiter.api.Assertions.*;

import dev.bpfagent.client.Hooks;
import dev.bpfagent.proto.v1.Hook;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/** The guard for adding a hook kind: every case of the proto's Hook oneof has a CLI form, in attach's help. */
class HookFormsTest {
    static Set<Hook.HookCase> kinds() {
        Set<Hook.HookCase> all = EnumSet.allOf(Hook.HookCase.class);
        all.remove(Hook.HookCase.HOOK_NOT_SET);
        return all;
    }

    @Test
    void everyHookKindHasACliFormAndEveryFormParses() {
        Set<Hook.HookCase> parsed = EnumSet.noneOf(Hook.HookCase.class);
        for (HookWords.HookForm f : HookWords.HOOK_FORMS) {
            Hook h = HookWords.hook(List.of(f.example().split(" ")));
            assertTrue(String.join("\n", HookWords.footer()).contains(f.usage()), f.usage());
            parsed.add(h.getHookCase());
        }
        Set<Hook.HookCase> missing = kinds();
        missing.removeAll(parsed);
        assertEquals(Set.of(), missing, "Hook oneof cases without a CLI form: add one to HookWords.HOOK_FORMS and Cli.hook");
    }

    @Test
    void theNewerFormsBuildWhatHooksBuilds() {
        assertEquals(Hooks.kprobeMulti(true, "do_unlinkat", "do_rmdir"),
                HookWords.hook(List.of("kretprobe_multi", "do_unlinkat,do_rmdir")));
        assertEquals(Hooks.perfEvent(1, 0, 1_000_000, 0),
                HookWords.hook(List.of("perf_event", "software", "0", "1000000", "cpu=0")));
        assertEquals(Hooks.perfEventOfProcess(0, 0x1, 100_000, 42),
                HookWords.hook(List.of("perf_event", "hardware", "0x1", "100000", "pid=42")));
        assertEquals(Hooks.netfilter(10, 4, -5), HookWords.hook(List.of("netfilter", "ipv6", "post_routing", "-5")));
        assertEquals(Hooks.netfilter(2, 0, 0), HookWords.hook(List.of("netfilter", "ipv4", "pre_routing")));
        assertEquals(Hooks.inNetns("blue", Hooks.xdp("eth0")), HookWords.hook(List.of("xdp", "eth0", "netns=blue")));
        assertThrows(IllegalArgumentException.class, () -> HookWords.hook(List.of("xdp", "eth0", "blue")));
        Set<String> refusals = new TreeSet<>();
        for (List<String> bad : List.<List<String>>of(List.of("perf_event", "software", "0", "1000"),
                List.of("perf_event", "software", "x", "1000", "cpu=0"),
                List.of("perf_event", "software", "0", "1000", "core=0"),
                List.of("netfilter", "ipv5", "local_in"), List.of("netfilter", "ipv4", "input"),
                List.of("netfilter", "ipv4"), List.of("netfilter", "ipv4", "local_in", "high"))) {
            refusals.add(assertThrows(IllegalArgumentException.class, () -> HookWords.hook(bad), bad.toString())
                    .getMessage());
        }
        assertEquals(7, refusals.size(), "each refusal says what was wrong: " + refusals);
    }
}
