package dev.bpfagent.agent.service.transport;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** sd_listen_fds' rules: for this pid only, one socket or the one named bpf-agent, and only a listening Unix stream socket. */
class SocketActivationTest {
    @Test
    void noneOrAnotherProcessesIsNotOurs(@TempDir Path proc) throws Exception {
        assertTrue(SocketActivation.of(Map.of(), 42, proc).isEmpty());
        assertTrue(SocketActivation.of(Map.of("LISTEN_FDS", "1", "LISTEN_PID", "7"), 42, proc).isEmpty());
        assertTrue(SocketActivation.of(Map.of("LISTEN_FDS", "0", "LISTEN_PID", "42"), 42, proc).isEmpty());
        var bad = assertThrows(IllegalStateException.class,
                () -> SocketActivation.of(Map.of("LISTEN_FDS", "x", "LISTEN_PID", "42"), 42, proc));
        assertTrue(bad.getMessage().contains("LISTEN_FDS=x"));
    }

    @Test
    void severalNeedOurName(@TempDir Path proc) {
        var e = assertThrows(IllegalStateException.class, () -> SocketActivation.of(Map.of("LISTEN_FDS", "2",
                "LISTEN_PID", "42", "LISTEN_FDNAMES", "web:metrics"), 42, proc));
        assertTrue(e.getMessage().contains("FileDescriptorName=bpf-agent"), e.getMessage());
    }

    @Test
    void theFdMustBeAListeningUnixStreamSocket(@TempDir Path proc) throws Exception {
        Files.createDirectories(proc.resolve("fd"));
        Files.createDirectories(proc.resolve("net"));
        Files.createSymbolicLink(proc.resolve("fd/3"), Path.of("socket:[1001]"));
        Files.createSymbolicLink(proc.resolve("fd/4"), Path.of("socket:[1002]"));
        Files.createSymbolicLink(proc.resolve("fd/5"), Path.of("/etc/hostname"));
        Files.createSymbolicLink(proc.resolve("fd/6"), Path.of("socket:[1003]"));
        Files.writeString(proc.resolve("net/unix"), String.join("\n",
                "Num       RefCount Protocol Flags    Type St Inode Path",
                "0000000000000000: 00000002 00000000 00010000 0001 01 1001 /run/bpf-agent/agent.sock",
                "0000000000000000: 00000002 00000000 00000000 0002 01 1002 /run/dgram.sock", ""));
        assertEquals(Path.of("/run/bpf-agent/agent.sock"), SocketActivation.listeningUnixPath(proc, 3));
        assertTrue(assertThrows(IllegalStateException.class, () -> SocketActivation.listeningUnixPath(proc, 4))
                .getMessage().contains("not a listening stream socket"));
        assertTrue(assertThrows(IllegalStateException.class, () -> SocketActivation.listeningUnixPath(proc, 5))
                .getMessage().contains("is /etc/hostname, not a socket"));
        assertTrue(assertThrows(IllegalStateException.class, () -> SocketActivation.listeningUnixPath(proc, 6))
                .getMessage().contains("not a Unix socket with a path"));
        assertTrue(assertThrows(IllegalStateException.class, () -> SocketActivation.listeningUnixPath(proc, 7))
                .getMessage().contains("has no fd 7"));
    }
}
