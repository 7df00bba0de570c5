package dev.bpfagent.agent.kernel;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;

/**
 * sd_notify(3) without libsystemd: one datagram ("READY=1", "STOPPING=1", "STATUS=...") on the
 * AF_UNIX socket that $NOTIFY_SOCKET names, a path or, with a leading '@', an abstract address.
 */
public final class SdNotify {
    private SdNotify() {
    }

    static final int AF_UNIX = 1;
    static final int SOCK_DGRAM = 2;
    /** sizeof(sockaddr_un.sun_path) */
    static final int SUN_PATH = 108;

    /** Sends state to the socket; refuses an address that does not fit sockaddr_un. */
    public static void send(String notifySocket, String state) {
        byte[] path = notifySocket.getBytes(StandardCharsets.UTF_8);
        if (path.length == 0 || path.length >= SUN_PATH) {
            throw new IllegalArgumentException("NOTIFY_SOCKET " + notifySocket + " is not a Unix socket address");
        }
        boolean isAbstract = path[0] == '@';
        if (!isAbstract && path[0] != '/') {
            throw new IllegalArgumentException("NOTIFY_SOCKET " + notifySocket + " is neither a path nor @abstract");
        }
        try (Arena arena = Arena.ofConfined(); Fd fd = LibC.socket(AF_UNIX, SOCK_DGRAM, 0)) {
            MemorySegment addr = arena.allocate(2 + SUN_PATH);
            addr.set(ValueLayout.JAVA_SHORT, 0, (short) AF_UNIX);
            MemorySegment.copy(path, 0, addr, ValueLayout.JAVA_BYTE, 2, path.length);
            if (isAbstract) {
                addr.set(ValueLayout.JAVA_BYTE, 2, (byte) 0); // the abstract namespace: no NUL terminator counted
            }
            LibC.connect(fd, addr, 2 + path.length + (isAbstract ? 0 : 1));
            byte[] msg = state.getBytes(StandardCharsets.UTF_8);
            MemorySegment buf = arena.allocate(msg.length);
            MemorySegment.copy(msg, 0, buf, ValueLayout.JAVA_BYTE, 0, msg.length);
            LibC.send(fd, buf);
        }
    }
}
