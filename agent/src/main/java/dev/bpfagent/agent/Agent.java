package dev.bpfagent.agent;

import dev.bpfagent.agent.bpf.Host;
import dev.bpfagent.agent.service.BpfServiceImpl;
import dev.bpfagent.agent.service.Offload;
import dev.bpfagent.agent.service.auth.AuthorizationInterceptor;
import dev.bpfagent.agent.service.auth.Authorizer;
import dev.bpfagent.agent.service.state.PinPaths;
import dev.bpfagent.agent.service.state.Registry;
import dev.bpfagent.agent.service.transport.Admission;
import dev.bpfagent.agent.service.transport.CallExecutors;
import dev.bpfagent.agent.service.transport.CallLogInterceptor;
import dev.bpfagent.agent.service.transport.CallerInterceptor;
import dev.bpfagent.agent.service.transport.Deadlines;
import dev.bpfagent.agent.service.transport.ErrorInterceptor;
import dev.bpfagent.agent.service.transport.PeerCredentialsNegotiator;
import dev.bpfagent.agent.service.transport.TightCumulation;
import dev.bpfagent.agent.service.transport.EndedStreams;
import io.grpc.netty.InternalNettyServerCredentials;
import io.grpc.netty.InternalProtocolNegotiators;
import dev.bpfagent.agent.service.transport.RequestParsing;
import dev.bpfagent.proto.v1.BpfServiceGrpc;
import io.grpc.Server;
import io.grpc.ServerInterceptors;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.netty.GrpcSslContexts;
import io.netty.handler.ssl.ClientAuth;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.protobuf.services.HealthStatusManager;
import io.grpc.protobuf.services.ProtoReflectionServiceV1;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerDomainSocketChannel;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.unix.DomainSocketAddress;
import dev.bpfagent.agent.service.transport.SocketActivation;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.GroupPrincipal;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserPrincipalNotFoundException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;

