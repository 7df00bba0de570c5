package dev.bpfagent.agent.service.auth;

import java.util.List;

import io.grpc.Attributes;
import io.grpc.Context;
import io.grpc.Grpc;
import java.net.SocketAddress;

/**
 * Who made a call: on the Unix socket, the peer's pid/uid/gid as the kernel reported them
 * (SO_PEERCRED, read when the connection was accepted); on TCP, the peer's address.
 */
public record Caller(Transport transport, int pid, int uid, int gid, String address, String tlsSubject,
                     List<Integer> groups, List<String> tlsSans) {

    public Caller {
        groups = List.copyOf(groups);
        tlsSans = List.copyOf(tlsSans);
    }

    public Caller(Transport transport, int pid, int uid, int gid, String address, String tlsSubject) {
        this(transport, pid, uid, gid, address, tlsSubject, List.of(), List.of());
    }

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

    /** A Unix-socket caller with its supplementary groups (read from /proc/PID/status when it connected). */
    public static Caller unix(int pid, int uid, int gid, List<Integer> groups) {
        return new Caller(Transport.UNIX, pid, uid, gid, "", "", groups, List.of());
    }

    /**
     * Whether two callers are the same principal, as ownership counts it: the same uid on the Unix socket,
     * the same certificate subject over mutual TLS. Objects the agent adopted at start belong to nobody.
     */
    /** The principal as a string ("uid:1000", "tls:CN=op,O=ex"), or "" for a caller that is none. */
    public String identity() {
        return switch (transport) {
            case UNIX -> uid >= 0 ? "uid:" + uid : "";
            case TCP -> tlsSubject.isEmpty() ? "" : "tls:" + tlsSubject;
            case IN_PROCESS -> "";
        };
    }

    public boolean sameIdentity(Caller other) {
        if (transport == Transport.UNIX && other.transport == Transport.UNIX) {
            return uid >= 0 && uid == other.uid;
        }
        if (transport == Transport.TCP && other.transport == Transport.TCP) {
            return !tlsSubject.isEmpty() && tlsSubject.equals(other.tlsSubject);
        }
        return false;
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
        javax.net.ssl.SSLSession ssl = attrs.get(Grpc.TRANSPORT_ATTR_SSL_SESSION);
        return new Caller(Transport.TCP, 0, -1, -1, remote.toString(), tlsSubject(ssl), List.of(), tlsSans(ssl));
    }

    /** The client certificate's DNS and URI subject alternative names (mutual TLS), or none. */
    private static List<String> tlsSans(javax.net.ssl.SSLSession session) {
        if (session == null) {
            return List.of();
        }
        try {
            var certs = session.getPeerCertificates();
            if (certs.length > 0 && certs[0] instanceof java.security.cert.X509Certificate x509
                    && x509.getSubjectAlternativeNames() != null) {
                List<String> out = new java.util.ArrayList<>();
                for (List<?> san : x509.getSubjectAlternativeNames()) {
                    int type = (Integer) san.get(0);
                    if (type == 2 || type == 6) { // dNSName, uniformResourceIdentifier
                        out.add(String.valueOf(san.get(1)));
                    }
                }
                return out;
            }
        } catch (javax.net.ssl.SSLPeerUnverifiedException | java.security.cert.CertificateParsingException e) {
            // no client certificate, or one whose names cannot be read: no names
        }
        return List.of();
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
