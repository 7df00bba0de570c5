package dev.bpfagent.agent.service.auth;

import io.grpc.Attributes;
import io.grpc.Context;
import io.grpc.Grpc;
import java.net.SocketAddress;

/**
 * Who made a call: on the Unix socket, the peer's pid/uid/gid as the kernel reported them
 * (SO_PEERCRED, read when the connection was accepted); on TCP, the peer's address.
 */
public record Caller(Transport transport, int pid, int uid, int gid, String address, String tlsSubject) {

    /** How the caller reached the agent. */
    public enum Transport { UNIX, TCP, IN_PROCESS }

    /** Set on the transport by the PeerCredentialsNegotiator for Unix-socket connections. */
    public static final Attributes.Key<Caller> TRANSPORT_ATTR = Attributes.Key.create("bpfagent.caller");
    /** The current call's caller, set by the transport's CallerInterceptor. */
    public static final Context.Key<Caller> CONTEXT_KEY = Context.key("bpfagent.caller");

    public static final Caller UNKNOWN = new Caller(Transport.IN_PROCESS, 0, -1, -1, "", "");
    /** The owner of programs found pinned in the agent's directory at start. */
    public static final Caller ADOPTED =
            new Caller(Transport.IN_PROCESS, 0, -1, -1, "pinned before this agent started", "");

    public static Caller unix(int pid, int uid, int gid) {
        return new Caller(Transport.UNIX, pid, uid, gid, "", "");
    }

    /** The caller of a call with these transport attributes. */
    public static Caller of(Attributes attrs) {
        Caller unix = attrs.get(TRANSPORT_ATTR);
        if (unix != null) {
            return unix;
        }
        SocketAddress remote = attrs.get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR);
        if (!(remote instanceof java.net.InetSocketAddress)) {
            return remote == null ? UNKNOWN : new Caller(Transport.IN_PROCESS, 0, -1, -1, remote.toString(), "");
        }
        return new Caller(Transport.TCP, 0, -1, -1, remote.toString(), tlsSubject(attrs.get(Grpc.TRANSPORT_ATTR_SSL_SESSION)));
    }

    /** The subject of the client's TLS certificate (mutual TLS), or "". */
    private static String tlsSubject(javax.net.ssl.SSLSession session) {
        if (session == null) {
            return "";
        }
        try {
            var certs = session.getPeerCertificates();
            if (certs.length > 0 && certs[0] instanceof java.security.cert.X509Certificate x509) {
                return x509.getSubjectX500Principal().getName();
            }
        } catch (javax.net.ssl.SSLPeerUnverifiedException e) {
            // server-only TLS: the client presented no certificate
        }
        return "";
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
            case TCP -> "tcp " + address + (tlsSubject.isEmpty() ? "" : " " + tlsSubject);
            case IN_PROCESS -> address.isEmpty() ? "in-process" : address;
        };
    }
}
