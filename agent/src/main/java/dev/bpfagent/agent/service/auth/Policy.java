package dev.bpfagent.agent.service.auth;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.util.JsonFormat;
import dev.bpfagent.proto.v1.PolicyRule;
import dev.bpfagent.proto.v1.ProgramType;
import dev.bpfagent.proto.v1.Role;
import dev.bpfagent.proto.v1.RoleLimits;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * A parsed, checked policy file (policy.proto's Policy in JSON): rules matched in order against a
 * caller, each giving a role and its limits.
 */
public final class Policy {
    /** Program types that can read or change any kernel memory, or call bpf() themselves. */
    static final Set<Integer> PRIVILEGED_TYPES = Set.of(ProgramType.PROGRAM_TYPE_SYSCALL_VALUE,
            ProgramType.PROGRAM_TYPE_KPROBE_VALUE, ProgramType.PROGRAM_TYPE_TRACING_VALUE,
            ProgramType.PROGRAM_TYPE_LSM_VALUE, ProgramType.PROGRAM_TYPE_STRUCT_OPS_VALUE,
            ProgramType.PROGRAM_TYPE_EXT_VALUE);

    /** What a matched caller may do. programTypes empty: every type. */
    public record Grant(String rule, Role role, Set<Integer> programTypes, boolean sleepable, boolean liveFrames,
                        boolean dangerousHelpers, boolean readOthers, int maxObjects, int maxConcurrentCalls,
                        Set<Integer> attachTypes) {
        /** An expected or cgroup attach type (the kernel's number; -1: none given). */
        public boolean mayAttach(int attachType) {
            return attachType < 0 || attachTypes.isEmpty() || attachTypes.contains(attachType);
        }

        public boolean admin() {
            return role == Role.ROLE_ADMIN;
        }

        public boolean mayLoad(int programType) {
            return programTypes.isEmpty() ? admin() || !PRIVILEGED_TYPES.contains(programType)
                    : programTypes.contains(programType);
        }
    }

    /** uid 0 on the Unix socket when no rule matches it. */
    static final Grant ROOT = grant("built-in: uid 0", Role.ROLE_ADMIN, RoleLimits.getDefaultInstance());

    private final List<PolicyRule> rules;
    private final Path source;

    private Policy(List<PolicyRule> rules, Path source) {
        this.rules = rules;
        this.source = source;
    }

    /** Reads and checks the file; IllegalArgumentException naming what is wrong (and where). */
    public static Policy load(Path file) throws IOException {
        return parse(Files.readString(file), file);
    }

    static Policy parse(String json, Path source) {
        var b = dev.bpfagent.proto.v1.Policy.newBuilder();
        try {
            JsonFormat.parser().merge(json, b);
        } catch (InvalidProtocolBufferException e) {
            throw new IllegalArgumentException(source + ": not a policy (policy.proto's Policy as JSON): "
                    + e.getMessage());
        }
        Set<String> names = new HashSet<>();
        for (int i = 0; i < b.getRulesCount(); i++) {
            PolicyRule r = b.getRules(i);
            String at = source + ": rules[" + i + "]";
            if (r.getName().isBlank()) {
                throw new IllegalArgumentException(at + ".name: required");
            }
            if (!names.add(r.getName())) {
                throw new IllegalArgumentException(at + ".name: '" + r.getName() + "' names two rules");
            }
            if (!r.getName().matches("[A-Za-z0-9._-]{1,64}")) {
                throw new IllegalArgumentException(at + ".name: '" + r.getName() + "': letters, digits, '.', '_', '-'"
                        + " (it is the rule's pin prefix too)");
            }
            var m = r.getMatch();
            if (m.getUidsCount() + m.getGidsCount() + m.getTlsSubjectsCount() + m.getTlsSansCount() == 0) {
                throw new IllegalArgumentException(at + ".match: names nobody; give uids, gids, tls_subjects or tls_sans");
            }
            if (r.getRole() == Role.ROLE_UNSPECIFIED || r.getRole() == Role.UNRECOGNIZED) {
                throw new IllegalArgumentException(at + ".role: ROLE_READ, ROLE_OPERATE or ROLE_ADMIN");
            }
        }
        return new Policy(List.copyOf(b.getRulesList()), source);
    }

    public Path source() {
        return source;
    }

    public int size() {
        return rules.size();
    }

    /** The first rule matching the caller, or root's built-in grant; empty: refuse. */
    public Optional<Grant> match(Caller c) {
        for (PolicyRule r : rules) {
            if (matches(r, c)) {
                return Optional.of(grant(r.getName(), r.getRole(), r.getLimits()));
            }
        }
        if (c.transport() == Caller.Transport.UNIX && c.uid() == 0) {
            return Optional.of(ROOT);
        }
        if (c.transport() == Caller.Transport.IN_PROCESS) {
            return Optional.of(grant("built-in: in-process", Role.ROLE_ADMIN, RoleLimits.getDefaultInstance()));
        }
        return Optional.empty();
    }

    private static boolean matches(PolicyRule r, Caller c) {
        var m = r.getMatch();
        return switch (c.transport()) {
            case UNIX -> m.getUidsList().contains(c.uid()) || m.getGidsList().contains(c.gid())
                    || c.groups().stream().anyMatch(g -> m.getGidsList().contains(g));
            case TCP -> !c.tlsSubject().isEmpty() && m.getTlsSubjectsList().contains(c.tlsSubject())
                    || c.tlsSans().stream().anyMatch(m.getTlsSansList()::contains);
            case IN_PROCESS -> false;
        };
    }

    private static Grant grant(String name, Role role, RoleLimits l) {
        boolean admin = role == Role.ROLE_ADMIN;
        Set<Integer> types = new HashSet<>();
        l.getProgramTypesList().forEach(t -> types.add(t.getNumber()));
        return new Grant(name, role, Set.copyOf(types),
                l.hasAllowSleepable() ? l.getAllowSleepable() : admin,
                l.hasAllowLiveFrames() ? l.getAllowLiveFrames() : admin,
                l.hasAllowDangerousHelpers() ? l.getAllowDangerousHelpers() : admin,
                l.hasReadOthers() ? l.getReadOthers() : admin,
                l.getMaxObjects(), l.getMaxConcurrentCalls(),
                Set.copyOf(l.getAttachTypesList().stream().map(t -> t.getNumber()).toList()));
    }
}
