package dev.bpfagent.client;

import io.grpc.ManagedChannel;
import io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.NettyChannelBuilder;
import io.netty.channel.Channel;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollDomainSocketChannel;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioDomainSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.channel.unix.DomainSocketAddress;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.io.File;
import java.net.SocketAddress;
import java.net.UnixDomainSocketAddress;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLException;

/**
 * Channels to an agent. Targets: {@code unix:/run/bpf-agent/agent.sock} (the default), or
 * {@code HOST:PORT} over TCP (plaintext, or TLS when a trust certificate is given).
 *
 * <p>Transports: netty's native epoll where it loads (Linux x86_64 and aarch64); elsewhere — macOS,
 * other architectures, {@code -Dio.netty.transport.noNative=true}, JVMs that may not load native code
 * — netty's NIO transport, whose Unix sockets are the JDK's own (JDK 16+). Either way the event-loop
 * threads are daemon threads: a client that is never closed does not keep its JVM alive.
 */
public final class AgentChannels {
    /** Where the agent listens by default. */
    public static final String DEFAULT_TARGET = "unix:/run/bpf-agent/agent.sock";
    /** Room for 1M-instruction programs and 16 MiB verifier logs. */
    public static final int MAX_MESSAGE = 64 * 1024 * 1024;

    /**
     * grpc-netty sets SO_KEEPALIVE on every channel, which a Unix socket does not have, and netty warns
     * about it on each connection. Only that logger is quieted; held so the setting sticks.
     */
    private static final java.util.logging.Logger NETTY_BOOTSTRAP =
            java.util.logging.Logger.getLogger("io.netty.bootstrap");

    private AgentChannels() {
    }

    /** A channel and the event loop it runs on; closing it shuts both down. */
    public static final class Connection implements AutoCloseable {
        private final ManagedChannel channel;
        private final EventLoopGroup group;
        private final String target;

        Connection(ManagedChannel channel, EventLoopGroup group, String target) {
            this.channel = channel;
            this.group = group;
            this.target = target;
        }

        /** The target this connection was made for, as given. */
        public String target() {
            return target;
        }

        public ManagedChannel channel() {
            return channel;
        }

        @Override
        public void close() {
            channel.shutdown();
            try {
                if (!channel.awaitTermination(5, TimeUnit.SECONDS)) {
                    channel.shutdownNow();
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                channel.shutdownNow();
            }
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
        }
    }

    /**
     * Whether this JVM uses netty's native epoll transport: false where its native library is missing
     * or not allowed (then NIO is used). Asked once per connection; netty caches the answer.
     */
    public static boolean nativeTransport() {
        try {
            return Epoll.isAvailable();
        } catch (LinkageError e) {
            return false; // the epoll classes themselves are missing from the classpath
        }
    }

    private static IoHandlerFactory nioFactory() {
        return NioIoHandler.newFactory();
    }

    /** Plaintext: a Unix socket ("unix:PATH") or TCP ("HOST:PORT", meant for loopback). */
    public static Connection connect(String target) {
        return connect(target, null);
    }

    /**
     * @param trustCertPem for TCP targets: the PEM certificate(s) to trust for TLS; null for plaintext
     */
    public static Connection connect(String target, File trustCertPem) {
        return connect(target, trustCertPem, null, null);
    }

    /**
     * @param trustCertPem for TCP targets: the PEM certificate(s) to trust for TLS; null for plaintext
     * @param clientCertPem with clientKeyPem: this client's certificate chain, for an agent that
     *     requires mutual TLS (--tls-client-ca); null for none
     * @param clientKeyPem PKCS#8 PEM private key of clientCertPem
     */
    public static Connection connect(String target, File trustCertPem, File clientCertPem, File clientKeyPem) {
        if (target == null || target.isBlank()) {
            throw new IllegalArgumentException("target is required: unix:/path/to/agent.sock or host:port");
        }
        boolean epoll = nativeTransport();
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, new DefaultThreadFactory("bpf-agent-client", true),
                epoll ? EpollIoHandler.newFactory() : nioFactory());
        try {
            NettyChannelBuilder b;
            if (target.startsWith("unix:")) {
                NETTY_BOOTSTRAP.setLevel(java.util.logging.Level.SEVERE);
                String path = target.substring("unix:".length());
                while (path.startsWith("//")) {
                    path = path.substring(1); // unix:///run/x -> /run/x
                }
                SocketAddress address = epoll ? new DomainSocketAddress(path) : UnixDomainSocketAddress.of(path);
                Class<? extends Channel> type = epoll ? EpollDomainSocketChannel.class : NioDomainSocketChannel.class;
                b = NettyChannelBuilder.forAddress(address).channelType(type).usePlaintext();
            } else {
                b = NettyChannelBuilder.forTarget(target)
                        .channelType(epoll ? EpollSocketChannel.class : NioSocketChannel.class);
                if (trustCertPem != null) {
                    var ssl = GrpcSslContexts.forClient().trustManager(trustCertPem);
                    if (clientCertPem != null) {
                        ssl.keyManager(clientCertPem, clientKeyPem);
                    }
                    b.sslContext(ssl.build());
                } else {
                    b.usePlaintext();
                }
            }
            ManagedChannel ch = b.eventLoopGroup(group).maxInboundMessageSize(MAX_MESSAGE).build();
            return new Connection(ch, group, target);
        } catch (SSLException | RuntimeException e) {
            group.shutdownGracefully(0, 0, TimeUnit.SECONDS);
            throw new IllegalArgumentException("cannot make a channel to " + target + ": " + e.getMessage(), e);
        }
    }
}
