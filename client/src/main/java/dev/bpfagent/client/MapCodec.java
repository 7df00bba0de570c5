package dev.bpfagent.client;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Keys and values as the kernel stores them: host byte order, which is little-endian on every
 * architecture the agent runs on (x86_64, aarch64). Fixed-size structs implement {@link Codec}.
 */
public final class MapCodec {
    private MapCodec() {
    }

    /** A fixed-size value type: to and from the bytes the kernel stores. */
    public interface Codec<T> {
        byte[] encode(T value);

        T decode(byte[] bytes);
    }

    public static byte[] u32(int v) {
        return ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(v).array();
    }

    public static byte[] u64(long v) {
        return ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(v).array();
    }

    public static int asU32(byte[] b) {
        if (b.length != 4) {
            throw new IllegalArgumentException(b.length + " bytes, not a u32");
        }
        return ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).getInt();
    }

    public static long asU64(byte[] b) {
        if (b.length != 8) {
            throw new IllegalArgumentException(b.length + " bytes, not a u64");
        }
        return ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).getLong();
    }

    /** u32 keys or values. */
    public static final Codec<Integer> U32 = new Codec<>() {
        @Override
        public byte[] encode(Integer value) {
            return u32(value);
        }

        @Override
        public Integer decode(byte[] bytes) {
            return asU32(bytes);
        }
    };

    /** u64 keys or values. */
    public static final Codec<Long> U64 = new Codec<>() {
        @Override
        public byte[] encode(Long value) {
            return u64(value);
        }

        @Override
        public Long decode(byte[] bytes) {
            return asU64(bytes);
        }
    };
}
