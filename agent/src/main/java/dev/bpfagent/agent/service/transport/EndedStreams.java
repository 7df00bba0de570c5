package dev.bpfagent.agent.service.transport;

import io.grpc.netty.GrpcHttp2ConnectionHandler;
import io.grpc.netty.InternalProtocolNegotiator;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.codec.http2.Http2ConnectionAdapter;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2Stream;

/**
 * Ends, with RST_STREAM(NO_ERROR), every stream the agent has answered in full while its caller is
 * still sending (RFC 9113 8.1: how a server asks a client to stop sending a request it has already
 * answered). Wraps any of grpc-java's negotiators.
 *
 * <p>Why: grpc-java refuses a message over the size limit by sending trailers (RESOURCE_EXHAUSTED), and
 * nothing else. The stream then stays half-open: the caller's remaining bytes are never read into a
 * call, so its flow-control window is never given back, the caller can send no more and never ends
 * the stream, and what had arrived stays buffered in direct memory with the stream, for as long as the
 * connection lives (OversizeTest's mix: 155 such streams held on two connections until the 96 MiB cap
 * was reached and netty failed both). Reset, the stream is closed on both sides at once.
 */
public final class EndedStreams implements InternalProtocolNegotiator.ProtocolNegotiator {
    private final InternalProtocolNegotiator.ProtocolNegotiator next;

    private EndedStreams(InternalProtocolNegotiator.ProtocolNegotiator next) {
        this.next = next;
    }

    public static InternalProtocolNegotiator.ProtocolNegotiator reset(InternalProtocolNegotiator.ProtocolNegotiator next) {
        return new EndedStreams(next);
    }

    @Override
    public io.netty.util.AsciiString scheme() {
        return next.scheme();
    }

    @Override
    public ChannelHandler newHandler(GrpcHttp2ConnectionHandler grpcHandler) {
        ChannelHandler negotiation = next.newHandler(grpcHandler);
        ChannelPipeline[] pipeline = new ChannelPipeline[1];
        grpcHandler.connection().addListener(new Http2ConnectionAdapter() {
            @Override
            public void onStreamHalfClosed(Http2Stream stream) {
                if (stream.state() != Http2Stream.State.HALF_CLOSED_LOCAL || pipeline[0] == null) {
                    return;
                }
                ChannelHandlerContext ctx = pipeline[0].context(grpcHandler);
                if (ctx == null) {
                    return;
                }
                // after the trailers that half-closed it have been written (this runs inside that write)
                ctx.executor().execute(() -> {
                    if (stream.state() == Http2Stream.State.HALF_CLOSED_LOCAL) {
                        grpcHandler.resetStream(ctx, stream.id(), Http2Error.NO_ERROR.code(), ctx.newPromise());
                        ctx.flush();
                    }
                });
            }
        });
        return new ChannelInboundHandlerAdapter() {
            @Override
            public void handlerAdded(ChannelHandlerContext ctx) {
                pipeline[0] = ctx.pipeline();
                ctx.pipeline().replace(this, null, negotiation);
            }
        };
    }

    @Override
    public void close() {
        next.close();
    }
}
