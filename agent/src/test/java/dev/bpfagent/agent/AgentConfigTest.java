package dev.bpfagent.agent;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class AgentConfigTest {
    @Test
    void defaults() {
        AgentConfig c = AgentConfig.parse(new String[0]);
        assertEquals(AgentConfig.DEFAULT_SOCKET, c.socket());
        assertTrue(c.tcp().isEmpty());
        assertTrue(c.socketGroup().isEmpty());
        assertEquals(java.util.Optional.of("bpf"), AgentConfig.parse(new String[] {"--socket-group", "bpf"}).socketGroup());
        assertEquals(Path.of("/sys/fs/bpf/bpf-agent"), c.bpffsDir());
    }

    @Test
    void tcpAddresses() {
        assertEquals(new AgentConfig.TcpAddress("127.0.0.1", 50051), AgentConfig.tcpAddress("50051"));
        assertEquals(new AgentConfig.TcpAddress("::1", 7), AgentConfig.tcpAddress("[::1]:7"));
        assertEquals(new AgentConfig.TcpAddress("localhost", 0), AgentConfig.tcpAddress("localhost:0"));
        assertThrows(IllegalArgumentException.class, () -> AgentConfig.tcpAddress("host:99999"));
        assertThrows(IllegalArgumentException.class, () -> AgentConfig.tcpAddress("host:http"));
    }

    @Test
    void remotePlaintextIsRefused() {
        var e = assertThrows(IllegalArgumentException.class,
                () -> AgentConfig.parse(new String[] {"--tcp", "0.0.0.0:50051"}));
        assertTrue(e.getMessage().contains("--tls-cert"), e.getMessage());
        var serverOnly = assertThrows(IllegalArgumentException.class, () -> AgentConfig.parse(new String[] {"--tcp",
                "0.0.0.0:50051", "--tls-cert", "c.pem", "--tls-key", "k.pem"}));
        assertTrue(serverOnly.getMessage().contains("mutual TLS"), serverOnly.getMessage());
        var plainLoopback = assertThrows(IllegalArgumentException.class, () -> AgentConfig.parse(new String[] {"--tcp",
                "127.0.0.1:50051"}));
        assertTrue(plainLoopback.getMessage().contains("--insecure-loopback"), plainLoopback.getMessage());
        assertTrue(AgentConfig.parse(new String[] {"--tcp", "127.0.0.1:1", "--insecure-loopback"}).insecureLoopback());
        assertThrows(IllegalArgumentException.class, () -> AgentConfig.parse(new String[] {"--tcp", "0.0.0.0:1",
                "--insecure-loopback"}));
        assertThrows(IllegalArgumentException.class, () -> AgentConfig.parse(new String[] {"--tls-cert", "c.pem"}));
        assertThrows(IllegalArgumentException.class, () -> AgentConfig.parse(new String[] {"--tls-client-ca", "ca.pem"}));
        assertTrue(AgentConfig.parse(new String[] {"--tcp", "0.0.0.0:1", "--tls-cert", "c", "--tls-key", "k",
                "--tls-client-ca", "ca"}).tlsClientCa().isPresent());
        assertThrows(IllegalArgumentException.class, () -> AgentConfig.parse(new String[] {"--socket"}));
        assertThrows(IllegalArgumentException.class, () -> AgentConfig.parse(new String[] {"--what"}));
        assertThrows(IllegalArgumentException.class, () -> AgentConfig.parse(new String[] {"--bpffs-dir", "rel"}));
    }
}
