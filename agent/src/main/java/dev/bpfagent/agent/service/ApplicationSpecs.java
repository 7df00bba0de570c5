package dev.bpfagent.agent.service;

import dev.bpfagent.agent.service.errors.RequestException;
import dev.bpfagent.agent.service.state.Labels;
import dev.bpfagent.proto.v1.ApplicationObject;
import dev.bpfagent.proto.v1.ApplicationProgram;
import dev.bpfagent.proto.v1.ApplicationSpec;
import dev.bpfagent.proto.v1.AttachRule;
import dev.bpfagent.proto.v1.Hook;
import dev.bpfagent.proto.v1.Interface;
import java.io.IOException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.PathMatcher;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Pattern;

/**
 * What an application spec may say, checked before anything is loaded (every error names its field,
 * "spec.objects[0].programs[2].attach[0].interfaces"), and its attach rules expanded into concrete
 * hooks against the interfaces there are now.
 */
final class ApplicationSpecs {
    static final Pattern APP_NAME = Pattern.compile("[a-z0-9]([a-z0-9.-]{0,61}[a-z0-9])?");
    static final Pattern OBJECT_NAME = Pattern.compile("[A-Za-z0-9_.-]{1,63}");
    static final int MAX_OBJECTS = 64;
    static final int MAX_PROGRAMS = 256;
    static final int MAX_RULES = 64;
    static final int MAX_GLOBS = 64;
    /** AttachRule.priority when 0, as libxdp's default run priority. */
    static final int DEFAULT_PRIORITY = 50;
    static final int MAX_PRIORITY = 1000;

    private ApplicationSpecs() {
    }

    static String name(String name, String field) {
        if (!APP_NAME.matcher(name).matches()) {
            throw RequestException.invalid(field, "'" + name + "' is not an application name: 1-63 characters of"
                    + " [a-z0-9.-], starting and ending with a letter or digit (a DNS label, as Kubernetes names)");
        }
        return name;
    }

    /** Checks the spec's shape (not yet the objects' contents); throws naming the first bad field. */
    static void check(ApplicationSpec spec, String field) {
        Labels.check(spec.getLabelsMap(), field + ".labels");
        if (spec.getObjectsCount() == 0) {
            throw RequestException.invalid(field + ".objects", "is required: at least one object");
        }
        if (spec.getObjectsCount() > MAX_OBJECTS) {
            throw RequestException.invalid(field + ".objects", spec.getObjectsCount() + " objects; at most "
                    + MAX_OBJECTS);
        }
        Set<String> names = new HashSet<>();
        for (int i = 0; i < spec.getObjectsCount(); i++) {
            ApplicationObject o = spec.getObjects(i);
            String f = field + ".objects[" + i + "]";
            if (!OBJECT_NAME.matcher(o.getName()).matches()) {
                throw RequestException.invalid(f + ".name", "'" + o.getName() + "': 1-63 characters of"
                        + " [A-Za-z0-9_.-]");
            }
            if (!names.add(o.getName())) {
                throw RequestException.invalid(f + ".name", "'" + o.getName() + "' names another object of the"
                        + " application too");
            }
            if (!o.hasSource() || o.getSource().getSourceCase()
                    == dev.bpfagent.proto.v1.ObjectSource.SourceCase.SOURCE_NOT_SET) {
                throw RequestException.invalid(f + ".source", "is required: elf bytes, a path on the agent's host,"
                        + " or blob_sha256 of an uploaded blob");
            }
            if (o.getProgramsCount() > MAX_PROGRAMS) {
                throw RequestException.invalid(f + ".programs", o.getProgramsCount() + " programs; at most "
                        + MAX_PROGRAMS);
            }
            for (var m : o.getMapsMap().entrySet()) {
                String mf = f + ".maps[" + m.getKey() + "]";
                String share = m.getValue().getShare();
                if (!share.isEmpty() && !OBJECT_NAME.matcher(share).matches()) {
                    throw RequestException.invalid(mf + ".share", "'" + share + "': 1-63 characters of [A-Za-z0-9_.-]");
                }
                if (!share.isEmpty() && m.getValue().getRecreate()) {
                    throw RequestException.invalid(mf + ".recreate", "a shared map is not recreated by one of the"
                            + " applications sharing it: leave recreate unset, or the map unshared");
                }
            }
            Set<String> progs = new HashSet<>();
            for (int p = 0; p < o.getProgramsCount(); p++) {
                checkProgram(o.getPrograms(p), f + ".programs[" + p + "]", progs);
            }
        }
    }

