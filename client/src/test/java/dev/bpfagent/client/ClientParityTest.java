package dev.bpfagent.client;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/** The async client has every call the blocking one has, with the same parameters. */
class ClientParityTest {
    /**
     * Blocking-client methods that are about the client itself, not calls to the agent (withLease's copy
     * has its own async(): bpf.withLease().async()). applications() is a part of its own (Applications),
     * blocking only so far: its async form is still to come.
     */
    static final Set<String> NOT_CALLS = Set.of("async", "channel", "withDeadline", "withLease", "close", "connect",
            "connectTls", "over", "applications");

    static Set<String> signatures(Class<?> c) {
        return Arrays.stream(c.getDeclaredMethods())
                .filter(m -> Modifier.isPublic(m.getModifiers()) && !Modifier.isStatic(m.getModifiers()))
                .filter(m -> !NOT_CALLS.contains(m.getName()))
                .map(ClientParityTest::signature)
                .collect(Collectors.toCollection(TreeSet::new));
    }

    static String signature(Method m) {
        List<String> params = Arrays.stream(m.getParameterTypes()).map(Class::getSimpleName).toList();
        return m.getName() + params;
    }

    @Test
    void asyncHasEveryBlockingCall() {
        Set<String> missing = new TreeSet<>(signatures(BpfClient.class));
        missing.removeAll(signatures(AsyncBpfClient.class));
        assertEquals(Set.of(), missing);
    }
}
