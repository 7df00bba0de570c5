package dev.bpfagent.agent.service;

import dev.bpfagent.agent.bpf.Host;
import dev.bpfagent.agent.bpf.InterfaceHooks;
import dev.bpfagent.agent.bpf.Link;
import dev.bpfagent.agent.service.errors.RequestException;
import dev.bpfagent.agent.service.state.Registry;
import dev.bpfagent.proto.v1.HookedProgram;
import dev.bpfagent.proto.v1.InterfaceHook;
import dev.bpfagent.proto.v1.ListInterfaceHooksRequest;
import dev.bpfagent.proto.v1.ListInterfaceHooksResponse;
import java.nio.file.Path;
import java.nio.file.PathMatcher;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * ListInterfaceHooks: what the kernel runs on interfaces' xdp, tcx and tc hooks, in run order, each
 * program named with the application (or the agent's link) that put it there.
 */
final class HookListing {
    static final int MAX_GLOBS = 32;

    private final Registry registry;
    private final Refs refs;
    private final ApplicationHandler applications;

    HookListing(Registry registry, Refs refs, ApplicationHandler applications) {
        this.registry = registry;
        this.refs = refs;
        this.applications = applications;
    }

    ListInterfaceHooksResponse list(ListInterfaceHooksRequest req) {
        if (req.getInterfacesCount() > MAX_GLOBS) {
            throw RequestException.invalid("interfaces", req.getInterfacesCount() + " globs; at most " + MAX_GLOBS);
        }
        List<PathMatcher> globs = new ArrayList<>();
        for (int i = 0; i < req.getInterfacesCount(); i++) {
            try {
                globs.add(ApplicationSpecs.matcher(req.getInterfaces(i)));
            } catch (IllegalArgumentException e) {
                throw RequestException.invalid("interfaces[" + i + "]", "'" + req.getInterfaces(i) + "' is not a glob: "
                        + e.getMessage());
            }
        }
        String netns = req.getNetns();
        Map<String, Integer> all;
        if (netns.isEmpty()) {
            all = ApplicationSpecs.interfaces();
        } else if (!Host.validNetnsName(netns)) {
            throw RequestException.invalid("netns", "'" + netns + "' is not a network namespace name (as `ip netns`"
                    + " names them under /run/netns: letters, digits, _ . -)");
        } else if (!Host.netnsExists(netns)) {
            throw RequestException.notFound("NETNS_MISSING", "netns: no network namespace '" + netns
                    + "' (/run/netns/" + netns + ")");
        } else {
            all = Host.interfaces(netns);
        }
        Map<String, Integer> chosen = new TreeMap<>();
        all.forEach((name, ifindex) -> {
            if (globs.isEmpty() || globs.stream().anyMatch(g -> g.matches(Path.of(name)))) {
                chosen.put(name, ifindex);
            }
        });
        Map<Integer, ApplicationHandler.Placement> placed = applications.placements();
        Map<Integer, Integer> held = new HashMap<>();
        for (Registry.Entry e : registry.all()) {
            if (e.key().kind() == Registry.Kind.LINK && refs.visible(e) && e.object() instanceof Link l && !l.isClosed()) {
                held.putIfAbsent(l.programId(), e.key().id());
            }
        }
        var out = ListInterfaceHooksResponse.newBuilder();
        for (InterfaceHooks.OnHook h : InterfaceHooks.of(netns, chosen)) {
            var b = InterfaceHook.newBuilder().setInterface(h.ifname()).setIfindex(h.ifindex()).setHook(h.hook())
                    .setDispatcherProgramId(h.dispatcherId());
            b.setXdpMode(h.xdpMode());
            for (InterfaceHooks.Entry e : h.programs()) {
                var p = HookedProgram.newBuilder().setProgramId(e.programId()).setName(e.name()).setPriority(e.priority());
                p.addAllProceedOn(ProtoConvert.xdpActions(e.chainCallActions()));
                ApplicationHandler.Placement pl = placed.get(e.programId());
                if (pl != null) {
                    p.setApplication(pl.application()).setObject(pl.object()).setProgram(pl.program()).setRule(pl.rule())
                            .setLinkId(pl.linkId());
                } else {
                    p.setLinkId(held.getOrDefault(e.programId(), 0));
                }
                b.addPrograms(p);
            }
            out.addHooks(b);
        }
        return out.build();
    }
}
