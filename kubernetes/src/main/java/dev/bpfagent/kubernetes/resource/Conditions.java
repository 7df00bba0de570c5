package dev.bpfagent.kubernetes.resource;

import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.ConditionBuilder;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/** metav1.Condition lists, as kstatus reads them: one per type, lastTransitionTime kept while status stays. */
public final class Conditions {
    private Conditions() {
    }

    /** The list with the condition of this type set (replaced, or added at the end). */
    public static List<Condition> set(List<Condition> old, String type, boolean status, String reason,
                                      String message, long generation) {
        String s = status ? "True" : "False";
        List<Condition> out = new ArrayList<>(old == null ? List.of() : old);
        Condition prev = find(out, type);
        String since = prev != null && s.equals(prev.getStatus()) && prev.getLastTransitionTime() != null
                ? prev.getLastTransitionTime()
                : Instant.now().truncatedTo(ChronoUnit.SECONDS).toString();
        Condition c = new ConditionBuilder().withType(type).withStatus(s).withReason(reason)
                .withMessage(message == null ? "" : message).withObservedGeneration(generation)
                .withLastTransitionTime(since).build();
        if (prev == null) {
            out.add(c);
        } else {
            out.set(out.indexOf(prev), c);
        }
        return out;
    }

    public static Condition find(List<Condition> list, String type) {
        if (list == null) {
            return null;
        }
        for (Condition c : list) {
            if (type.equals(c.getType())) {
                return c;
            }
        }
        return null;
    }

    /** True when the list has this type with status "True". */
    public static boolean isTrue(List<Condition> list, String type) {
        Condition c = find(list, type);
        return c != null && "True".equals(c.getStatus());
    }

    /** Same types, statuses, reasons, messages and generations (times aside). */
    public static boolean sameFacts(List<Condition> a, List<Condition> b) {
        if (a == null || b == null) {
            return a == b;
        }
        if (a.size() != b.size()) {
            return false;
        }
        for (Condition x : a) {
            Condition y = find(b, x.getType());
            if (y == null || !Objects.equals(x.getStatus(), y.getStatus()) || !Objects.equals(x.getReason(), y.getReason())
                    || !Objects.equals(x.getMessage(), y.getMessage())
                    || !Objects.equals(x.getObservedGeneration(), y.getObservedGeneration())) {
                return false;
            }
        }
        return true;
    }
}
