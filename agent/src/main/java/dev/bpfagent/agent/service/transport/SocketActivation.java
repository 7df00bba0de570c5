package dev.bpfagent.agent.service.transport;

import dev.bpfagent.agent.bpf.Host;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.ChannelPromise;
import io.netty.channel.ServerChannel;
import io.netty.channel.epoll.EpollServerDomainSocketChannel;
import java.io.IOException;
import java.net.SocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * systemd socket activation (sd_listen_fds(3)): the listening Unix socket systemd (or
 * systemd-socket-activate) made and passed as fd 3, served as it is: it is not bound again, renamed or
 * removed. Connections that arrived before the agent started wait in its backlog and are served.
 *
 * @param fd the inherited descriptor
 * @param path the socket's path, as the kernel has it (/proc/self/net/unix)
 */
public record SocketActivation(int fd, Path path) {
    /** SD_LISTEN_FDS_START */
    static final int FIRST_FD = 3;
    /** The name a unit gives our socket (FileDescriptorName=), when it passes several. */
    public static final String FD_NAME = "bpf-agent";
    /** /proc/net/unix: __SO_ACCEPTCON in Flags, SOCK_STREAM in Type. */
    static final int SO_ACCEPTCON = 0x10000;
    static final int SOCK_STREAM = 1;

    /** The socket passed to this process, if one was; a passed fd that is not a listening Unix stream socket is an error. */
    public static Optional<SocketActivation> fromEnvironment() throws IOException {
        return of(System.getenv(), ProcessHandle.current().pid(), Path.of("/proc/self"));
    }

    static Optional<SocketActivation> of(Map<String, String> env, long pid, Path proc) throws IOException {
        String fds = env.get("LISTEN_FDS");
        String forPid = env.get("LISTEN_PID");
        if (fds == null || forPid == null || !forPid.equals(Long.toString(pid))) {
            return Optional.empty(); // none, or meant for another process (sd_listen_fds ignores it too)
        }
        int n;
        try {
            n = Integer.parseInt(fds);
        } catch (NumberFormatException e) {
            throw new IllegalStateException("LISTEN_FDS=" + fds + " is not a number");
        }
        if (n < 1) {
            return Optional.empty();
        }
        int index = 0;
        if (n > 1) {
            List<String> names = List.of(env.getOrDefault("LISTEN_FDNAMES", "").split(":"));
            index = names.indexOf(FD_NAME);
            if (index < 0) {
                throw new IllegalStateException(n + " sockets were passed (LISTEN_FDS) and none is named " + FD_NAME
                        + " (LISTEN_FDNAMES=" + env.getOrDefault("LISTEN_FDNAMES", "") + "): give the agent's"
                        + " FileDescriptorName=" + FD_NAME);
            }
        }
        int fd = FIRST_FD + index;
        Path path = listeningUnixPath(proc, fd);
        Host.adoptInheritedSocket(fd);
        return Optional.of(new SocketActivation(fd, path));
    }

    /** The path of the listening AF_UNIX stream socket at fd, from /proc; else what it is instead. */
    static Path listeningUnixPath(Path proc, int fd) throws IOException {
        Path link = proc.resolve("fd").resolve(Integer.toString(fd));
        String target;
        try {
            target = Files.readSymbolicLink(link).toString();
        } catch (java.nio.file.NoSuchFileException e) {
            throw new IllegalStateException("LISTEN_FDS says fd " + fd + " was passed, but this process has no fd " + fd);
        }
        if (!target.startsWith("socket:[")) {
            throw new IllegalStateException("fd " + fd + " (LISTEN_FDS) is " + target + ", not a socket");
        }
        String inode = target.substring("socket:[".length(), target.length() - 1);
        for (String line : Files.readAllLines(proc.resolve("net/unix"))) {
            String[] f = line.trim().split("\\s+");
            if (f.length >= 8 && f[6].equals(inode)) {
                int flags = Integer.parseInt(f[3], 16);
                int type = Integer.parseInt(f[4], 16);
                if (type != SOCK_STREAM || (flags & SO_ACCEPTCON) == 0) {
                    throw new IllegalStateException("fd " + fd + " (LISTEN_FDS) is a Unix socket at " + f[7]
                            + " that is not a listening stream socket: give the unit ListenStream=");
                }
                return Path.of(f[7]);
            }
        }
        throw new IllegalStateException("fd " + fd + " (LISTEN_FDS) is not a Unix socket with a path (a TCP or an"
                + " abstract socket?): the agent serves an inherited Unix socket only, ListenStream=/run/bpf-agent/agent.sock");
    }

    /**
     * A server channel over the inherited socket. grpc's NettyServer always binds its address; the bind
     * is answered here, in the channel's pipeline, so it never reaches the socket (bound and listening
     * already). The channel is active from the start.
     */
    public ServerChannel newChannel() {
        EpollServerDomainSocketChannel ch = new EpollServerDomainSocketChannel(fd, true);
        ch.pipeline().addLast("adopted-bind", new ChannelOutboundHandlerAdapter() {
            @Override
            public void bind(ChannelHandlerContext ctx, SocketAddress localAddress, ChannelPromise promise) {
                promise.setSuccess();
            }
        });
        return ch;
    }
}
