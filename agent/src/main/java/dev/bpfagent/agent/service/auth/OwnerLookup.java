package dev.bpfagent.agent.service.auth;

import dev.bpfagent.proto.v1.ObjectRef;
import java.util.Optional;

/** What the policy needs to know of held objects: who owns them, and how many a caller holds. */
public interface OwnerLookup {
    /** The owner of the held object ref names; empty when the agent holds no such object. */
    Optional<Caller> ownerOf(ObjectRef ref, String kindHint);

    /** The owner of what the agent holds pinned at path (as Unpin names it); empty when nothing is. */
    Optional<Caller> ownerOfPin(String path);

    /** Whether caller holds a reference to that object (GetPinned of it while another owned it). */
    default boolean referencedBy(ObjectRef ref, String kindHint, Caller caller) {
        return false;
    }

    /** How many objects the agent holds that caller's identity owns. */
    int heldBy(Caller caller);

    OwnerLookup NONE = new OwnerLookup() {
        @Override
        public Optional<Caller> ownerOf(ObjectRef ref, String kindHint) {
            return Optional.empty();
        }

        @Override
        public Optional<Caller> ownerOfPin(String path) {
            return Optional.empty();
        }

        @Override
        public int heldBy(Caller caller) {
            return 0;
        }
    };
}