    private static void checkProgram(ApplicationProgram p, String f, Set<String> seen) {
        if (p.getName().isEmpty()) {
            throw RequestException.invalid(f + ".name", "is required: the program's function name in the object");
        }
        if (!seen.add(p.getName())) {
            throw RequestException.invalid(f + ".name", "'" + p.getName() + "' is listed twice");
        }
        if (p.getAttachCount() > MAX_RULES) {
            throw RequestException.invalid(f + ".attach", p.getAttachCount() + " rules; at most " + MAX_RULES);
        }
        for (int r = 0; r < p.getAttachCount(); r++) {
            checkRule(p.getAttach(r), f + ".attach[" + r + "]");
        }
    }

    private static void checkRule(AttachRule rule, String f) {
        if (!rule.hasHook() || rule.getHook().getHookCase() == Hook.HookCase.HOOK_NOT_SET) {
            throw RequestException.invalid(f + ".hook", "is required: where to attach (xdp, tcx, tracepoint, ...)");
        }
        boolean ifaceHook = interfaceHook(rule.getHook());
        boolean named = ifaceHook && interfaceOf(rule.getHook()).getInterfaceCase()
                != Interface.InterfaceCase.INTERFACE_NOT_SET;
        if (!ifaceHook && rule.getInterfacesCount() > 0) {
            throw RequestException.invalid(f + ".interfaces", "only xdp, tcx and tc hooks select interfaces; this"
                    + " rule's hook is " + rule.getHook().getHookCase().name().toLowerCase(java.util.Locale.ROOT));
        }
        if (ifaceHook && named && rule.getInterfacesCount() > 0) {
            throw RequestException.invalid(f + ".interfaces", "the hook names its interface already: give one or"
                    + " the other");
        }
        if (ifaceHook && !named && rule.getInterfacesCount() == 0) {
            throw RequestException.invalid(f + ".interfaces", "is required for a " + rule.getHook().getHookCase()
                    .name().toLowerCase(java.util.Locale.ROOT) + " hook that names no interface: interface name"
                    + " globs, e.g. \"veth*\"");
        }
        if (rule.getPriority() > MAX_PRIORITY) {
            throw RequestException.invalid(f + ".priority", rule.getPriority() + " is past " + MAX_PRIORITY
                    + ": priorities run 1 (first) to " + MAX_PRIORITY + "; 0 means " + DEFAULT_PRIORITY);
        }
        if (rule.getPriority() != 0 && !ifaceHook) {
            throw RequestException.invalid(f + ".priority", "orders programs that share an interface hook (xdp,"
                    + " tcx, tc); this rule's hook is " + rule.getHook().getHookCase().name()
                    .toLowerCase(java.util.Locale.ROOT));
        }
        if (rule.getPriority() != 0 && rule.getHook().hasTc() && rule.getHook().getTc().getPriority() != 0) {
            throw RequestException.invalid(f + ".priority", "the tc hook gives its priority already"
                    + " (hook.tc.priority): give one or the other");
        }
        if (!rule.getNetns().isEmpty()) {
            if (rule.getInterfacesCount() == 0) {
                throw RequestException.invalid(f + ".netns", "is the namespace of the interfaces globs select: give"
                        + " interfaces too (a hook naming its interface gives its own interface.netns)");
            }
            if (!dev.bpfagent.agent.bpf.Host.validNetnsName(rule.getNetns())) {
                throw RequestException.invalid(f + ".netns", "'" + rule.getNetns() + "' is not a network namespace"
                        + " name (as `ip netns` names them under /run/netns: letters, digits, _ . -)");
            }
        }
        if (rule.getInterfacesCount() > MAX_GLOBS) {
            throw RequestException.invalid(f + ".interfaces", rule.getInterfacesCount() + " globs; at most "
                    + MAX_GLOBS);
        }
        for (int g = 0; g < rule.getInterfacesCount(); g++) {
            String glob = rule.getInterfaces(g);
            if (glob.isEmpty() || glob.length() > 64 || glob.contains("/") || glob.chars().anyMatch(
                    c -> c <= ' ' || c > '~')) {
                throw RequestException.invalid(f + ".interfaces[" + g + "]", "'" + glob + "' is not an interface"
                        + " name glob: 1-64 printable characters, no '/' or spaces");
            }
            try {
                matcher(glob);
            } catch (IllegalArgumentException e) {
                throw RequestException.invalid(f + ".interfaces[" + g + "]", "'" + glob + "': " + e.getMessage());
            }
        }
        if (rule.getMechanismValue() < 0 || dev.bpfagent.proto.v1.AttachMechanism.forNumber(
                rule.getMechanismValue()) == null) {
            throw RequestException.invalid(f + ".mechanism", "is not an AttachMechanism this agent knows");
        }
        boolean dispatched = rule.getMechanism() == dev.bpfagent.proto.v1.AttachMechanism.ATTACH_MECHANISM_XDP_DISPATCHER;
        if (dispatched && !rule.getHook().hasXdp()) {
            throw RequestException.invalid(f + ".mechanism", "ATTACH_MECHANISM_XDP_DISPATCHER is for xdp hooks; this"
                    + " rule's hook is " + rule.getHook().getHookCase().name().toLowerCase(java.util.Locale.ROOT));
        }
        if (rule.getProceedOnCount() > 0 && !dispatched) {
            throw RequestException.invalid(f + ".proceed_on", "is for rules with mechanism"
                    + " ATTACH_MECHANISM_XDP_DISPATCHER (the dispatcher runs the next program after these actions)");
        }
        for (int a = 0; a < rule.getProceedOnCount(); a++) {
            int v = rule.getProceedOnValue(a);
            if (v <= 0 || v > dev.bpfagent.proto.v1.XdpAction.XDP_ACTION_REDIRECT_VALUE) {
                throw RequestException.invalid(f + ".proceed_on[" + a + "]", v + " is not an XdpAction (ABORTED, DROP,"
                        + " PASS, TX, REDIRECT)");
            }
        }
        if (rule.getRequired() && !ifaceHook) {
            throw RequestException.invalid(f + ".required", "only rules that select interfaces can be pending");
        }
    }

