package dev.bpfagent.client;

import dev.bpfagent.proto.v1.Program;
import dev.bpfagent.proto.v1.ProgramInfo;
import dev.bpfagent.proto.v1.ProgramType;
import io.grpc.Status;
import java.util.List;

/**
 * A program the agent holds on this client's behalf. {@link #close()} asks the agent to close it
 * (CloseProgram: its pins are removed too unless kept) and is safe to call twice; use
 * try-with-resources for the seed's with-program.
 */
public final class ProgramHandle implements AutoCloseable {
    private final BpfClient client;
    private final Program program;
    private final String verifierLog;
    private volatile boolean closed;

    ProgramHandle(BpfClient client, Program program, String verifierLog) {
        this.client = client;
        this.program = program;
        this.verifierLog = verifierLog;
    }

    /** The kernel's program id, which names it in every call, from any client. */
    public int id() {
        return program.getId();
    }

    public ProgramType type() {
        return program.getType();
    }

    public String name() {
        return program.getName();
    }

    /** The kernel's tag, 16 hex digits. */
    public String tag() {
        return program.getTag();
    }

    /** The agent's pins of this program when the handle was made. */
    public List<String> pinnedPaths() {
        return program.getPinnedPathsList();
    }

    /** Who loaded it through the agent (pid/uid/gid on the Unix socket, the address on TCP). */
    public dev.bpfagent.proto.v1.Caller owner() {
        return program.getOwner();
    }

    /** The verifier's log from the load, when a log level was asked for; else empty. */
    public String verifierLog() {
        return verifierLog;
    }

    public TestRunResult testRun(TestRunOptions options) {
        return client.testRun(id(), options);
    }

    /** One run on this data. */
    public TestRunResult testRun(byte[] data) {
        return client.testRun(id(), TestRunOptions.ofData(data));
    }

    /** Pins under the agent's bpffs directory; returns the absolute path. */
    public String pin(String path) {
        return client.pin(id(), path);
    }

    public ProgramInfo info() {
        return client.programInfo(id());
    }

    /** Asked of the kernel. */
    public boolean exists() {
        return client.programExists(id());
    }

    /** Asked of the kernel's BPF links. */
    public boolean attached() {
        return client.programAttached(id());
    }

    public boolean isClosed() {
        return closed;
    }

    /** Closes the program and removes the agent's pins of it. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            client.closeProgram(id(), false);
        } catch (BpfAgentException e) {
            if (e.code() != Status.Code.NOT_FOUND) { // closed by someone else already: fine
                throw e;
            }
        }
    }

    @Override
    public String toString() {
        return "ProgramHandle[id=" + id() + ", type=" + type() + ", name=" + name() + "]";
    }
}
