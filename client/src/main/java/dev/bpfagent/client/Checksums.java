package dev.bpfagent.client;

/** The Internet checksum (RFC 1071) and the TCP/UDP checksum over the IPv4/IPv6 pseudo-header. */
final class Checksums {
    private Checksums() {
    }

    /** One's-complement sum of 16-bit big-endian words, not yet folded or inverted. */
    static long sum(byte[] data, int off, int len, long acc) {
        int i = 0;
        for (; i + 1 < len; i += 2) {
            acc += ((data[off + i] & 0xff) << 8) | (data[off + i + 1] & 0xff);
        }
        if (i < len) {
            acc += (data[off + i] & 0xff) << 8; // odd length: pad with a zero byte
        }
        return acc;
    }

    static int fold(long acc) {
        while ((acc >>> 16) != 0) {
            acc = (acc & 0xffff) + (acc >>> 16);
        }
        return (int) (~acc & 0xffff);
    }

    static int internet(byte[] data, int off, int len) {
        return fold(sum(data, off, len, 0));
    }

    /** TCP/UDP checksum: the segment plus the pseudo-header (addresses, protocol, length). */
    static int l4(byte[] data, int off, int len, byte[] src, byte[] dst, int proto) {
        long acc = sum(src, 0, src.length, 0);
        acc = sum(dst, 0, dst.length, acc);
        acc += proto;
        acc += len; // IPv4: 16-bit length; IPv6: 32-bit length, same sum while len < 65536
        return fold(sum(data, off, len, acc));
    }
}
