package dev.bpfagent.client;

import static org.junit.jupiter.api.Assertions.*;

import dev.bpfagent.proto.v1.Hook;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * The guard for adding a hook kind: every case of the proto's {@code Hook} oneof has a {@link Hooks}
 * factory (the CLI's forms are checked in the cli module's HookFormsTest). (The agent's converters both ways are exhaustive
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
