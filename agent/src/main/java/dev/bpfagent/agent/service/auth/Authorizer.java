package dev.bpfagent.agent.service.auth;

import com.google.protobuf.Message;
import dev.bpfagent.proto.v1.ObjectRef;
import java.util.List;

/**
 * The one decision of who may do what. Every call on every service passes through
 * {@link AuthorizationInterceptor}, which asks this before the call's handler runs; a refusal is
 * thrown (a PERMISSION_DENIED {@code RequestException}) and the handler never runs.
 */
public interface Authorizer {
    /**
     * A call about to run.
     *
     * @param caller who makes it (SO_PEERCRED on the Unix socket, address and certificate on TCP)
     * @param method the full gRPC method name, "bpfagent.v1.BpfService/LoadProgram"
     * @param request the parsed request message
     * @param objects every object the request names (each ObjectRef in it, at any depth)
     */
    record Call(Caller caller, String method, Message request, List<ObjectRef> objects) {
    }

    /** Returns when the call may run; throws to refuse it. */
    void authorize(Call call);

    /**
     * A program about to be loaded from inside a call whose request does not carry it whole (each program
     * of a LoadObject): its type number, prog_flags and instructions. Returns, or throws to refuse.
     */
    default void authorizeProgram(Caller caller, String method, int type, int flags,
                                  com.google.protobuf.ByteString insns, String name) {
    }

    /** As above, with the program's expected attach type (the kernel's number; -1: none). */
    default void authorizeProgram(Caller caller, String method, int type, int attachType, int flags,
                                  com.google.protobuf.ByteString insns, String name) {
        authorizeProgram(caller, method, type, flags, insns, name);
    }

    /** A call it authorized has ended (completed, failed or cancelled): the same Call object. */
    default void ended(Call call) {
    }

    /** Whether caller may see (in a List) an object owner made; referenced: caller holds a reference to it. */
    default boolean maySee(Caller caller, Caller owner, boolean referenced) {
        return true;
    }

    /** Today's policy: the Unix socket's mode and the TLS settings are the boundary; every call passes. */
    Authorizer ALLOW_ALL = call -> { };
}
