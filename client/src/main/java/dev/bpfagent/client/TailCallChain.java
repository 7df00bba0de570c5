package dev.bpfagent.client;

import dev.bpfagent.proto.v1.*;
import java.util.Optional;

/**
 * A tail-call chain the agent holds (the seed's create-tail-call-chain): a prog array and the programs
 * at its indices. {@link #close()} closes the chain with its programs and prog array (the seed's
 * with-tail-call-chain is try-with-resources on this handle).
 */
public final class TailCallChain extends AgentHandle {
    private final BpfClient client;
    private volatile Chain chain;

    TailCallChain(BpfClient client, Chain chain) {
        this.client = client;
        this.chain = chain;
    }

    /** The agent's id for the chain. */
    public int id() {
        return chain.getId();
    }

    /** The kernel id of the chain's prog array: the map a program names to tail-call through it. */
    public int progArrayId() {
        return chain.getProgArrayId();
    }

    ObjectRef ref() {
        return ObjectRef.newBuilder().setKind(ObjectKind.OBJECT_KIND_CHAIN).setId(id()).build();
    }

    /** The chain as the agent last answered. */
    public Chain chain() {
        return chain;
    }

    /** Puts a program at index (register-tail-call); replaces what was there, no reload. */
    public TailCallChain set(int index, int programId) {
        chain = client.setChainEntry(SetChainEntryRequest.newBuilder().setChain(ref()).setIndex(index)
                .setProgram(Requests.program(programId)).build());
        return this;
    }

    /** Empties index (unregister-tail-call). */
    public TailCallChain clear(int index) {
        chain = client.clearChainEntry(ClearChainEntryRequest.newBuilder().setChain(ref()).setIndex(index).build());
        return this;
    }

    /** The program at index (get-tail-call-program), asked of the agent. */
    public Optional<Integer> programAt(int index) {
        chain = client.chain(id());
        return chain.getSlotsList().stream().filter(s -> s.getIndex() == index).map(ChainSlot::getProgramId).findFirst();
    }

    /** How many indices hold a program (tail-call-chain-size), asked of the agent. */
    public int size() {
        chain = client.chain(id());
        return chain.getSlotsCount();
    }

    /** Closes the chain, its programs and its prog array (close-tail-call-chain). */
    @Override
    void closeInAgent() {
        client.closeChain(CloseChainRequest.newBuilder().setChain(ref()).setKeepPrograms(false).build());
    }

    /** Closes the chain; with keepPrograms its programs and prog array stay held. */
    public CloseChainResponse close(boolean keepPrograms) {
        return closeOnce(() -> client.closeChain(CloseChainRequest.newBuilder().setChain(ref())
                .setKeepPrograms(keepPrograms).build()), CloseChainResponse.getDefaultInstance());
    }
}
