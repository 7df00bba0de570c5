package dev.bpfagent.agent.service.auth;

import com.google.protobuf.Descriptors.Descriptor;
import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.Message;
import dev.bpfagent.proto.v1.ObjectRef;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/** Finds every ObjectRef a request names, at any depth, by its descriptor: no per-call code to forget. */
public final class ObjectRefs {
    /** Per message type: the fields that are, or may contain, an ObjectRef (computed once). */
    private static final Map<Descriptor, List<FieldDescriptor>> PATHS = new ConcurrentHashMap<>();

    private ObjectRefs() {
    }

    public static List<ObjectRef> in(Message m) {
        List<Named> named = named(m);
        List<ObjectRef> out = new ArrayList<>(named.size());
        named.forEach(n -> out.add(n.ref()));
        return out;
    }

    /** An ObjectRef and the name of the field holding it ("program", "map", "inner_map", ...). */
    public record Named(String field, ObjectRef ref) {
    }

    /** Every ObjectRef in the request with its field's name, which says its kind when the ref does not. */
    public static List<Named> named(Message m) {
        List<Named> out = new ArrayList<>(1);
        collect(m, "", out);
        return out;
    }

    private static void collect(Message m, String field, List<Named> out) {
        if (m instanceof ObjectRef r) {
            out.add(new Named(field, r));
            return;
        }
        for (FieldDescriptor f : fieldsOf(m.getDescriptorForType())) {
            if (f.isRepeated()) {
                int n = m.getRepeatedFieldCount(f);
                for (int i = 0; i < n; i++) {
                    collect((Message) m.getRepeatedField(f, i), f.getName(), out);
                }
            } else if (m.hasField(f)) {
                collect((Message) m.getField(f), f.getName(), out);
            }
        }
    }

    private static List<FieldDescriptor> fieldsOf(Descriptor d) {
        List<FieldDescriptor> known = PATHS.get(d);
        if (known != null) {
            return known;
        }
        List<FieldDescriptor> fs = new ArrayList<>();
        for (FieldDescriptor f : d.getFields()) {
            if (f.getJavaType() == FieldDescriptor.JavaType.MESSAGE && !f.isMapField()
                    && mayHold(f.getMessageType(), new java.util.HashSet<>())) {
                fs.add(f);
            }
        }
        List<FieldDescriptor> frozen = List.copyOf(fs);
        PATHS.put(d, frozen);
        return frozen;
    }

    private static boolean mayHold(Descriptor d, java.util.Set<Descriptor> seen) {
        if (d.equals(ObjectRef.getDescriptor())) {
            return true;
        }
        if (!seen.add(d)) {
            return false;
        }
        for (FieldDescriptor f : d.getFields()) {
            if (f.getJavaType() == FieldDescriptor.JavaType.MESSAGE && !f.isMapField()
                    && mayHold(f.getMessageType(), seen)) {
                return true;
            }
        }
        return false;
    }
}
