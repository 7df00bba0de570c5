package dev.bpfagent.agent.service.transport;


import dev.bpfagent.proto.v1.BpfServiceGrpc;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.ServerCall;
import io.grpc.ServerCallExecutorSupplier;
import java.util.Set;
import java.util.concurrent.Executor;

/**
 * Where each call runs. Calls that make a syscall or two (info, pin, exists, health...) run on the
 * netty event loop that read them, saving two thread hand-offs (about a third of a call's latency on
 * a small machine); calls whose kernel work has no small bound (walks over every program) go to the
 * bounded pool, so they never stall the loop. Loads and test runs are decided by their handlers,
 * which know their size: a short loop-free program's load and a single run stay, the rest go to the
 * pool (see the service's Offload).
 * Used with a server whose default executor is direct.
 */
public final class CallExecutors implements ServerCallExecutorSupplier {
    public static final Set<MethodDescriptor<?, ?>> UNBOUNDED = Set.of(
            BpfServiceGrpc.getListProgramsMethod(),
            BpfServiceGrpc.getListMapsMethod(),
            BpfServiceGrpc.getDumpMapMethod(),
            BpfServiceGrpc.getUpdateMapBatchMethod(),
            BpfServiceGrpc.getDeleteMapBatchMethod(),
            // attach reads ELF symbol tables and sysfs, and a driver may take long to take an XDP
            // program; detach waits out the kernel's RCU grace periods (~50 ms for a tracepoint here)
            BpfServiceGrpc.getAttachProgramMethod(),
            BpfServiceGrpc.getDetachLinkMethod(),
            BpfServiceGrpc.getUpdateLinkMethod(),
            BpfServiceGrpc.getReadIteratorMethod(),
            // an object is parsed, its maps made and every program verified: seconds for big ones
            BpfServiceGrpc.getInspectObjectMethod(),
            BpfServiceGrpc.getLoadObjectMethod(),
            BpfServiceGrpc.getAttachCollectionMethod(),
            // the first call probes the kernel: dozens of loads and map creations
            BpfServiceGrpc.getGetKernelFeaturesMethod());

    private final Executor pool;
    private final Admission admission;

    public CallExecutors(Executor pool, Admission admission) {
        this.pool = pool;
        this.admission = admission;
    }

    @Override
    public <Q, R> Executor getExecutor(ServerCall<Q, R> call, Metadata headers) {
        String method = call.getMethodDescriptor().getFullMethodName();
        for (MethodDescriptor<?, ?> m : UNBOUNDED) {
            if (m.getFullMethodName().equals(method)) {
                // Over the bound: stay on the event loop, where Admission refuses the call at once.
                return admission.tryAdmit(call) ? pool : null;
            }
        }
        return null; // the server's direct executor: the event loop
    }
}
