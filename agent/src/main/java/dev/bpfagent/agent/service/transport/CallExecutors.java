package dev.bpfagent.agent.service.transport;


import dev.bpfagent.proto.v1.BpfServiceProto;
import dev.bpfagent.proto.v1.CallExecutor;
import dev.bpfagent.proto.v1.OptionsProto;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallExecutorSupplier;
import java.util.Set;
import java.util.concurrent.Executor;

/**
 * Where each call runs, as its {@code (bpfagent.v1.method).executor} option in bpf_service.proto
 * says. Calls that make a syscall or two (info, pin, exists, health...) run on the netty event loop
 * that read them, saving two thread hand-offs (about a third of a call's latency on a small machine);
 * calls whose kernel work has no small bound (walks over every program, attaches that read ELF symbol
 * tables or wait for a driver, detaches that wait out RCU grace periods, object loads, the first
 * feature probe) go to the bounded pool, so they never stall the loop. Loads and test runs
 * (CALL_EXECUTOR_BY_REQUEST) are decided by their handlers, which know their size: a short loop-free
 * program's load and a single run stay, the rest go to the pool (see the service's Offload).
 * Used with a server whose default executor is direct.
 */
public final class CallExecutors implements ServerCallExecutorSupplier {
    /** Full names of the methods that run on the pool. */
    public static final Set<String> UNBOUNDED = pooled();

    private static Set<String> pooled() {
        Set<String> s = new java.util.HashSet<>();
        for (var d : BpfServiceProto.getDescriptor().findServiceByName("BpfService").getMethods()) {
            if (d.getOptions().getExtension(OptionsProto.method).getExecutor() == CallExecutor.CALL_EXECUTOR_POOL) {
                s.add(d.getService().getFullName() + "/" + d.getName());
            }
        }
        return Set.copyOf(s);
    }

    private final Executor pool;
    private final Admission admission;

    public CallExecutors(Executor pool, Admission admission) {
        this.pool = pool;
        this.admission = admission;
    }

    @Override
    public <Q, R> Executor getExecutor(ServerCall<Q, R> call, Metadata headers) {
        if (UNBOUNDED.contains(call.getMethodDescriptor().getFullMethodName())) {
            // Over the bound: stay on the event loop, where Admission refuses the call at once.
            return admission.tryAdmit(call) ? pool : null;
        }
        return null; // the server's direct executor: the event loop
    }
}
