package dev.bpfagent.client;

import java.nio.ByteBuffer;
import java.util.Objects;

/**
 * Synthetic packets for BPF_PROG_TEST_RUN (the seed's build-test-packet): Ethernet, then IPv4 or IPv6,
 * then TCP or UDP, with correct IPv4 header and TCP/UDP checksums.
 *
 * <pre>{@code
 * byte[] p = TestPackets.udp().dstPort(53).payload("hi".getBytes()).build();
 * byte[] q = TestPackets.tcp().ipv6().build(); // fd00::1 -> fd00::2
 * }</pre>
 * Defaults as in the seed: MACs 00:00:00:00:00:01 to 00:00:00:00:00:02, 10.0.0.1:12345 to 10.0.0.2:80.
 */
public final class TestPackets {
    public static final int ETH_HLEN = 14;
    public static final int ETH_P_IP = 0x0800;
    public static final int ETH_P_IPV6 = 0x86DD;
    public static final int IPPROTO_TCP = 6;
    public static final int IPPROTO_UDP = 17;
    /** TCP flag bits. */
    public static final int TCP_FIN = 0x01, TCP_SYN = 0x02, TCP_RST = 0x04, TCP_PSH = 0x08, TCP_ACK = 0x10;

    private TestPackets() {
    }

    /** The L4 protocol of a test packet. */
    public enum Protocol { TCP, UDP }

    public static Builder tcp() {
        return new Builder(Protocol.TCP);
    }

    public static Builder udp() {
        return new Builder(Protocol.UDP);
    }

    /** Builder; every setter validates its input. */
    public static final class Builder {
        private final Protocol protocol;
        private byte[] srcMac = mac("00:00:00:00:00:01");
        private byte[] dstMac = mac("00:00:00:00:00:02");
        private byte[] srcIp = ip("10.0.0.1");
        private byte[] dstIp = ip("10.0.0.2");
        private int srcPort = 12345;
        private int dstPort = 80;
        private int ttl = 64;
        private int tcpFlags = TCP_SYN;
        private long tcpSeq = 1;
        private byte[] payload = new byte[0];

        private Builder(Protocol protocol) {
            this.protocol = protocol;
        }

        public Builder srcMac(String v) { srcMac = mac(v); return this; }
        public Builder dstMac(String v) { dstMac = mac(v); return this; }
        /** An IPv4 or IPv6 literal; both addresses must be of one family. */
        public Builder srcIp(String v) { srcIp = ip(v); return this; }
        public Builder dstIp(String v) { dstIp = ip(v); return this; }
        public Builder srcPort(int v) { srcPort = port(v, "srcPort"); return this; }
        public Builder dstPort(int v) { dstPort = port(v, "dstPort"); return this; }
        /** IPv4 TTL / IPv6 hop limit, 0..255; default 64. */
        public Builder ttl(int v) {
            if (v < 0 || v > 255) {
                throw new IllegalArgumentException("ttl must be 0..255, got " + v);
            }
            ttl = v;
            return this;
        }
        /** TCP flags (TCP_SYN, TCP_ACK, ...); default SYN. */
        public Builder tcpFlags(int v) { tcpFlags = v & 0xff; return this; }
        public Builder tcpSeq(long v) { tcpSeq = v & 0xffffffffL; return this; }
        public Builder payload(byte[] v) { payload = Objects.requireNonNull(v, "payload").clone(); return this; }

        /** Switch to IPv6 with the default addresses fd00::1 and fd00::2. */
        public Builder ipv6() {
            srcIp = ip("fd00::1");
            dstIp = ip("fd00::2");
            return this;
        }