/** A running agent: mounts, the registry, and the gRPC servers on the Unix socket and TCP. */
public final class Agent implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(Agent.class.getName());
    /**
     * The largest request message (gRPC's default, 4 MiB): half a million instructions, or an object of
     * that size (larger objects are read from the agent's host: object.path). grpc-java refuses a larger
     * one from its 5-byte length prefix, before buffering any of it. Responses are the client's to bound.
     */
    public static final int MAX_MESSAGE = 4 << 20;
    /** The largest header block a call may send (gRPC's default): the agent reads one header of its own. */
    public static final int MAX_METADATA = 8 << 10;
    /**
     * The bytes a call may have in flight before the agent reads them (the HTTP/2 window; gRPC's default
     * size, set so that it is not auto-tuned upwards). No SETTINGS_MAX_CONCURRENT_STREAMS is set: the
     * pool's Admission bounds what waits, and streams end as soon as they are answered (EndedStreams).
     */
    public static final int FLOW_CONTROL_WINDOW = 1 << 20;

    private final AgentConfig config;
    private final Registry registry = new Registry();
    /** ALLOW_ALL, or the --policy file's (loaded at start); guarded by being set before any server starts. */
    private Authorizer authorizer;
    private dev.bpfagent.agent.service.auth.AuditLog auditLog;
    private final HealthStatusManager health = new HealthStatusManager();
    private final List<Server> servers = new ArrayList<>();
    private final EventLoopGroup boss = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
    private final EventLoopGroup workers = new MultiThreadIoEventLoopGroup(0, EpollIoHandler.newFactory());
    /**
     * Calls with unbounded kernel work run here, not on the event loops (see CallExecutors): a test run
     * or a large load blocks in bpf(2). Bounded, so a flood of calls queues instead of spawning threads.
     */
    static final int POOL_THREADS = Math.max(8, 4 * Runtime.getRuntime().availableProcessors());
    private final ExecutorService callExecutor = Executors.newFixedThreadPool(POOL_THREADS, r -> {
                Thread t = new Thread(r, "bpf-agent-call");
                t.setDaemon(true);
                return t;
            });
    private final Admission admission;
    /** Numbers connections; when one ends, what was leased to it is closed (on the worker pool). */
    private final dev.bpfagent.agent.service.transport.Connections connections =
            new dev.bpfagent.agent.service.transport.Connections(id -> {
                BpfServiceImpl s = this.service;
                if (s == null) {
                    return;
                }
                try {
                    callExecutor.execute(() -> {
                        int n = s.connectionClosed(id);
                        if (n > 0) {
                            LOG.info("connection " + id + " ended: closed " + n + " object(s) leased to it");
                        }
                    });
                } catch (java.util.concurrent.RejectedExecutionException stopping) {
                    // the agent stops: it closes everything unpinned itself
                }
            });
    private volatile BpfServiceImpl service;
    private int tcpPort = -1;
    /** Set once this agent bound the socket: only then is the socket file ours to remove. */
    private boolean socketBound;
    private Optional<SocketActivation> activation = Optional.empty();
    private dev.bpfagent.agent.service.metrics.AgentMetrics metrics;
    private int metricsPort = -1;
    private boolean closed;
    /** The agent's bpffs directory, held open (with its flock) while it runs; null before start. */
    private PinPaths pins;

    public Agent(AgentConfig config) {
        this(config, Authorizer.ALLOW_ALL);
    }

    /** An agent whose every call is first put to this authorizer. */
    public Agent(AgentConfig config, Authorizer authorizer) {
        this.config = config;
        this.authorizer = authorizer;
        this.admission = new Admission(POOL_THREADS + config.maxQueuedCalls());
    }

    public static String version() {
        String v = Agent.class.getPackage().getImplementationVersion();
        return v == null ? "dev" : v;
    }

    /** Refuses to go on without the capabilities the agent needs, naming them. */
    public static void checkPrivileges() {
        var missing = Host.missingCapabilities();
        if (!missing.isEmpty()) {
            throw new IllegalStateException("the agent lacks " + String.join(", ", missing)
                    + ": run it as root (deploy/bpf-agent, or the systemd unit in deploy/)");
        }
    }

    public void start() throws IOException {
        checkPrivileges();
        // the files options name are read first: a bad one stops the start before anything is made
        if (config.policy().isPresent() && authorizer == Authorizer.ALLOW_ALL) {
            var policy = startWith("--policy " + config.policy().get(),
                    () -> new dev.bpfagent.agent.service.auth.PolicyAuthorizer(config.policy().get()));
            authorizer = policy;
            LOG.info("policy " + config.policy().get() + ": " + policy.policy().size() + " rule(s); SIGHUP reloads it");
            try {
                var before = sun.misc.Signal.handle(new sun.misc.Signal("HUP"), sig -> policy.reload());
                if (before == sun.misc.SignalHandler.SIG_IGN) {
                    // a SIGHUP ignored when the JVM started (nohup, some supervisors) stays ignored: the
                    // JVM does not install a handler over it
                    LOG.warning("SIGHUP is ignored in this process (started under nohup, or by a supervisor"
                            + " that ignores it): the policy is read at start only; restart the agent to change it");
                }
            } catch (IllegalArgumentException e) {
                LOG.warning("cannot catch SIGHUP (" + e.getMessage() + "): the policy is read at start only");
            }
        }
        if (config.auditLog().isPresent()) {
            auditLog = startWith("--audit-log " + config.auditLog().get(),
                    () -> new dev.bpfagent.agent.service.auth.AuditLog(config.auditLog().get()));
        }
        try {
            long memlock = Host.raiseMemlock(); // before 5.11 the kernel charges BPF memory to it
            if (memlock != -1 && !dev.bpfagent.agent.bpf.KernelVersion.atLeast(5, 11)) {
                LOG.warning("RLIMIT_MEMLOCK is " + memlock + " bytes and cannot be lifted: this kernel (before 5.11)"
                        + " charges maps and programs to it, so large ones will fail with EPERM");
            }
        } catch (RuntimeException e) {
            LOG.warning("cannot raise RLIMIT_MEMLOCK: " + e.getMessage());
        }
        if (Host.ensureBpffs()) {
            LOG.info("mounted bpffs at " + Host.BPFFS);
        }
        try {
            if (Host.ensureTracefs()) {
                LOG.info("mounted tracefs at " + Host.TRACEFS);
            }
        } catch (RuntimeException e) {
            LOG.warning("tracefs is not available (" + e.getMessage() + "); tracepoint attach will fail");
        }
        activation = SocketActivation.fromEnvironment();
        if (activation.isEmpty()) {
            prepareSocket(config.socket()); // first: a live agent on this socket is the plainest refusal
        } else if (!activation.get().path().equals(config.socket())) {
            LOG.info("serving the socket systemd passed, " + activation.get().path() + " (not --socket "
                    + config.socket() + ")");
        }
        pins = new PinPaths(config.bpffsDir());
        pins.createRoot();
        pins.lock();
        service = new BpfServiceImpl(registry, pins, version(), work -> {
            if (!admission.tryAcquire()) {
                throw Offload.overloaded(admission.limit());
            }
            try {
                callExecutor.execute(() -> {
                    try {
                        work.run();
                    } finally {
                        admission.releaseOne();
                    }
                });
            } catch (RuntimeException e) {
                admission.releaseOne();
                throw e;
            }
        }, authorizer);
        registry.records(startWith("--state-dir " + config.stateDir(),
                () -> new dev.bpfagent.agent.service.state.PinRecords(config.stateDir(), config.bpffsDir())));
        int adopted = service.adoptPins();
        if (adopted > 0) {
            LOG.info("holding " + adopted + " program(s) pinned under " + pins.root() + " by an earlier agent");
        }
        int applications = startWith("--state-dir " + config.stateDir(), () -> service.startApplications(
                config.stateDir()));
        if (applications > 0) {
            LOG.info("rebuilt " + applications + " application(s) recorded under " + config.stateDir());
        }
        var bound = ServerInterceptors.intercept(intercepted(service, authorizer, auditLog), admission);
        if (config.metrics().isPresent()) {
            var at = config.metrics().get();
            metrics = new dev.bpfagent.agent.service.metrics.AgentMetrics(registry, service.eventHub(),
                    service::applicationStats);
            bound = ServerInterceptors.intercept(bound, metrics.interceptor()); // outermost: the status clients see
            metricsPort = metrics.serve(at.host(), at.port());
            LOG.info("metrics at http://" + at.host() + ":" + metricsPort + "/metrics");
        }

        if (activation.isPresent()) {
            // systemd made the socket, with the unit's SocketMode/SocketGroup: served as it is, never removed
            servers.add(common(NettyServerBuilder.forAddress(new DomainSocketAddress(activation.get().path().toString()),
                            PeerCredentialsNegotiator.credentials())
                    .channelFactory(activation.get()::newChannel), bound)
                    .build()
                    .start());
        } else {
            bindSocket(bound);
        }

        if (config.tcp().isPresent()) {
            var tcp = config.tcp().get();
            var negotiator = InternalProtocolNegotiators.serverPlaintext();
            if (config.tlsCert().isPresent()) {
                var ssl = GrpcSslContexts.forServer(config.tlsCert().get().toFile(),
                        config.tlsKey().orElseThrow().toFile()).protocols("TLSv1.3", "TLSv1.2");
                if (config.tlsClientCa().isPresent()) {
                    ssl.trustManager(config.tlsClientCa().get().toFile()).clientAuth(ClientAuth.REQUIRE);
                }
                negotiator = InternalProtocolNegotiators.serverTls(ssl.build());
            } else if (!config.tcp().get().isLoopback()) {
                throw new IllegalStateException("refusing plaintext TCP on a non-loopback address");
            }
            NettyServerBuilder b = common(NettyServerBuilder.forAddress(new InetSocketAddress(tcp.host(), tcp.port()),
                            InternalNettyServerCredentials.create(EndedStreams.reset(negotiator)))
                    .channelType(EpollServerSocketChannel.class), bound);
            if (config.tlsClientCa().isEmpty()) {
                LOG.warning("--insecure-loopback: TCP " + tcp.host() + ":" + tcp.port() + " takes calls without client"
                        + " certificates; every local user can reach this root agent there");
            }
            Server tcpServer = b.build().start();
            servers.add(tcpServer);
            tcpPort = ((InetSocketAddress) tcpServer.getListenSockets().get(0)).getPort();
        }
        health.setStatus("", ServingStatus.SERVING);
        health.setStatus(BpfServiceGrpc.SERVICE_NAME, ServingStatus.SERVING);
    }

    /** The Unix socket made here: bound in a private directory, given its mode and group, renamed into place. */
    private void bindSocket(io.grpc.ServerServiceDefinition bound) throws IOException {
        Optional<GroupPrincipal> group = config.socketGroup().isPresent()
                ? Optional.of(groupNamed(config.socketGroup().get())) : Optional.empty();
        if (group.isPresent()) {
            Files.getFileAttributeView(config.socket().getParent(), PosixFileAttributeView.class)
                    .setGroup(group.get());
        }
        // The socket is bound in a private (0700) directory, given its mode (0660: root and the socket's
        // group may call the agent) and group there, and only then renamed into place: no connection
        // can arrive before it has them.
        Path bindDir = Files.createTempDirectory(config.socket().getParent(), ".bind-",
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        Path bound0 = bindDir.resolve("agent.sock");
        try {
            Server uds = common(NettyServerBuilder.forAddress(new DomainSocketAddress(bound0.toString()),
                            PeerCredentialsNegotiator.credentials())
                    .channelType(EpollServerDomainSocketChannel.class), bound)
                    .build()
                    .start();
            servers.add(uds);
            Files.setPosixFilePermissions(bound0, PosixFilePermissions.fromString("rw-rw----"));
            if (group.isPresent()) {
                Files.getFileAttributeView(bound0, PosixFileAttributeView.class).setGroup(group.get());
            }
            Files.move(bound0, config.socket(), java.nio.file.StandardCopyOption.ATOMIC_MOVE);
            socketBound = true;
        } finally {
            Files.deleteIfExists(bound0);
            Files.deleteIfExists(bindDir);
        }
    }

    /**
     * sd_notify READY=1 (Type=notify units), with the socket served and what is held, when systemd gave
     * NOTIFY_SOCKET; a notify socket that refuses is logged, not fatal.
     */
    public void notifyReady() {
        notify("READY=1\nSTATUS=serving " + socketPath() + (activation.isPresent() ? " (socket-activated)" : "")
                + "\nMAINPID=" + ProcessHandle.current().pid());
    }

    private static void notify(String state) {
        String socket = System.getenv("NOTIFY_SOCKET");
        if (socket == null || socket.isEmpty()) {
            return;
        }
        try {
            Host.sdNotify(socket, state);
        } catch (RuntimeException e) {
            LOG.warning("sd_notify to " + socket + " failed: " + e.getMessage());
        }
    }

    /** The Unix socket this agent serves: --socket, or the one systemd passed. */
    public Path socketPath() {
        return activation.map(SocketActivation::path).orElse(config.socket());
    }

    /**
     * The service with the interceptors every call passes, in order: the caller is read, the call is
     * logged, errors become statuses, the request's bytes are parsed (a failure is the client's), a
     * call its client already gave up on stops, the authorizer decides, then the handler runs.
     * (Interceptors run last-added first.)
     */
    public static io.grpc.ServerServiceDefinition intercepted(io.grpc.BindableService service, Authorizer authorizer) {
        return intercepted(service, authorizer, null);
    }

    /** As above, with an audit log written as each call closes (outside the error interceptor: its status). */
    public static io.grpc.ServerServiceDefinition intercepted(io.grpc.BindableService service, Authorizer authorizer,
                                                              dev.bpfagent.agent.service.auth.AuditLog audit) {
        var typed = ServerInterceptors.intercept(service, new AuthorizationInterceptor(authorizer), new Deadlines());
        var guarded = ServerInterceptors.intercept(RequestParsing.guard(typed), new ErrorInterceptor());
        if (audit != null) {
            guarded = ServerInterceptors.intercept(guarded, new dev.bpfagent.agent.service.auth.AuditInterceptor(audit));
        }
        return ServerInterceptors.intercept(guarded, new CallLogInterceptor(), new CallerInterceptor());
    }

    /** What both servers share: event loops, executors, message size, the services. */
    private NettyServerBuilder common(NettyServerBuilder b, io.grpc.ServerServiceDefinition bpfService) {
        return b.addTransportFilter(connections).bossEventLoopGroup(boss)
                .workerEventLoopGroup(workers)
                .maxInboundMessageSize(MAX_MESSAGE)
                .maxInboundMetadataSize(MAX_METADATA)
                .flowControlWindow(FLOW_CONTROL_WINDOW)
                // netty's allocator (unpooled: deploy/jvm.options), set after grpc-java's own choice
                .withChildOption(io.netty.channel.ChannelOption.ALLOCATOR, new TightCumulation(
                        io.netty.buffer.ByteBufAllocator.DEFAULT))
                .directExecutor()
                .callExecutor(new CallExecutors(callExecutor, admission))
                .addService(bpfService)
                .addService(health.getHealthService())
                .addService(ProtoReflectionServiceV1.newInstance())
                .addService(legacyReflection());
    }

    /** grpc.reflection.v1alpha, which older grpcurl and other tools still ask for first. */
    @SuppressWarnings("deprecation")
    private static io.grpc.BindableService legacyReflection() {
        return io.grpc.protobuf.services.ProtoReflectionService.newInstance();
    }

    private static GroupPrincipal groupNamed(String name) throws IOException {
        try {
            return FileSystems.getDefault().getUserPrincipalLookupService().lookupPrincipalByGroupName(name);
        } catch (UserPrincipalNotFoundException e) {
            throw new IllegalArgumentException("--socket-group: no group named '" + name + "'");
        }
    }

    interface Opening<T> {
        T open() throws IOException;
    }

    /** What an option names, opened; a failure says which option and why (a bare IOException names a path only). */
    private static <T> T startWith(String option, Opening<T> open) throws IOException {
        try {
            return open.open();
        } catch (java.nio.file.NoSuchFileException e) {
            throw new IOException(option + ": no such file or directory (" + e.getFile() + ")", e);
        } catch (java.nio.file.AccessDeniedException e) {
            throw new IOException(option + ": permission denied (" + e.getFile() + ")", e);
        } catch (IOException e) {
            throw new IOException(option + ": " + e, e);
        } catch (IllegalArgumentException e) {
            throw new IOException(e.getMessage(), e); // the policy's own words: file, rule and field
        }
    }

    /** The metrics HTTP port actually bound (useful with --metrics 0), if metrics are on. */
    public Optional<Integer> metricsPort() {
        return metricsPort < 0 ? Optional.empty() : Optional.of(metricsPort);
    }

    /** The TCP port actually bound (useful with --tcp 0), if TCP is on. */
    public Optional<Integer> tcpPort() {
        return tcpPort < 0 ? Optional.empty() : Optional.of(tcpPort);
    }

    /**
     * Creates the socket's directory (0750) and removes a stale socket left by an agent that died, but
     * refuses to start when another agent still answers on it.
     */
    static void prepareSocket(Path socket) throws IOException {
        Path dir = socket.getParent();
        if (!Files.isDirectory(dir)) {
            Files.createDirectories(dir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwxr-x---")));
        }
        if (Files.exists(socket)) {
            try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
                ch.connect(UnixDomainSocketAddress.of(socket));
                throw new IllegalStateException("another agent is serving on " + socket
                        + "; stop it, or give this one --socket with another path");
            } catch (IOException refused) {
                Files.delete(socket); // nobody listens: a stale socket
            }
        }
    }

    public void awaitTermination() throws InterruptedException {
        for (Server s : servers) {
            s.awaitTermination();
        }
    }

    /** Graceful stop: refuse new calls, let running ones finish (5 s), close programs nobody pinned. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        notify("STOPPING=1");
        health.enterTerminalState();
        if (service != null) {
            // before the servers: a subscription never ends by itself, it would hold their stop for its
            // whole grace period and then end CANCELLED instead of UNAVAILABLE after its last records
            service.eventHub().shutdown(5000);
        }
        servers.forEach(Server::shutdown);
        if (metrics != null) {
            metrics.close();
        }
        for (Server s : servers) {
            try {
                if (!s.awaitTermination(5, TimeUnit.SECONDS)) {
                    s.shutdownNow();
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                s.shutdownNow();
            }
        }
        if (service != null) {
            service.shutdown();
        } else {
            registry.closeAll();
        }
        if (socketBound) {
            try {
                Files.deleteIfExists(config.socket());
            } catch (IOException e) {
                LOG.warning("cannot remove " + config.socket() + ": " + e.getMessage());
            }
        }
        if (pins != null) {
            pins.close(); // releases the directory's flock, after every object is closed
        }
        if (auditLog != null) {
            try {
                auditLog.close();
            } catch (IOException e) {
                LOG.warning("closing the audit log: " + e.getMessage());
            }
        }
        callExecutor.shutdown();
        boss.shutdownGracefully(0, 1, TimeUnit.SECONDS);
        // waited for: the JVM exits right after this, and the last streams' trailers must reach their clients
        workers.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly(3, TimeUnit.SECONDS);
    }
}