    static boolean interfaceHook(Hook h) {
        return h.hasXdp() || h.hasTcx() || h.hasTc();
    }

    static Interface interfaceOf(Hook h) {
        return h.hasXdp() ? h.getXdp().getInterface() : h.hasTcx() ? h.getTcx().getInterface()
                : h.getTc().getInterface();
    }

    static Hook withInterface(Hook h, String name, String netns) {
        Interface i = Interface.newBuilder().setName(name).setNetns(netns).build();
        var b = h.toBuilder();
        if (h.hasXdp()) {
            b.getXdpBuilder().setInterface(i);
        } else if (h.hasTcx()) {
            b.getTcxBuilder().setInterface(i);
        } else {
            b.getTcBuilder().setInterface(i);
        }
        return b.build();
    }

    static PathMatcher matcher(String glob) {
        return FileSystems.getDefault().getPathMatcher("glob:" + glob);
    }

    /** The agent's network namespace's interfaces now: name to ifindex (sysfs), sorted by name. */
    static TreeMap<String, Integer> interfaces() {
        TreeMap<String, Integer> out = new TreeMap<>();
        try (var dirs = Files.list(Path.of("/sys/class/net"))) {
            for (Path d : dirs.toList()) {
                try {
                    out.put(d.getFileName().toString(), Integer.parseInt(Files.readString(d.resolve("ifindex")).strip()));
                } catch (IOException | NumberFormatException gone) {
                    // an interface going away while listed
                }
            }
        } catch (IOException e) {
            // no sysfs: no interfaces to select
        }
        return out;
    }

