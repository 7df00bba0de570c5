package dev.bpfagent.agent.service;

import dev.bpfagent.agent.service.auth.Caller;
import dev.bpfagent.agent.service.state.Registry;
import dev.bpfagent.proto.v1.ApplicationEvent;
import dev.bpfagent.proto.v1.ApplicationSpec;
import dev.bpfagent.proto.v1.AttachmentStatus;
import dev.bpfagent.proto.v1.Condition;
import java.util.ArrayDeque;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/** What the agent holds for each application: its objects, their members, and its attachments. */
final class AppState {
    private AppState() {
    }

    /** One application as it runs. */
    static final class App {
        final String name;
        final Caller owner;
        long generation;
        ApplicationSpec spec;
        long resourceVersion;
        final Map<String, Obj> objects = new LinkedHashMap<>();
        final Map<String, Att> atts = new LinkedHashMap<>();
        final Map<String, Condition> conditions = new LinkedHashMap<>();
        final ArrayDeque<ApplicationEvent> events = new ArrayDeque<>();

        App(String name, Caller owner) {
            this.name = name;
            this.owner = owner;
        }
    }

    /** An object loaded for an application: what it was loaded from (loadKey) and its members. */
    record Obj(String loadKey, Map<String, MapMember> maps, Map<String, ProgMember> programs) {
    }

    record MapMember(Registry.Key key, boolean kept) {
    }

    record ProgMember(Registry.Key key, String tag, String digest, Set<Registry.Key> maps) {
    }

    /** One attachment: the target it is for, and its link (null while pending or failed). */
    static final class Att {
        final ApplicationSpecs.Target target;
        Registry.Key link;
        Registry.Key program;
        AttachmentStatus.State state;
        com.google.rpc.Status error;
        int failures;
        long retryAt;

        Att(ApplicationSpecs.Target target) {
            this.target = target;
        }
    }
}
