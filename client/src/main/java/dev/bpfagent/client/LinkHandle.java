package dev.bpfagent.client;

import dev.bpfagent.proto.v1.DetachLinkResponse;
import dev.bpfagent.proto.v1.Link;
import dev.bpfagent.proto.v1.PinResponse;

/**
 * A program attached to a hook, held by the agent on this client's behalf. {@link #close()} detaches
 * it (the agent closes the link; a pin of it keeps it attached).
 */
public final class LinkHandle extends AgentHandle {
    private final BpfClient client;
    private final Link link;

    LinkHandle(BpfClient client, Link link) {
        this.client = client;
        this.link = link;
    }

    /** The kernel's link id. */
    public int id() {
        return link.getId();
    }

    /** The link as the agent described it when attached. */
    public Link link() {
        return link;
    }

    /** The link as the agent describes it now (its program changes with {@link #update}). */
    public Link refresh() {
        return client.link(id());
    }

    /** The link runs another program (of the same type), with no gap. */
    public Link update(int programId) {
        return client.updateLink(id(), programId);
    }

    /** Pins the link under the agent's bpffs directory: the attachment then outlives this handle. */
    public String pin(String path) {
        PinResponse r = client.pin(Requests.link(id()), path);
        return r.getPath();
    }

    /** Detaches (see {@link #close()}). */
    @Override
    void closeInAgent() {
        client.detach(id());
    }

    @Override
    public String toString() {
        return "link " + id() + " (program " + link.getProgramId() + ", " + link.getType() + " " + link.getTarget() + ")";
    }
}
