package dev.bpfagent.agent.service.auth;

import com.google.protobuf.ByteString;
import dev.bpfagent.agent.service.errors.RequestException;
import dev.bpfagent.proto.v1.LoadProgramRequest;
import dev.bpfagent.proto.v1.ObjectKind;
import dev.bpfagent.proto.v1.PinRequest;
import dev.bpfagent.proto.v1.ProgramType;
import dev.bpfagent.proto.v1.TestRunProgramRequest;
import dev.bpfagent.proto.v1.UnpinRequest;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import java.util.logging.Logger;

/**
 * The policy file's authorizer: the caller's rule (by uid/gid or certificate), the method's action
 * against the rule's role, the rule's limits on what is loaded and run, and ownership of every object
 * the request names. Each refusal is PERMISSION_DENIED (reason POLICY_DENIED) naming the rule and the
 * caller. The policy is swapped whole on {@link #reload()} (SIGHUP): a call sees one policy.
 */
public final class PolicyAuthorizer implements Authorizer {
    private static final Logger LOG = Logger.getLogger(PolicyAuthorizer.class.getName());
    /** BPF_F_SLEEPABLE (prog_flags). */
    static final int BPF_F_SLEEPABLE = 1 << 4;
    /** BPF_F_TEST_XDP_LIVE_FRAMES (test run flags). */
    static final int BPF_F_TEST_XDP_LIVE_FRAMES = 1 << 1;
    /** Helpers that write user memory, override return values or signal processes (uapi bpf.h's ids). */
    static final Map<Integer, String> DANGEROUS_HELPERS = Map.of(36, "bpf_probe_write_user",
            58, "bpf_override_return", 109, "bpf_send_signal", 117, "bpf_send_signal_thread");

    private final Path file;
    private volatile Policy policy;
    private volatile OwnerLookup owners = OwnerLookup.NONE;

    public PolicyAuthorizer(Path file) throws IOException {
        this.file = file;
        this.policy = Policy.load(file);
    }

    /** Where ownership and holdings are looked up (the service's registry), once it exists. */
    public void owners(OwnerLookup lookup) {
        this.owners = lookup;
    }

    /** Reads the file again; a bad file leaves the policy in force as it was (and says why). */
    public boolean reload() {
        try {
            Policy p = Policy.load(file);
            policy = p;
            LOG.info("policy reloaded from " + file + ": " + p.size() + " rule(s)");
            return true;
        } catch (IOException | IllegalArgumentException e) {
            LOG.warning("policy NOT reloaded, the previous one stays in force: " + e.getMessage());
            return false;
        }
    }

    public Policy policy() {
        return policy;
    }

