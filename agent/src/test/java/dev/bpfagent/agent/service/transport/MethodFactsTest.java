package dev.bpfagent.agent.service.transport;

import static org.junit.jupiter.api.Assertions.*;

import dev.bpfagent.proto.v1.Action;
import dev.bpfagent.proto.v1.BpfServiceProto;
import dev.bpfagent.proto.v1.CallExecutor;
import dev.bpfagent.proto.v1.MethodFacts;
import dev.bpfagent.proto.v1.OptionsProto;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/** Every method declares its facts in bpf_service.proto, and the agent reads what they say. */
class MethodFactsTest {
    static final String PREFIX = "bpfagent.v1.BpfService/";

    @Test
    void everyMethodSaysWhatItDoesAndWhereItRuns() {
        var byName = new TreeMap<String, MethodFacts>();
        for (var d : BpfServiceProto.getDescriptor().findServiceByName("BpfService").getMethods()) {
            assertTrue(d.getOptions().hasExtension(OptionsProto.method), d.getName()
                    + " has no (bpfagent.v1.method) option: say its action and executor in bpf_service.proto");
            byName.put(d.getName(), d.getOptions().getExtension(OptionsProto.method));
        }
        byName.forEach((name, f) -> assertNotEquals(Action.ACTION_UNSPECIFIED, f.getAction(), name));
        // only these two handlers choose their executor from the request (ProgramHandler's Offload)
        Set<String> byRequest = new TreeSet<>();
        byName.forEach((name, f) -> {
            if (f.getExecutor() == CallExecutor.CALL_EXECUTOR_BY_REQUEST) {
                byRequest.add(name);
            }
        });
        assertEquals(Set.of("LoadProgram", "TestRunProgram"), byRequest);
        Set<String> pooled = new TreeSet<>();
        byName.forEach((name, f) -> {
            if (f.getExecutor() == CallExecutor.CALL_EXECUTOR_POOL) {
                pooled.add(PREFIX + name);
            }
        });
        assertEquals(pooled, new TreeSet<>(CallExecutors.UNBOUNDED), "CallExecutors reads the option");
        assertTrue(CallExecutors.UNBOUNDED.contains(PREFIX + "ListPrograms"));
        assertTrue(CallExecutors.UNBOUNDED.contains(PREFIX + "LoadObject"));
        assertFalse(CallExecutors.UNBOUNDED.contains(PREFIX + "GetProgram"), "a syscall or two: the event loop");
        assertEquals(Action.ACTION_ADMIN, byName.get("SetRunStats").getAction());
    }
}
