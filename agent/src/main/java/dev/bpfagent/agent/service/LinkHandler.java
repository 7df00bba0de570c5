package dev.bpfagent.agent.service;

import dev.bpfagent.agent.bpf.Hook;
import dev.bpfagent.agent.bpf.KernelObjects;
import dev.bpfagent.agent.bpf.Link;
import dev.bpfagent.agent.bpf.Program;
import dev.bpfagent.agent.bpf.ProgramSpec;
import dev.bpfagent.agent.errno.KernelException;
import dev.bpfagent.agent.service.auth.Caller;
import dev.bpfagent.agent.service.errors.RequestException;
import dev.bpfagent.agent.service.state.Labels;
import dev.bpfagent.agent.service.state.Registry;
import dev.bpfagent.proto.v1.*;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Set;

/** The link resource: attach a held program to a hook, get, list, update and detach its links. */
final class LinkHandler {
    static final Registry.Kind KIND = Registry.Kind.LINK;

    private final Registry registry;
    private final Refs refs;

    LinkHandler(Registry registry, Refs refs) {
        this.registry = registry;
        this.refs = refs;
    }

    dev.bpfagent.proto.v1.Link attach(AttachProgramRequest req) {
        Map<String, String> labels = Labels.check(req.getLabelsMap(), "labels");
        Registry.Entry prog = refs.held(req.hasProgram(), req.getProgram(), Registry.Kind.PROGRAM, "program");
        if (!req.hasHook() || req.getHook().getHookCase() == dev.bpfagent.proto.v1.Hook.HookCase.HOOK_NOT_SET) {
            throw RequestException.invalid("hook", "is required: where to attach (tracepoint, uprobe, xdp, tcx,"
                    + " cgroup, ...)");
        }
        Hook hook = HookConvert.fromProto(req.getHook());
        Set<Registry.Key> dependsOn = new java.util.HashSet<>(Set.of(prog.key()));
        if (hook instanceof Hook.Iter && req.getHook().getIter().getMapId() != 0) {
            Registry.Entry map = refs.held(true, ObjectRef.newBuilder().setId(req.getHook().getIter().getMapId())
                    .build(), Registry.Kind.MAP, "hook.iter.map_id");
            hook = new Hook.Iter(map.object(dev.bpfagent.agent.bpf.BpfMap.class));
            dependsOn.add(map.key());
        }
        return describe(attach(prog, hook, mechanism(req.getMechanism()), labels, dependsOn));
    }

    /**
     * The one attach path (AttachProgram, a collection's auto-attach): attaches the held program to the
     * hook and registers the link, depending on the program and on whatever else the hook holds. A link
     * with no kernel id (perf ioctl, netlink, PROG_ATTACH, tc filter) is numbered in the agent's own
     * range here, and only here. mechanism: null for the hook's best.
     */
    Registry.Entry attach(Registry.Entry prog, Hook hook, Link.Mechanism mechanism, Map<String, String> labels,
                          Set<Registry.Key> dependsOn) {
        return attach(prog, hook, mechanism, labels, dependsOn, Caller.current());
    }

    /** As above, the link owned by owner (an application's, attached by its reconcile loop). */
    Registry.Entry attach(Registry.Entry prog, Hook hook, Link.Mechanism mechanism, Map<String, String> labels,
                          Set<Registry.Key> dependsOn, Caller owner) {
        Link link = Link.attach(prog.object(Program.class), hook, mechanism);
        if (link.mechanism() != Link.Mechanism.BPF_LINK) {
            link = link.withId(registry.nextAgentId() | Integer.MIN_VALUE);
        }
        return registry.add(KIND, link, owner, labels, dependsOn); // closes the link if refused
    }

    /** An application's program on the interface's XDP dispatcher, loaded again from spec as an extension. */
    Registry.Entry dispatch(ProgramSpec spec, dev.bpfagent.agent.bpf.Hook.Xdp hook, int priority, int proceedOn,
                            Map<String, String> labels, Set<Registry.Key> dependsOn, Caller owner) {
        Link link = Link.dispatch(spec, hook, priority, proceedOn).withId(registry.nextAgentId() | Integer.MIN_VALUE);
        return registry.add(KIND, link, owner, labels, dependsOn);
    }

    static Link.Mechanism mechanism(AttachMechanism m) {
        return switch (m) {
            case ATTACH_MECHANISM_UNSPECIFIED -> null;
            case ATTACH_MECHANISM_BPF_LINK -> Link.Mechanism.BPF_LINK;
            case ATTACH_MECHANISM_PERF_EVENT_IOCTL -> Link.Mechanism.PERF_EVENT_IOCTL;
            case ATTACH_MECHANISM_NETLINK -> Link.Mechanism.NETLINK;
            case ATTACH_MECHANISM_PROG_ATTACH -> Link.Mechanism.PROG_ATTACH;
            case ATTACH_MECHANISM_XDP_DISPATCHER -> Link.Mechanism.XDP_DISPATCHER;
            case UNRECOGNIZED -> throw RequestException.invalid("mechanism", "is not an AttachMechanism this agent"
                    + " knows");
        };
    }