    @Override
    public void authorize(Call call) {
        Caller caller = call.caller();
        String method = Methods.shortName(call.method());
        Policy.Grant g = grant(caller, method);
        Methods.Action action = Methods.of(call.method());
        if (action == Methods.Action.ADMIN && !g.admin()) {
            throw denied(g, caller, method, "it changes the kernel for every user: ROLE_ADMIN only");
        }
        if (action == Methods.Action.OPERATE && g.role() == dev.bpfagent.proto.v1.Role.ROLE_READ) {
            throw denied(g, caller, method, "it makes or changes objects; the rule gives ROLE_READ");
        }
        if (call.request() instanceof LoadProgramRequest r) {
            checkProgram(g, caller, method, r.getTypeValue(), r.getProgFlags(), r.getInstructions());
            checkAttachType(g, caller, method, r.hasExpectedAttachType() ? r.getExpectedAttachTypeValue() : -1,
                    "expected_attach_type");
        } else if (call.request() instanceof dev.bpfagent.proto.v1.AttachProgramRequest r && r.getHook().hasCgroup()
                && r.getHook().getCgroup().hasAttachType()) {
            checkAttachType(g, caller, method, r.getHook().getCgroup().getAttachTypeValue(), "hook.cgroup.attach_type");
        } else if (call.request() instanceof TestRunProgramRequest r && (r.getFlags() & BPF_F_TEST_XDP_LIVE_FRAMES) != 0
                && !g.liveFrames()) {
            throw denied(g, caller, method, "flags: BPF_F_TEST_XDP_LIVE_FRAMES sends real frames; the rule does not"
                    + " allow_live_frames");
        } else if ((call.request() instanceof dev.bpfagent.proto.v1.ListProgramsRequest lp && lp.getIncludeKernel()
                || call.request() instanceof dev.bpfagent.proto.v1.ListMapsRequest lm && lm.getIncludeKernel())
                && !g.readOthers()) {
            throw denied(g, caller, method, "include_kernel lists every object in the kernel, others' included; the"
                    + " rule does not allow read_others");
        } else if (call.request() instanceof PinRequest r && !g.admin()) {
            String path = r.getPath();
            if (path.startsWith("/") || !path.startsWith(g.rule() + "/") || path.contains("..")) {
                throw denied(g, caller, method, "path '" + path + "': pins of rule " + g.rule() + "'s callers go under"
                        + " '" + g.rule() + "/' in the agent's directory");
            }
        } else if (call.request() instanceof UnpinRequest r && !g.admin()) {
            owners.ownerOfPin(r.getPath()).ifPresent(o -> {
                if (!o.sameIdentity(caller)) {
                    throw denied(g, caller, method, "path '" + r.getPath() + "' pins an object of " + o
                            + "; only its owner or an admin may unpin it");
                }
            });
        }
        if (g.maxObjects() > 0 && makesObject(method) && owners.heldBy(caller) >= g.maxObjects()) {
            throw denied(g, caller, method, "the rule's max_objects (" + g.maxObjects() + ") are held already; close"
                    + " some first");
        }
        if (!g.admin()) {
            checkOwnership(call, g, caller, method, action);
        }
        if (g.maxConcurrentCalls() > 0) {
            // last: a call refused above is never counted
            var n = inFlight.computeIfAbsent(caller.identity(), k -> new java.util.concurrent.atomic.AtomicInteger());
            if (n.incrementAndGet() > g.maxConcurrentCalls()) {
                n.decrementAndGet();
                throw denied(g, caller, method, "the rule's max_concurrent_calls (" + g.maxConcurrentCalls()
                        + ") are running; wait for one to end");
            }
            counted.put(call, caller.identity());
        }
    }

    /** Calls in flight per identity, for the rules with max_concurrent_calls. */
    private final java.util.concurrent.ConcurrentHashMap<String, java.util.concurrent.atomic.AtomicInteger> inFlight =
            new java.util.concurrent.ConcurrentHashMap<>();
    /** The calls counted in inFlight, by identity of the Call object, until they end. */
    private final java.util.Map<Call, String> counted =
            java.util.Collections.synchronizedMap(new java.util.IdentityHashMap<>());

    @Override
    public void ended(Call call) {
        String who = counted.remove(call);
        if (who != null) {
            inFlight.get(who).decrementAndGet();
        }
    }

    private void checkOwnership(Call call, Policy.Grant g, Caller caller, String method, Methods.Action action) {
        {
            for (ObjectRefs.Named n : ObjectRefs.named(call.request())) {
                if (n.field().equals("closed") || n.field().startsWith("depend")) {
                    continue;
                }
                Optional<Caller> owner = owners.ownerOf(n.ref(), kindOf(n));
                if (owner.isEmpty() || owner.get().sameIdentity(caller)
                        || owners.referencedBy(n.ref(), kindOf(n), caller)) {
                    continue; // its own, or one it holds a reference to (its close releases only that)
                }
                if (action != Methods.Action.READ) {
                    throw denied(g, caller, method, n.field() + " names an object of " + owner.get()
                            + "; only its owner or an admin may use it in " + method);
                }
                if (!g.readOthers()) {
                    throw denied(g, caller, method, n.field() + " names an object of " + owner.get()
                            + "; the rule does not allow read_others");
                }
            }
        }
    }

    /**
     * A program about to be loaded (LoadProgram, or each of a LoadObject's): its type, flags and the
     * helpers its instructions call, against the caller's rule.
     */
    @Override
    public void authorizeProgram(Caller caller, String method, int type, int flags, ByteString insns, String name) {
        authorizeProgram(caller, method, type, -1, flags, insns, name);
    }

