package dev.bpfagent.agent.service.transport;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.CompositeByteBuf;

/**
 * The allocator of the agent's connections: netty's default, except that a buffer
 * which has to grow gets what it needs, rounded to a KiB, not the next power of two.
 *
 * <p>Why: the HTTP/2 decoder gathers the bytes it reads into one buffer and grows it, through this
 * method, whenever a read leaves a partial frame. The DATA frames it decodes are slices of that buffer,
 * and grpc-java keeps them until the message they belong to is whole; so every grown buffer stays, with
 * its slack, for as long as a large message arrives. Rounded to powers of two, a 4 MiB message held
 * about 10 MiB of direct memory, and eight at once exhausted the agent's 96 MiB
 * (OversizeTest's mix; netty then fails the whole connection). Sized to fit, one holds little more
 * than its size.
 */
public final class TightCumulation implements ByteBufAllocator {
    private static final int ROUND = 1024;
    private final ByteBufAllocator netty;

    public TightCumulation(ByteBufAllocator netty) {
        this.netty = netty;
    }

    @Override
    public int calculateNewCapacity(int minNewCapacity, int maxCapacity) {
        if (minNewCapacity < 0 || minNewCapacity > maxCapacity) {
            // what netty says about it
            return netty.calculateNewCapacity(minNewCapacity, maxCapacity);
        }
        long rounded = ((long) minNewCapacity + ROUND - 1) / ROUND * ROUND;
        return (int) Math.min(rounded, maxCapacity);
    }

    @Override
    public ByteBuf buffer() {
        return netty.buffer();
    }

    @Override
    public ByteBuf buffer(int initialCapacity) {
        return netty.buffer(initialCapacity);
    }

    @Override
    public ByteBuf buffer(int initialCapacity, int maxCapacity) {
        return netty.buffer(initialCapacity, maxCapacity);
    }

    @Override
    public ByteBuf ioBuffer() {
        return netty.ioBuffer();
    }

    @Override
    public ByteBuf ioBuffer(int initialCapacity) {
        return netty.ioBuffer(initialCapacity);
    }

    @Override
    public ByteBuf ioBuffer(int initialCapacity, int maxCapacity) {
        return netty.ioBuffer(initialCapacity, maxCapacity);
    }

    @Override
    public ByteBuf heapBuffer() {
        return netty.heapBuffer();
    }

    @Override
    public ByteBuf heapBuffer(int initialCapacity) {
        return netty.heapBuffer(initialCapacity);
    }

    @Override
    public ByteBuf heapBuffer(int initialCapacity, int maxCapacity) {
        return netty.heapBuffer(initialCapacity, maxCapacity);
    }

    @Override
    public ByteBuf directBuffer() {
        return netty.directBuffer();
    }

    @Override
    public ByteBuf directBuffer(int initialCapacity) {
        return netty.directBuffer(initialCapacity);
    }

    @Override
    public ByteBuf directBuffer(int initialCapacity, int maxCapacity) {
        return netty.directBuffer(initialCapacity, maxCapacity);
    }

    @Override
    public CompositeByteBuf compositeBuffer() {
        return netty.compositeBuffer();
    }

    @Override
    public CompositeByteBuf compositeBuffer(int maxNumComponents) {
        return netty.compositeBuffer(maxNumComponents);
    }

    @Override
    public CompositeByteBuf compositeHeapBuffer() {
        return netty.compositeHeapBuffer();
    }

    @Override
    public CompositeByteBuf compositeHeapBuffer(int maxNumComponents) {
        return netty.compositeHeapBuffer(maxNumComponents);
    }

    @Override
    public CompositeByteBuf compositeDirectBuffer() {
        return netty.compositeDirectBuffer();
    }

    @Override
    public CompositeByteBuf compositeDirectBuffer(int maxNumComponents) {
        return netty.compositeDirectBuffer(maxNumComponents);
    }

    @Override
    public boolean isDirectBufferPooled() {
        return netty.isDirectBufferPooled();
    }
}
