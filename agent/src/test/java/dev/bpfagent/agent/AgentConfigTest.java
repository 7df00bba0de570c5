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

    @Test
    void metricsStayOnLoopback() {
        assertEquals(java.util.Optional.of(new AgentConfig.TcpAddress("127.0.0.1", 9464)),
                AgentConfig.parse(new String[] {"--metrics", "9464"}).metrics());
        var e = assertThrows(IllegalArgumentException.class, () -> AgentConfig.parse(new String[] {"--metrics", "0.0.0.0:9464"}));
        assertTrue(e.getMessage().contains("not a loopback address"), e.getMessage());
        assertTrue(assertThrows(IllegalArgumentException.class, () -> AgentConfig.parse(new String[] {"--metrics", "x:y"}))
                .getMessage().startsWith("--metrics: 'x:y'"));
    }

    @Test
    void aConfigFileGivesEveryOptionAndFlagsWin(@org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
        Path yaml = dir.resolve("agent.yaml");
        java.nio.file.Files.writeString(yaml, """
                socket: /run/x/agent.sock
                tcp: 127.0.0.1:7000
                insecure-loopback: true
                metrics: 9464
                max-queued-calls: 8
                log-format: json
                state-dir: /var/lib/x
                """);
        AgentConfig c = AgentConfig.parse(new String[] {"--config", yaml.toString(), "--max-queued-calls", "16"});
        assertEquals(Path.of("/run/x/agent.sock"), c.socket());
        assertEquals(7000, c.tcp().orElseThrow().port());
        assertTrue(c.insecureLoopback());
        assertEquals(9464, c.metrics().orElseThrow().port());
        assertEquals(16, c.maxQueuedCalls(), "the flag wins over the file");
        assertTrue(c.jsonLogs());
        Path json = dir.resolve("agent.json");
        java.nio.file.Files.writeString(json, "{\"socket\": \"/run/y.sock\", \"insecure-loopback\": false}");
        assertEquals(Path.of("/run/y.sock"), AgentConfig.parse(new String[] {"--config", json.toString()}).socket());
        for (String bad : java.util.List.of("sockit: /x", "insecure-loopback: yes-please", "tcp: [1, 2]", "- a list")) {
            java.nio.file.Files.writeString(yaml, bad);
            var e = assertThrows(IllegalArgumentException.class, () -> AgentConfig.parse(new String[] {"--config",
                    yaml.toString()}), bad);
            assertTrue(e.getMessage().startsWith("--config " + yaml + ": "), e.getMessage());
        }
        assertTrue(assertThrows(IllegalArgumentException.class, () -> AgentConfig.parse(new String[] {"--config",
                dir.resolve("none.yaml").toString()})).getMessage().contains("no such file"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> AgentConfig.parse(new String[] {"--log-format",
                "xml"})).getMessage().contains("text or json"));
    }

    @Test
    void everyOptionInTheUsageHasAConfigKey() {
        var flags = new java.util.TreeSet<String>();
        var m = java.util.regex.Pattern.compile("^\\s+--([a-z-]+)", java.util.regex.Pattern.MULTILINE).matcher(AgentConfig.USAGE);
        while (m.find()) {
            flags.add(m.group(1));
        }
        flags.removeAll(java.util.Set.of("help", "version", "config"));
        assertEquals(flags, new java.util.TreeSet<>(ConfigFile.union()));
    }
}
