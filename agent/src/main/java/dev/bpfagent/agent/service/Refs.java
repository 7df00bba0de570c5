package dev.bpfagent.agent.service;

import dev.bpfagent.agent.service.errors.RequestException;
import dev.bpfagent.agent.service.state.PinPaths;
import dev.bpfagent.agent.service.state.Registry;
import dev.bpfagent.proto.v1.ObjectKind;
import dev.bpfagent.proto.v1.ObjectRef;
import java.nio.file.Path;

/** Resolves the ObjectRefs of requests to what the agent holds, with errors naming the request field. */
final class Refs {
    private final Registry registry;
    private final PinPaths pins;
    private final dev.bpfagent.agent.service.auth.Authorizer authorizer;

    Refs(Registry registry, PinPaths pins) {
        this(registry, pins, dev.bpfagent.agent.service.auth.Authorizer.ALLOW_ALL);
    }

    Refs(Registry registry, PinPaths pins, dev.bpfagent.agent.service.auth.Authorizer authorizer) {
        this.registry = registry;
        this.pins = pins;
        this.authorizer = authorizer;
    }

    /** Whether the current caller may see this held object in a list (its own, a reference, or the policy lets it). */
    boolean visible(Registry.Entry e) {
        var caller = dev.bpfagent.agent.service.auth.Caller.current();
        return authorizer.maySee(caller, e.owner(), e.referencedBy(caller));
    }

    /** The ref's kind must be unspecified or kind. */
    static void checkKind(ObjectRef ref, Registry.Kind kind, String field) {
        if (ref.getKind() == ObjectKind.UNRECOGNIZED) {
            throw RequestException.invalid(field + ".kind", "unknown object kind number");
        }
        if (ref.getKind() != ObjectKind.OBJECT_KIND_UNSPECIFIED && ref.getKind() != ProtoConvert.kind(kind)) {
            throw RequestException.invalid(field + ".kind", ref.getKind() + " given where a " + kind
                    + " is expected");
        }
    }

    /** The ref's id, which must be set and not 0. */
    static int id(ObjectRef ref, String field) {
        if (ref.getId() == 0) {
            throw RequestException.invalid(field + ".id", "is required (the kernel's id, as Load returned it)");
        }
        return ref.getId();
    }

    /** Is anything set in this ref? (An unset message field reads as the empty ref.) */
    static void require(boolean present, ObjectRef ref, String field) {
        if (!present || ref.getRefCase() == ObjectRef.RefCase.REF_NOT_SET) {
            throw RequestException.invalid(field, "is required: an object id, or the bpffs path of a pin");
        }
    }

    /** The held object of this kind the ref names, by id or by one of the agent's pins of it. */
    Registry.Entry held(boolean present, ObjectRef ref, Registry.Kind kind, String field) {
        require(present, ref, field);
        checkKind(ref, kind, field);
        if (ref.getRefCase() == ObjectRef.RefCase.ID) {
            Registry.Key key = new Registry.Key(kind, id(ref, field));
            Registry.Entry e = registry.find(key);
            if (e == null) {
                RequestException notHeld = Registry.notHeld(key, "already closed, or never made or opened through"
                        + " it");
                throw RequestException.of(notHeld.code(), notHeld.reason(), field, field + ": "
                        + notHeld.getMessage());
            }
            return e;
        }
        Path path = pins.any(ref.getPath(), field + ".path");
        Registry.Entry e = registry.byPin(path);
        if (e == null) {
            throw RequestException.notFound("PIN_NOT_HELD", "nothing the agent holds is pinned at " + path
                    + ": GetPinned opens a pin made elsewhere");
        }
        if (e.key().kind() != kind) {
            throw RequestException.failedPrecondition("KIND_MISMATCH", path + " holds " + e.key() + ", not a " + kind)
                    .with("kind", e.key().kind().toString());
        }
        return e;
    }

    PinPaths pins() {
        return pins;
    }
}