    /** One concrete attachment a rule asks for. key: what identifies it across versions. */
    record Target(String key, String object, String program, int rule, Hook hook, String ifname, int ifindex,
                  String netns, dev.bpfagent.proto.v1.AttachMechanism mechanism, boolean pending, int priority,
                  int proceedOn) {
        /** Whether the interface's XDP dispatcher runs it (mechanism XDP_DISPATCHER). */
        boolean dispatched() {
            return mechanism == dev.bpfagent.proto.v1.AttachMechanism.ATTACH_MECHANISM_XDP_DISPATCHER;
        }
    }

    /** The rule's proceed_on as libxdp's chain call actions: a bit per XDP return code (0: none given). */
    static int proceedOn(AttachRule rule) {
        int bits = 0;
        for (int a = 0; a < rule.getProceedOnCount(); a++) {
            bits |= 1 << (rule.getProceedOnValue(a) - 1);
        }
        return bits;
    }

    /**
     * The rule's priority, DEFAULT_PRIORITY when 0; but 0 stays 0 for a dispatched rule: the object's
     * XDP_RUN_CONFIG gives it then, when it carries one.
     */
    static int priority(AttachRule rule) {
        boolean dispatched = rule.getMechanism() == dev.bpfagent.proto.v1.AttachMechanism.ATTACH_MECHANISM_XDP_DISPATCHER;
        return rule.getPriority() != 0 || dispatched ? rule.getPriority() : DEFAULT_PRIORITY;
    }

    /**
     * Every attachment the spec asks for against these interfaces; a rule that selects none gives one
     * pending target (or, required, fails naming its field).
     */
    static List<Target> targets(ApplicationSpec spec, java.util.function.Function<String, ? extends java.util.Map<String,
            Integer>> ifaces, boolean failMissing) {
        List<Target> out = new ArrayList<>();
        for (int i = 0; i < spec.getObjectsCount(); i++) {
            ApplicationObject o = spec.getObjects(i);
            for (int p = 0; p < o.getProgramsCount(); p++) {
                ApplicationProgram prog = o.getPrograms(p);
                for (int r = 0; r < prog.getAttachCount(); r++) {
                    AttachRule rule = prog.getAttach(r);
                    String base = o.getName() + "/" + prog.getName() + "/" + r;
                    if (rule.getInterfacesCount() == 0) {
                        out.add(new Target(base, o.getName(), prog.getName(), r, rule.getHook(), "", 0, "",
                                rule.getMechanism(), false, priority(rule), proceedOn(rule)));
                        continue;
                    }
                    List<PathMatcher> ms = rule.getInterfacesList().stream().map(ApplicationSpecs::matcher).toList();
                    int before = out.size();
                    String netns = rule.getNetns();
                    for (var e : ifaces.apply(netns).entrySet()) {
                        Path n = Path.of(e.getKey());
                        if (ms.stream().anyMatch(m -> m.matches(n))) {
                            out.add(new Target(base + "/" + (netns.isEmpty() ? "" : netns + ":") + e.getKey(),
                                    o.getName(), prog.getName(), r, withInterface(rule.getHook(), e.getKey(), netns),
                                    e.getKey(), e.getValue(), netns, rule.getMechanism(), false, priority(rule), proceedOn(rule)));
                        }
                    }
                    if (out.size() == before) {
                        if (rule.getRequired() && failMissing) {
                            throw RequestException.of(io.grpc.Status.Code.FAILED_PRECONDITION, "INTERFACE_MISSING",
                                    "spec.objects[" + i + "].programs[" + p + "].attach[" + r + "].interfaces",
                                    "spec.objects[" + i + "].programs[" + p + "].attach[" + r + "].interfaces: no"
                                            + " interface matches " + rule.getInterfacesList() + (netns.isEmpty()
                                            ? "" : " in network namespace " + netns) + " and the rule is required");
                        }
                        out.add(new Target(base + "/", o.getName(), prog.getName(), r, rule.getHook(), "", 0, netns,
                                rule.getMechanism(), true, priority(rule), proceedOn(rule)));
                    }
                }
            }
        }
        return out;
    }
}