    @Override
    public void authorizeProgram(Caller caller, String method, int type, int attachType, int flags, ByteString insns,
                                 String name) {
        Policy.Grant g = grant(caller, method);
        checkProgram(g, caller, method + " of '" + name + "'", type, flags, insns);
        checkAttachType(g, caller, method + " of '" + name + "'", attachType, "attach type");
    }

    private static void checkAttachType(Policy.Grant g, Caller caller, String method, int attachType, String field) {
        if (!g.mayAttach(attachType)) {
            var t = dev.bpfagent.proto.v1.AttachType.forNumber(attachType);
            throw denied(g, caller, method, field + " " + (t == null ? Integer.toString(attachType) : t.name())
                    + " is not among the attach types the rule allows");
        }
    }

    @Override
    public boolean maySee(Caller caller, Caller owner, boolean referenced) {
        Optional<Policy.Grant> g = policy.match(caller);
        return g.isPresent() && (g.get().admin() || g.get().readOthers() || owner.sameIdentity(caller) || referenced);
    }

    private Policy.Grant grant(Caller caller, String method) {
        return policy.match(caller).orElseThrow(() -> RequestException.permissionDenied("POLICY_DENIED",
                        caller + " may not call " + method + ": no rule of the policy (" + file + ") matches it")
                .with("caller", caller.toString()));
    }

    private static void checkProgram(Policy.Grant g, Caller caller, String method, int type, int flags,
                                     ByteString insns) {
        if (!g.mayLoad(type)) {
            String t = ProgramType.forNumber(type) == null ? Integer.toString(type) : ProgramType.forNumber(type).name();
            throw denied(g, caller, method, "type " + t + " is not among the program types the rule allows"
                    + (g.programTypes().isEmpty() ? " (ROLE_OPERATE excludes SYSCALL, KPROBE, TRACING, LSM, STRUCT_OPS"
                    + " and EXT unless program_types names them)" : ""));
        }
        if ((flags & BPF_F_SLEEPABLE) != 0 && !g.sleepable()) {
            throw denied(g, caller, method, "flags: BPF_F_SLEEPABLE; the rule does not allow_sleepable");
        }
        if (!g.dangerousHelpers()) {
            ByteBuffer b = insns.asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
            for (int at = 0; at + 8 <= b.limit(); at += 8) {
                int code = b.get(at) & 0xff;
                int src = (b.get(at + 1) >> 4) & 0xf;
                if (code == 0x85 && src == 0) { // BPF_JMP | BPF_CALL of a helper (src 1: bpf-to-bpf, 2: kfunc)
                    String helper = DANGEROUS_HELPERS.get(b.getInt(at + 4));
                    if (helper != null) {
                        throw denied(g, caller, method, "instruction " + at / 8 + " calls " + helper
                                + "; the rule does not allow_dangerous_helpers");
                    }
                }
            }
        }
    }

    private static boolean makesObject(String method) {
        return switch (method) {
            case "LoadProgram", "CreateMap", "AttachProgram", "CreateChain", "LoadObject", "GetPinned", "ApplyApplication" -> true;
            default -> false;
        };
    }

    /** The kind a ref names: its own, else what its field implies ("" when neither says). */
    private static String kindOf(ObjectRefs.Named n) {
        if (n.ref().getKind() != ObjectKind.OBJECT_KIND_UNSPECIFIED) {
            return n.ref().getKind().name();
        }
        return switch (n.field()) {
            case "program", "programs" -> ObjectKind.OBJECT_KIND_PROGRAM.name();
            case "map", "inner_map", "maps" -> ObjectKind.OBJECT_KIND_MAP.name();
            case "link" -> ObjectKind.OBJECT_KIND_LINK.name();
            case "chain" -> ObjectKind.OBJECT_KIND_CHAIN.name();
            case "collection" -> ObjectKind.OBJECT_KIND_COLLECTION.name();
            default -> "";
        };
    }

    private static RequestException denied(Policy.Grant g, Caller caller, String method, String why) {
        return RequestException.permissionDenied("POLICY_DENIED", caller + " may not " + method + ": " + why
                        + " (policy rule '" + g.rule() + "', " + g.role().name() + ")")
                .with("rule", g.rule()).with("caller", caller.toString());
    }
}
