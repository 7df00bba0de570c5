package dev.bpfagent.agent.service;

import io.grpc.Attributes;
import io.grpc.Context;
import io.grpc.Grpc;
import java.net.SocketAddress;

/**
 * Who made a call: on the Unix socket, the peer's pid/uid/gid as the kernel reported them
 * (SO_PEERCRED, read when the connection was accepted); on TCP, the peer's address.
 */
public record Caller(Transport transport, int pid, int uid, int gid, String address) {

    /** How the caller reached the agent. */
    public enum Transport { UNIX, TCP, IN_PROCESS }

    /** Set on the transport by {@link PeerCredentialsNegotiator} for Unix-socket connections. */
    public static final Attributes.Key<Caller> TRANSPORT_ATTR = Attributes.Key.create("bpfagent.caller");
    /** The current call's caller, set by {@link CallerInterceptor}. */
    public static final Context.Key<Caller> CONTEXT_KEY = Context.key("bpfagent.caller");

    public static final Caller UNKNOWN = new Caller(Transport.IN_PROCESS, 0, -1, -1, "");
    /** The owner of programs found pinned in the agent's directory at start. */
    public static final Caller ADOPTED = new Caller(Transport.IN_PROCESS, 0, -1, -1, "pinned before this agent started");

    static Caller unix(int pid, int uid, int gid) {
        return new Caller(Transport.UNIX, pid, uid, gid, "");
    }

    /** The caller of a call with these transport attributes. */
    static Caller of(Attributes attrs) {
        Caller unix = attrs.get(TRANSPORT_ATTR);
        if (unix != null) {
            return unix;
        }
        SocketAddress remote = attrs.get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR);
        return remote == null ? UNKNOWN : new Caller(Transport.TCP, 0, -1, -1, remote.toString());
    }

    /** The current call's caller, or {@link #UNKNOWN} outside a call. */
    public static Caller current() {
        Caller c = CONTEXT_KEY.get();
        return c == null ? UNKNOWN : c;
    }

    @Override
    public String toString() {
        return switch (transport) {
            case UNIX -> "unix pid=" + pid + " uid=" + uid + " gid=" + gid;
            case TCP -> "tcp " + address;
            case IN_PROCESS -> address.isEmpty() ? "in-process" : address;
        };
    }
}
