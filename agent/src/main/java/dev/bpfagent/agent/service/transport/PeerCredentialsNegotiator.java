package dev.bpfagent.agent.service.transport;

import dev.bpfagent.agent.service.auth.Caller;
import io.grpc.Attributes;
import io.grpc.ServerCredentials;
import io.grpc.netty.GrpcHttp2ConnectionHandler;
import io.grpc.netty.InternalNettyServerCredentials;
import io.grpc.netty.InternalProtocolNegotiationEvent;
import io.grpc.netty.InternalProtocolNegotiator;
import io.grpc.netty.InternalProtocolNegotiators;
import io.grpc.netty.ProtocolNegotiationEvent;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.epoll.EpollDomainSocketChannel;
import io.netty.channel.unix.PeerCredentials;
import java.io.IOException;
import java.util.logging.Logger;

/**
 * Plaintext server credentials for the Unix socket that also record who connected. grpc-java has no
 * public way to give a call its Unix peer's credentials (grpc-java issue 2646); its negotiator hook
 * (the "Internal" API, pinned with grpc 1.85.1) is where a connection's attributes are made, so this
 * wraps the plaintext negotiator and adds a {@link Caller} read with SO_PEERCRED (netty's
 * {@code peerCredentials()}) when the connection is accepted.
 */
public final class PeerCredentialsNegotiator implements InternalProtocolNegotiator.ProtocolNegotiator {
    private static final Logger LOG = Logger.getLogger(PeerCredentialsNegotiator.class.getName());

    private final InternalProtocolNegotiator.ProtocolNegotiator plaintext = InternalProtocolNegotiators.serverPlaintext();

    public static ServerCredentials credentials() {
        return InternalNettyServerCredentials.create(EndedStreams.reset(new PeerCredentialsNegotiator()));
    }

    @Override
    public io.netty.util.AsciiString scheme() {
        return plaintext.scheme();
    }

    @Override
    public ChannelHandler newHandler(GrpcHttp2ConnectionHandler grpcHandler) {
        ChannelHandler next = plaintext.newHandler(grpcHandler);
        return new ChannelInboundHandlerAdapter() {
            @Override
            public void handlerAdded(ChannelHandlerContext ctx) {
                ctx.pipeline().addAfter(ctx.name(), null, next);
            }

            @Override
            public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
                if (evt instanceof ProtocolNegotiationEvent pne) {
                    Attributes attrs = InternalProtocolNegotiationEvent.getAttributes(pne).toBuilder()
                            .set(Caller.TRANSPORT_ATTR, peer(ctx))
                            .build();
                    ctx.pipeline().remove(this);
                    ctx.fireUserEventTriggered(InternalProtocolNegotiationEvent.withAttributes(pne, attrs));
                    return;
                }
                super.userEventTriggered(ctx, evt);
            }
        };
    }

    private static Caller peer(ChannelHandlerContext ctx) {
        if (ctx.channel() instanceof EpollDomainSocketChannel ch) {
            try {
                PeerCredentials pc = ch.peerCredentials();
                int[] gids = pc.gids();
                return Caller.unix(pc.pid(), pc.uid(), gids.length > 0 ? gids[0] : -1, supplementaryGroups(pc.pid()));
            } catch (IOException | UnsupportedOperationException e) {
                LOG.warning("cannot read the peer's credentials (SO_PEERCRED): " + e.getMessage());
            }
        }
        return Caller.UNKNOWN;
    }

    @Override
    public void close() {
        plaintext.close();
    }

    /**
     * The peer's supplementary groups, from /proc/PID/status ("Groups:") as the connection is accepted
     * (SO_PEERCRED carries only the primary gid); none when the process is already gone.
     */
    static java.util.List<Integer> supplementaryGroups(int pid) {
        try {
            for (String l : java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc/" + pid + "/status"))) {
                if (l.startsWith("Groups:")) {
                    java.util.List<Integer> out = new java.util.ArrayList<>();
                    for (String g : l.substring("Groups:".length()).trim().split("\\s+")) {
                        if (!g.isEmpty()) {
                            out.add(Integer.parseInt(g));
                        }
                    }
                    return out;
                }
            }
        } catch (java.io.IOException | NumberFormatException e) {
            // gone, or unreadable: the primary gid still counts
        }
        return java.util.List.of();
    }
}