        public byte[] build() {
            if (srcIp.length != dstIp.length) {
                throw new IllegalArgumentException("srcIp and dstIp must both be IPv4 or both IPv6");
            }
            boolean v6 = srcIp.length == 16;
            int l4Len = (protocol == Protocol.TCP ? 20 : 8) + payload.length;
            int ipHeader = v6 ? 40 : 20;
            if (ipHeader + l4Len > 65535 + (v6 ? 40 : 0)) {
                throw new IllegalArgumentException("payload too large for one IP packet: " + payload.length);
            }
            ByteBuffer b = ByteBuffer.allocate(ETH_HLEN + ipHeader + l4Len); // big-endian: network order
            b.put(dstMac).put(srcMac).putShort((short) (v6 ? ETH_P_IPV6 : ETH_P_IP));
            int ipStart = b.position();
            int proto = protocol == Protocol.TCP ? IPPROTO_TCP : IPPROTO_UDP;
            if (v6) {
                b.putInt(0x60000000); // version 6, traffic class 0, flow label 0
                b.putShort((short) l4Len).put((byte) proto).put((byte) ttl).put(srcIp).put(dstIp);
            } else {
                b.put((byte) 0x45).put((byte) 0).putShort((short) (20 + l4Len));
                b.putShort((short) 0).putShort((short) 0x4000); // id 0, DF
                b.put((byte) ttl).put((byte) proto).putShort((short) 0).put(srcIp).put(dstIp);
                b.putShort(ipStart + 10, (short) Checksums.internet(b.array(), ipStart, 20));
            }
            int l4Start = b.position();
            b.putShort((short) srcPort).putShort((short) dstPort);
            int checksumAt;
            if (protocol == Protocol.TCP) {
                b.putInt((int) tcpSeq).putInt(0); // seq, ack
                b.put((byte) (5 << 4)).put((byte) tcpFlags).putShort((short) 65535); // data offset, flags, window
                checksumAt = b.position();
                b.putShort((short) 0).putShort((short) 0); // checksum, urgent pointer
            } else {
                b.putShort((short) l4Len);
                checksumAt = b.position();
                b.putShort((short) 0);
            }
            b.put(payload);
            int sum = Checksums.l4(b.array(), l4Start, l4Len, srcIp, dstIp, proto);
            if (protocol == Protocol.UDP && sum == 0) {
                sum = 0xffff; // RFC 768: a computed 0 is sent as all ones
            }
            b.putShort(checksumAt, (short) sum);
            return b.array();
        }
    }

    static byte[] mac(String s) {
        String[] parts = Objects.requireNonNull(s, "mac").split(":");
        if (parts.length != 6) {
            throw new IllegalArgumentException("not a MAC address (aa:bb:cc:dd:ee:ff): " + s);
        }
        byte[] out = new byte[6];
        for (int i = 0; i < 6; i++) {
            if (parts[i].length() != 2) {
                throw new IllegalArgumentException("not a MAC address (aa:bb:cc:dd:ee:ff): " + s);
            }
            try {
                out[i] = (byte) Integer.parseInt(parts[i], 16);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("not a MAC address (aa:bb:cc:dd:ee:ff): " + s);
            }
        }
        return out;
    }

    /** Parses an IPv4 or IPv6 literal without any name lookup. */
    static byte[] ip(String s) {
        Objects.requireNonNull(s, "ip");
        if (s.indexOf(':') >= 0) {
            return ipv6(s);
        }
        String[] parts = s.split("\\.", -1);
        if (parts.length != 4) {
            throw new IllegalArgumentException("not an IP address literal: " + s);
        }
        byte[] out = new byte[4];
        for (int i = 0; i < 4; i++) {
            out[i] = (byte) octet(parts[i], s);
        }
        return out;
    }

    private static int octet(String p, String whole) {
        try {
            int v = Integer.parseInt(p);
            if (p.isEmpty() || p.length() > 3 || v < 0 || v > 255) {
                throw new NumberFormatException();
            }
            return v;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("not an IP address literal: " + whole);
        }
    }

    private static byte[] ipv6(String s) {
        int dbl = s.indexOf("::");
        if (dbl != s.lastIndexOf("::")) {
            throw new IllegalArgumentException("not an IPv6 literal (two '::'): " + s);
        }
        String head = dbl < 0 ? s : s.substring(0, dbl);
        String tail = dbl < 0 ? "" : s.substring(dbl + 2);
        int[] h = groups(head, s);
        int[] t = groups(tail, s);
        if (dbl < 0 ? h.length != 8 : h.length + t.length > 7) {
            throw new IllegalArgumentException("not an IPv6 literal: " + s);
        }
        byte[] out = new byte[16];
        for (int i = 0; i < h.length; i++) {
            out[2 * i] = (byte) (h[i] >> 8);
            out[2 * i + 1] = (byte) h[i];
        }
        for (int i = 0; i < t.length; i++) {
            int at = 8 - t.length + i;
            out[2 * at] = (byte) (t[i] >> 8);
            out[2 * at + 1] = (byte) t[i];
        }
        return out;
    }

    private static int[] groups(String part, String whole) {
        if (part.isEmpty()) {
            return new int[0];
        }
        String[] g = part.split(":", -1);
        int[] out = new int[g.length];
        for (int i = 0; i < g.length; i++) {
            if (g[i].isEmpty() || g[i].length() > 4) {
                throw new IllegalArgumentException("not an IPv6 literal: " + whole);
            }
            try {
                out[i] = Integer.parseInt(g[i], 16);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("not an IPv6 literal: " + whole);
            }
        }
        return out;
    }

    private static int port(int v, String name) {
        if (v < 0 || v > 65535) {
            throw new IllegalArgumentException(name + " must be 0..65535, got " + v);
        }
        return v;
    }
}
