package dev.bpfagent.agent.service.auth;

import com.google.protobuf.Descriptors.MethodDescriptor;
import dev.bpfagent.proto.v1.BpfServiceProto;
import dev.bpfagent.proto.v1.OptionsProto;
import java.util.HashMap;
import java.util.Map;

/**
 * What each BpfService call does, for the policy and the audit log: READ looks, OPERATE makes or
 * changes objects, ADMIN changes the kernel for everyone. Read from each method's
 * {@code (bpfagent.v1.method).action} option in bpf_service.proto, where it is declared once. A
 * method without one is ADMIN (a new call is closed until it is classified; PolicyTest fails for one
 * that is not).
 */
public final class Methods {
    public enum Action { READ, OPERATE, ADMIN }

    static final Map<String, Action> ACTIONS = actions();

    private Methods() {
    }

    private static Map<String, Action> actions() {
        Map<String, Action> m = new HashMap<>();
        for (MethodDescriptor d : BpfServiceProto.getDescriptor().findServiceByName("BpfService").getMethods()) {
            Action a = switch (d.getOptions().getExtension(OptionsProto.method).getAction()) {
                case ACTION_READ -> Action.READ;
                case ACTION_OPERATE -> Action.OPERATE;
                case ACTION_ADMIN -> Action.ADMIN;
                case ACTION_UNSPECIFIED, UNRECOGNIZED -> null;
            };
            if (a != null) {
                m.put(d.getService().getFullName() + "/" + d.getName(), a);
            }
        }
        return Map.copyOf(m);
    }

    /** The action of a full method name; health and reflection are READ, anything unknown ADMIN. */
    public static Action of(String fullMethod) {
        Action a = ACTIONS.get(fullMethod);
        if (a != null) {
            return a;
        }
        if (fullMethod.startsWith("grpc.health.") || fullMethod.startsWith("grpc.reflection.")) {
            return Action.READ;
        }
        return Action.ADMIN;
    }

    /** The method's short name, "LoadProgram". */
    public static String shortName(String fullMethod) {
        return fullMethod.substring(fullMethod.lastIndexOf('/') + 1);
    }
}