    /** The most one ReadIterator returns (and the default). */
    static final int ITER_MAX_BYTES = 16 << 20;

    ReadIteratorResponse readIterator(ReadIteratorRequest req) {
        Registry.Entry e = refs.held(req.hasLink(), req.getLink(), KIND, "link");
        int max = req.getMaxBytes() == 0 ? ITER_MAX_BYTES : req.getMaxBytes();
        if (max < 0 || max > ITER_MAX_BYTES) {
            throw RequestException.invalid("max_bytes", Integer.toUnsignedString(req.getMaxBytes()) + " is more than"
                    + " the most one call returns (" + ITER_MAX_BYTES + ")");
        }
        var out = e.object(Link.class).readIterator(max);
        return ReadIteratorResponse.newBuilder().setOutput(com.google.protobuf.ByteString.copyFrom(out.data()))
                .setTruncated(out.truncated()).build();
    }

    dev.bpfagent.proto.v1.Link get(GetLinkRequest req) {
        return describe(refs.held(req.hasLink(), req.getLink(), KIND, "link"));
    }

    ListLinksResponse list(ListLinksRequest req) {
        Listing.Query q = Listing.query(req.getPageSize(), req.getPageToken(), false, req.getLabelsMap(),
                req.getOwner(), refs::visible);
        int program = req.getProgramId();
        Listing.Page<dev.bpfagent.proto.v1.Link> page = Listing.page(registry, KIND, q, id -> OptionalInt.empty(),
                this::describeIfOpen, id -> Optional.empty(), l -> program == 0 || l.getProgramId() == program);
        return ListLinksResponse.newBuilder().addAllLinks(page.items()).setNextPageToken(page.nextPageToken()).build();
    }

    DetachLinkResponse detach(DetachLinkRequest req) {
        Registry.Entry target = refs.held(req.hasLink(), req.getLink(), KIND, "link");
        var closed = Closer.close(registry, refs.pins(), target, false, req.getKeepPins(), "link");
        return DetachLinkResponse.newBuilder().addAllUnpinnedPaths(closed.unpinned()).build();
    }

    dev.bpfagent.proto.v1.Link update(UpdateLinkRequest req) {
        Registry.Entry e = refs.held(req.hasLink(), req.getLink(), KIND, "link");
        Registry.Entry next = refs.held(req.hasProgram(), req.getProgram(), Registry.Kind.PROGRAM, "program");
        Program expected = null;
        if (req.hasExpectedProgramId()) {
            expected = registry.get(new Registry.Key(Registry.Kind.PROGRAM, req.getExpectedProgramId()))
                    .object(Program.class);
        }
        Link link = e.object(Link.class);
        Program nextProgram = next.object(Program.class);
        if (nextProgram.type() != programOf(link).map(Program::type).orElse(nextProgram.type())) {
            throw RequestException.invalid("program", "program " + nextProgram.id() + " is a " + nextProgram.type()
                    + " program; the link runs " + programOf(link).map(p -> p.type().toString()).orElse("another")
                    + " programs");
        }
        link.update(nextProgram, expected);
        registry.setDependsOn(e, Set.of(next.key()));
        return describe(e);
    }

    private Optional<Program> programOf(Link link) {
        Registry.Entry p = registry.find(new Registry.Key(Registry.Kind.PROGRAM, link.programId()));
        return p == null ? Optional.empty() : Optional.of(p.object(Program.class));
    }

    dev.bpfagent.proto.v1.Link describe(Registry.Entry e) {
        Link l = e.object(Link.class);
        Link.Info info = l.info();
        var b = dev.bpfagent.proto.v1.Link.newBuilder().setId(l.id()).setProgramId(info.programId())
                .setMechanism(switch (l.mechanism()) {
                    case BPF_LINK -> AttachMechanism.ATTACH_MECHANISM_BPF_LINK;
                    case PERF_EVENT_IOCTL -> AttachMechanism.ATTACH_MECHANISM_PERF_EVENT_IOCTL;
                    case NETLINK -> AttachMechanism.ATTACH_MECHANISM_NETLINK;
                    case PROG_ATTACH -> AttachMechanism.ATTACH_MECHANISM_PROG_ATTACH;
                    case XDP_DISPATCHER -> AttachMechanism.ATTACH_MECHANISM_XDP_DISPATCHER;
                })
                .setTarget(l.target()).setType(info.type()).setIfindex(info.ifindex())
                .setAgent(ProtoConvert.agentView(e, registry.dependents(e.key())));
        if (l.hook() != null) {
            b.setHook(HookConvert.toProto(l.hook()));
        }
        return b.build();
    }

    private Optional<dev.bpfagent.proto.v1.Link> describeIfOpen(Registry.Entry e) {
        try {
            return Optional.of(describe(e));
        } catch (KernelException.Closed | KernelException.NotFound gone) {
            return Optional.empty();
        }
    }

    /** The kernel's links of a program, whoever made them (for GetProgram's with_links). */
    static List<Integer> kernelLinksOf(int programId) {
        return KernelObjects.linksOfProgram(programId);
    }
}
