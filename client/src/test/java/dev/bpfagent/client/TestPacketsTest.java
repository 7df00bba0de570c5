package dev.bpfagent.client;

import static org.junit.jupiter.api.Assertions.*;

import java.util.HexFormat;
import org.junit.jupiter.api.Test;

/**
 * Packets against known answers and against the receiver's rule: a one's-complement sum over a header
 * (or pseudo-header plus segment) that includes its checksum folds to 0xffff. That check is written
 * here separately from Checksums, so a mistake in one does not hide in the other.
 */
class TestPacketsTest {
    /** Independent receiver-side verification: sum of 16-bit words, folded, must be 0xffff. */
    static int onesSum(byte[]... parts) {
        long sum = 0;
        for (byte[] p : parts) {
            for (int i = 0; i < p.length; i += 2) {
                int hi = p[i] & 0xff;
                int lo = i + 1 < p.length ? p[i + 1] & 0xff : 0;
                sum += (hi << 8) | lo;
            }
        }
        while (sum > 0xffff) {
            sum = (sum >> 16) + (sum & 0xffff);
        }
        return (int) sum;
    }

    static byte[] slice(byte[] b, int from, int len) {
        return java.util.Arrays.copyOfRange(b, from, from + len);
    }

    @Test
    void seedDefaultsTcp() {
        byte[] p = TestPackets.tcp().build();
        assertEquals(14 + 20 + 20, p.length);
        assertEquals("000000000002" + "000000000001" + "0800", HexFormat.of().formatHex(p, 0, 14));
        assertEquals("0a000001", HexFormat.of().formatHex(p, 26, 30)); // 10.0.0.1
        assertEquals("0a000002", HexFormat.of().formatHex(p, 30, 34)); // 10.0.0.2
        assertEquals(6, p[23]);
        assertEquals(12345, ((p[34] & 0xff) << 8) | (p[35] & 0xff));
        assertEquals(80, ((p[36] & 0xff) << 8) | (p[37] & 0xff));
        assertEquals(0xffff, onesSum(slice(p, 14, 20)), "IPv4 header checksum");
        byte[] pseudo = {10, 0, 0, 1, 10, 0, 0, 2, 0, 6, 0, 20};
        assertEquals(0xffff, onesSum(pseudo, slice(p, 34, 20)), "TCP checksum");
    }

    @Test
    void ipv4HeaderChecksumKnownAnswer() {
        // The worked example of the IPv4 header checksum (total length 0x73, DF, TTL 64, UDP,
        // 192.168.0.1 -> 192.168.0.199): checksum 0xb861.
        byte[] p = TestPackets.udp().srcIp("192.168.0.1").dstIp("192.168.0.199").payload(new byte[0x73 - 28]).build();
        assertEquals("45000073000040004011b861c0a80001c0a800c7", HexFormat.of().formatHex(p, 14, 34));
    }

    @Test
    void udpWithOddPayload() {
        byte[] payload = "hello".getBytes();
        byte[] p = TestPackets.udp().srcPort(1000).dstPort(53).payload(payload).build();
        assertEquals(14 + 20 + 8 + 5, p.length);
        assertEquals(17, p[23]);
        int udpLen = 8 + payload.length;
        assertEquals(udpLen, ((p[38] & 0xff) << 8) | (p[39] & 0xff));
        byte[] pseudo = {10, 0, 0, 1, 10, 0, 0, 2, 0, 17, 0, (byte) udpLen};
        assertEquals(0xffff, onesSum(pseudo, slice(p, 34, udpLen)), "UDP checksum");
        assertNotEquals(0, ((p[40] & 0xff) << 8) | (p[41] & 0xff));
    }

    @Test
    void ipv6Udp() {
        byte[] p = TestPackets.udp().ipv6().payload(new byte[] {1, 2, 3}).build();
        assertEquals(14 + 40 + 8 + 3, p.length);
        assertEquals("86dd", HexFormat.of().formatHex(p, 12, 14));
        assertEquals(0x60, p[14] & 0xf0);
        assertEquals(11, ((p[18] & 0xff) << 8) | (p[19] & 0xff)); // payload length
        assertEquals(17, p[20]);
        assertEquals("fd000000000000000000000000000001", HexFormat.of().formatHex(p, 22, 38));
        byte[] pseudo = new byte[40];
        System.arraycopy(p, 22, pseudo, 0, 32);
        pseudo[35] = 11;
        pseudo[39] = 17;
        assertEquals(0xffff, onesSum(pseudo, slice(p, 54, 11)), "UDP over IPv6 checksum");
    }

    @Test
    void ipv6Tcp() {
        byte[] p = TestPackets.tcp().srcIp("2001:db8::1").dstIp("2001:db8::abcd").tcpFlags(TestPackets.TCP_ACK).build();
        assertEquals("20010db8000000000000000000000001", HexFormat.of().formatHex(p, 22, 38));
        assertEquals("20010db800000000000000000000abcd", HexFormat.of().formatHex(p, 38, 54));
        assertEquals(TestPackets.TCP_ACK, p[54 + 13]);
        byte[] pseudo = new byte[40];
        System.arraycopy(p, 22, pseudo, 0, 32);
        pseudo[35] = 20;
        pseudo[39] = 6;
        assertEquals(0xffff, onesSum(pseudo, slice(p, 54, 20)), "TCP over IPv6 checksum");
    }

    @Test
    void badInputsAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> TestPackets.tcp().srcMac("00:11"));
        assertThrows(IllegalArgumentException.class, () -> TestPackets.tcp().srcMac("zz:00:00:00:00:00"));
        assertThrows(IllegalArgumentException.class, () -> TestPackets.tcp().srcIp("10.0.0.256"));
        assertThrows(IllegalArgumentException.class, () -> TestPackets.tcp().srcIp("example.com"));
        assertThrows(IllegalArgumentException.class, () -> TestPackets.tcp().srcIp("1::2::3"));
        assertThrows(IllegalArgumentException.class, () -> TestPackets.tcp().dstPort(70000));
        assertThrows(IllegalArgumentException.class, () -> TestPackets.tcp().ttl(300));
        assertThrows(IllegalArgumentException.class, () -> TestPackets.tcp().srcIp("fd00::1").build(),
                "mixed families");
    }
}
