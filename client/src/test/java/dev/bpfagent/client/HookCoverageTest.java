package dev.bpfagent.client;

import static org.junit.jupiter.api.Assertions.*;

import dev.bpfagent.proto.v1.Hook;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/**
 * The guard for adding a hook kind: every case of the proto's {@code Hook} oneof has a {@link Hooks}
 * factory and a CLI form whose example parses to it. (The agent's converters both ways are exhaustive
 * switches over the oneof and the sealed {@code Hook} records: a missing case does not compile.)
 */
class HookCoverageTest {
    static Set<Hook.HookCase> kinds() {
        Set<Hook.HookCase> all = EnumSet.allOf(Hook.HookCase.class);
        all.remove(Hook.HookCase.HOOK_NOT_SET);
        return all;
    }

    @Test
    void everyHookKindHasAHooksFactory() throws Exception {
        Set<Hook.HookCase> made = EnumSet.noneOf(Hook.HookCase.class);
        for (Method m : Hooks.class.getDeclaredMethods()) {
            if (!Modifier.isPublic(m.getModifiers()) || m.getReturnType() != Hook.class) {
                continue;
            }
            Object[] args = Arrays.stream(m.getParameterTypes()).map(HookCoverageTest::sample).toArray();
            made.add(((Hook) m.invoke(null, args)).getHookCase());
        }
        Set<Hook.HookCase> missing = kinds();
        missing.removeAll(made);
        assertEquals(Set.of(), missing, "Hook oneof cases without a Hooks factory: add one to client/Hooks.java");
    }

    @Test
    void everyHookKindHasACliFormAndEveryFormParses() {
        Set<Hook.HookCase> parsed = EnumSet.noneOf(Hook.HookCase.class);
        for (Cli.HookForm f : Cli.HOOK_FORMS) {
            Hook h = Cli.hook(List.of(f.example().split(" ")));
            assertTrue(Cli.USAGE.contains(f.usage()), f.usage());
            parsed.add(h.getHookCase());
        }
        Set<Hook.HookCase> missing = kinds();
        missing.removeAll(parsed);
        assertEquals(Set.of(), missing, "Hook oneof cases without a CLI form: add one to Cli.HOOK_FORMS and Cli.hook");
    }

    @Test
    void theNewerFormsBuildWhatHooksBuilds() {
        assertEquals(Hooks.kprobeMulti(true, "do_unlinkat", "do_rmdir"),
                Cli.hook(List.of("kretprobe_multi", "do_unlinkat,do_rmdir")));
        assertEquals(Hooks.perfEvent(1, 0, 1_000_000, 0),
                Cli.hook(List.of("perf_event", "software", "0", "1000000", "cpu=0")));
        assertEquals(Hooks.perfEventOfProcess(0, 0x1, 100_000, 42),
                Cli.hook(List.of("perf_event", "hardware", "0x1", "100000", "pid=42")));
        assertEquals(Hooks.netfilter(10, 4, -5), Cli.hook(List.of("netfilter", "ipv6", "post_routing", "-5")));
        assertEquals(Hooks.netfilter(2, 0, 0), Cli.hook(List.of("netfilter", "ipv4", "pre_routing")));
        assertEquals(Hooks.inNetns("blue", Hooks.xdp("eth0")), Cli.hook(List.of("xdp", "eth0", "netns=blue")));
        assertThrows(IllegalArgumentException.class, () -> Cli.hook(List.of("xdp", "eth0", "blue")));
        Set<String> refusals = new TreeSet<>();
        for (List<String> bad : List.<List<String>>of(List.of("perf_event", "software", "0", "1000"),
                List.of("perf_event", "software", "x", "1000", "cpu=0"),
                List.of("perf_event", "software", "0", "1000", "core=0"),
                List.of("netfilter", "ipv5", "local_in"), List.of("netfilter", "ipv4", "input"),
                List.of("netfilter", "ipv4"), List.of("netfilter", "ipv4", "local_in", "high"))) {
            refusals.add(assertThrows(IllegalArgumentException.class, () -> Cli.hook(bad), bad.toString())
                    .getMessage());
        }
        assertEquals(7, refusals.size(), "each refusal says what was wrong: " + refusals);
    }

    static Object sample(Class<?> t) {
        if (t == String.class) {
            return "x";
        }
        if (t == int.class) {
            return 1;
        }
        if (t == long.class) {
            return 1L;
        }
        if (t == boolean.class) {
            return false;
        }
        if (t == String[].class) {
            return new String[] {"x"};
        }
        if (t == Hook.class) {
            return Hooks.xdp("x"); // Hooks.inNetns: the same hook elsewhere
        }
        if (t.isEnum()) {
            return t.getEnumConstants()[1];
        }
        throw new AssertionError("HookCoverageTest.sample: give a sample " + t);
    }
}
