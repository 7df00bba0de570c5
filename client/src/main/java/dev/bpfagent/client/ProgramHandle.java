package dev.bpfagent.client;

import dev.bpfagent.proto.v1.Program;
import dev.bpfagent.proto.v1.ProgramType;
import java.util.List;
import java.util.Map;

/**
 * A program the agent holds on this client's behalf. {@link #close()} asks the agent to close it
 * (CloseProgram: its pins are removed too unless kept) and is safe to call twice; use
 * try-with-resources for the seed's with-program.
 */
public final class ProgramHandle extends AgentHandle {
    private final BpfClient client;
    private final Program program;
    private final String verifierLog;

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
        return program.getKernel().getType();
    }

    public String name() {
        return program.getKernel().getName();
    }

    /** The kernel's tag, 16 hex digits. */
    public String tag() {
        return program.getKernel().getTag();
    }

    /** The program as the agent described it when the handle was made. */
    public Program program() {
        return program;
    }

    /** The agent's pins of this program when the handle was made. */
    public List<String> pinnedPaths() {
        return program.getAgent().getPinnedPathsList();
    }

    /** Who loaded it through the agent (pid/uid/gid on the Unix socket, the address on TCP). */
    public dev.bpfagent.proto.v1.Caller owner() {
        return program.getAgent().getOwner();
    }

    /** The labels it was loaded with. */
    public Map<String, String> labels() {
        return program.getAgent().getLabelsMap();
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
    /** Attaches this program to a hook ({@link Hooks}); close the link handle to detach. */
    public LinkHandle attach(dev.bpfagent.proto.v1.Hook hook) {
        return client.attach(id(), hook);
    }

    public String pin(String path) {
        return client.pin(id(), path);
    }

    /** The program now: kernel info (run counts...) and the agent's view (pins, dependents...). */
    public Program info() {
        return client.program(id());
    }

    /** Asked of the kernel. */
    public boolean exists() {
        return client.programExists(id());
    }

    /** Asked of the kernel's BPF links. */
    public boolean attached() {
        return client.programAttached(id());
    }

    /** Closes the program and removes the agent's pins of it (see {@link #close()}). */
    @Override
    void closeInAgent() {
        client.closeProgram(id(), false);
    }

    @Override
    public String toString() {
        return "ProgramHandle[id=" + id() + ", type=" + type() + ", name=" + name() + "]";
    }
}
