package dev.bpfagent.agent;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.Path;
import java.util.Optional;

/**
 * The agent's command line.
 *
 * @param socket the Unix socket to serve on
 * @param socketGroup the group given the socket and its directory, so its members may call the agent
 * @param tcp TCP address to serve on as well, if any
 * @param tlsCert PEM certificate chain for TCP; with tlsKey, turns TLS on
 * @param tlsClientCa PEM CA certificate(s): TCP clients must present a certificate signed by one (mutual TLS)
 * @param bpffsDir where the agent pins, inside bpffs
 * @param maxQueuedCalls how many loads, test runs and lists may wait for a worker thread; more are
 *        refused with RESOURCE_EXHAUSTED (and a retry delay)
 */
public record AgentConfig(Path socket, Optional<String> socketGroup, Optional<TcpAddress> tcp,
                          Optional<Path> tlsCert, Optional<Path> tlsKey, Optional<Path> tlsClientCa, Path bpffsDir,
                          int maxQueuedCalls, boolean insecureLoopback, Optional<Path> policy,
                          Optional<Path> auditLog, Path stateDir, Optional<TcpAddress> metrics, boolean jsonLogs) {

    public static final int DEFAULT_MAX_QUEUED_CALLS = 64;

    public static final Path DEFAULT_SOCKET = Path.of("/run/bpf-agent/agent.sock");
    public static final Path DEFAULT_BPFFS_DIR = Path.of("/sys/fs/bpf/bpf-agent");
    public static final Path DEFAULT_STATE_DIR = Path.of("/var/lib/bpf-agent");

    public record TcpAddress(String host, int port) {
        public boolean isLoopback() {
            try {
                return InetAddress.getByName(host).isLoopbackAddress();
            } catch (UnknownHostException e) {
                return false;
            }
        }
    }

    public static final String USAGE = """
            usage: bpf-agent [options]
              --socket PATH       Unix socket to serve on (default /run/bpf-agent/agent.sock)
              --socket-group G    group owning the socket (mode 0660) and its directory (0750): its
                                  members may call the agent without being root
              --tcp [HOST:]PORT   also serve on TCP; HOST defaults to 127.0.0.1; PORT 0 picks a free port
              --tls-cert FILE     PEM certificate chain for TCP (with --tls-key: TLS on)
              --tls-key FILE      PEM PKCS#8 private key for TCP
              --tls-client-ca F   require TCP clients to present a certificate signed by this CA (mTLS)
              --insecure-loopback allow TCP on a loopback address without client certificates
                                  (plaintext, or server-only TLS): any local user may then call
                                  the agent; a warning is logged at start
              --policy FILE       who may do what (policy.proto's Policy as JSON; reloaded on SIGHUP);
                                  without it every caller that reaches the agent is an admin
              --audit-log FILE    append a JSON line per call that makes or changes something, and
                                  per refusal
              --state-dir PATH    where the owners and labels of pinned objects are recorded, so they
                                  survive a restart (default /var/lib/bpf-agent)
              --bpffs-dir PATH    the agent's directory in bpffs (default /sys/fs/bpf/bpf-agent)
              --metrics [HOST:]PORT  serve Prometheus metrics over HTTP at /metrics (off by default;
                                  HOST defaults to 127.0.0.1 and must be a loopback address)
              --log-format F      text (default) or json: one JSON object per log line, for collectors
              --config FILE       options from a YAML or JSON file: each key is an option's name without
                                  "--" (socket: /run/x.sock, insecure-loopback: true); flags given on
                                  the command line win over the file
              --version           the agent's version
              --max-queued-calls N  loads, test runs and lists waiting for a worker beyond which
                                  calls are refused with RESOURCE_EXHAUSTED (default 64)
              --help              this text
            TCP needs --tls-cert, --tls-key and --tls-client-ca (mutual TLS 1.2+), unless it is on
            loopback and --insecure-loopback is given.""";

    /** The command line, after the options of a --config file (so that flags win). */
    public static AgentConfig parse(String[] args) {
        java.util.List<String> all = new java.util.ArrayList<>();
        java.util.List<String> rest = new java.util.ArrayList<>();
        for (int i = 0; i < args.length; i++) {
            if (args[i].equals("--config")) {
                all.addAll(ConfigFile.args(Path.of(value(args, ++i, "--config"))));
            } else {
                rest.add(args[i]);
            }
        }
        all.addAll(rest);
        return parseFlags(all.toArray(String[]::new));
    }

    private static AgentConfig parseFlags(String[] args) {
        Path socket = DEFAULT_SOCKET;
        Optional<String> group = Optional.empty();
        Optional<TcpAddress> tcp = Optional.empty();
        Optional<Path> cert = Optional.empty();
        Optional<Path> key = Optional.empty();
        Optional<Path> clientCa = Optional.empty();
        Path bpffs = DEFAULT_BPFFS_DIR;
        int maxQueued = DEFAULT_MAX_QUEUED_CALLS;
        boolean insecureLoopback = false;
        Optional<Path> policy = Optional.empty();
        Optional<Path> auditLog = Optional.empty();
        Path stateDir = DEFAULT_STATE_DIR;
        Optional<TcpAddress> metrics = Optional.empty();
        boolean jsonLogs = false;
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            switch (a) {
                case "--socket" -> socket = Path.of(value(args, ++i, a));
                case "--socket-group" -> group = Optional.of(value(args, ++i, a));
                case "--tcp" -> tcp = Optional.of(tcpAddress(value(args, ++i, a)));
                case "--tls-cert" -> cert = Optional.of(Path.of(value(args, ++i, a)));
                case "--tls-key" -> key = Optional.of(Path.of(value(args, ++i, a)));
                case "--tls-client-ca" -> clientCa = Optional.of(Path.of(value(args, ++i, a)));
                case "--bpffs-dir" -> bpffs = Path.of(value(args, ++i, a));
                case "--max-queued-calls" -> maxQueued = count(value(args, ++i, a), a);
                case "--insecure-loopback" -> insecureLoopback = true;
                case "--policy" -> policy = Optional.of(Path.of(value(args, ++i, a)));
                case "--audit-log" -> auditLog = Optional.of(Path.of(value(args, ++i, a)));
                case "--state-dir" -> stateDir = Path.of(value(args, ++i, a));
                case "--metrics" -> metrics = Optional.of(tcpAddress(value(args, ++i, a), a));
                case "--log-format" -> jsonLogs = switch (value(args, ++i, a)) {
                    case "json" -> true;
                    case "text" -> false;
                    default -> throw new IllegalArgumentException("--log-format is text or json, not " + args[i]);
                };
                default -> throw new IllegalArgumentException("unknown option " + a + "\n" + USAGE);
            }
        }
        if (cert.isPresent() != key.isPresent()) {
            throw new IllegalArgumentException("--tls-cert and --tls-key go together");
        }
        if (clientCa.isPresent() && cert.isEmpty()) {
            throw new IllegalArgumentException("--tls-client-ca needs --tls-cert and --tls-key (the server's TLS)");
        }
        if (tcp.isPresent() && clientCa.isEmpty()) {
            if (!tcp.get().isLoopback()) {
                throw new IllegalArgumentException("--tcp " + tcp.get().host() + " is not a loopback address: TCP"
                        + " needs mutual TLS (--tls-cert, --tls-key and --tls-client-ca)");
            }
            if (!insecureLoopback) {
                throw new IllegalArgumentException("--tcp without client certificates lets every local user (and every"
                        + " container in this network namespace) call a root agent: give --tls-cert, --tls-key and"
                        + " --tls-client-ca, or say --insecure-loopback");
            }
        }
        if (insecureLoopback && tcp.isPresent() && !tcp.get().isLoopback()) {
            throw new IllegalArgumentException("--insecure-loopback applies to loopback addresses only");
        }
        if (metrics.isPresent() && !metrics.get().isLoopback()) {
            throw new IllegalArgumentException("--metrics " + metrics.get().host() + " is not a loopback address: the"
                    + " metrics endpoint is plain HTTP, so it stays on loopback (scrape it there, or through a proxy"
                    + " that adds TLS)");
        }
        if (!bpffs.isAbsolute()) {
            throw new IllegalArgumentException("--bpffs-dir must be an absolute path");
        }
        return new AgentConfig(socket.toAbsolutePath(), group, tcp, cert, key, clientCa, bpffs, maxQueued,
                insecureLoopback, policy, auditLog, stateDir.toAbsolutePath(), metrics, jsonLogs);
    }

    private static String value(String[] args, int i, String option) {
        if (i >= args.length) {
            throw new IllegalArgumentException(option + " needs a value\n" + USAGE);
        }
        return args[i];
    }

    private static int count(String s, String option) {
        try {
            int n = Integer.parseInt(s);
            if (n >= 0) {
                return n;
            }
        } catch (NumberFormatException e) {
            // said below
        }
        throw new IllegalArgumentException(option + ": '" + s + "' is not a count (0 or more)");
    }

    static TcpAddress tcpAddress(String s) {
        return tcpAddress(s, "--tcp");
    }

    static TcpAddress tcpAddress(String s, String option) {
        int colon = s.lastIndexOf(':');
        String host = colon < 0 ? "127.0.0.1" : s.substring(0, colon);
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        }
        String port = colon < 0 ? s : s.substring(colon + 1);
        try {
            int p = Integer.parseInt(port);
            if (p < 0 || p > 65535) {
                throw new NumberFormatException();
            }
            return new TcpAddress(host.isEmpty() ? "127.0.0.1" : host, p);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(option + ": '" + s + "' is not [HOST:]PORT");
        }
    }
}
