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

    /**
     * An object loaded for an application: what it was loaded from (loadKey), its members, and the facts
     * its programs were authorized by (null when not known: held again from pins at start). An apply of
     * the same load key authorizes by those facts without parsing the object again.
     */
    record Obj(String loadKey, Map<String, MapMember> maps, Map<String, ProgMember> programs,
               java.util.List<Authorized> authorized) {
    }

    /** What a program is authorized by: the same facts LoadObject's programs are. */
    record Authorized(int type, int attachType, int progFlags, com.google.protobuf.ByteString insns, String name) {
    }

    /** A map of an object: kept from the previous generation, and shared under a name (or ""). */
    record MapMember(Registry.Key key, boolean kept, String share) {
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
