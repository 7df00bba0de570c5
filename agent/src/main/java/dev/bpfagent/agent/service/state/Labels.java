package dev.bpfagent.agent.service.state;

import dev.bpfagent.agent.service.errors.RequestException;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.regex.Pattern;

/** The agent's labels on the objects it holds: string keys and values, given when an object is made. */
public final class Labels {
    public static final int MAX_LABELS = 32;
    public static final int MAX_KEY = 63;
    public static final int MAX_VALUE = 255;
    private static final Pattern KEY = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._/-]*");

    private Labels() {
    }

    /** Checks labels (or a label selector) against the rules the proto documents, naming the field. */
    public static Map<String, String> check(Map<String, String> labels, String field) {
        if (labels.size() > MAX_LABELS) {
            throw RequestException.invalid(field, labels.size() + " labels; at most " + MAX_LABELS);
        }
        for (var e : labels.entrySet()) {
            String k = e.getKey();
            if (k.length() > MAX_KEY || !KEY.matcher(k).matches()) {
                throw RequestException.invalid(field, "key '" + k + "' must be 1-" + MAX_KEY
                        + " characters of [A-Za-z0-9._/-], starting with a letter or digit");
            }
            String v = e.getValue();
            if (v.getBytes(StandardCharsets.UTF_8).length > MAX_VALUE) {
                throw RequestException.invalid(field, "value of '" + k + "' is longer than " + MAX_VALUE + " bytes");
            }
            if (v.chars().anyMatch(Character::isISOControl)) {
                throw RequestException.invalid(field, "value of '" + k + "' has a control character");
            }
        }
        return labels;
    }

    /** Every selector label is among the labels, with the same value. */
    public static boolean matches(Map<String, String> labels, Map<String, String> selector) {
        for (var e : selector.entrySet()) {
            if (!e.getValue().equals(labels.get(e.getKey()))) {
                return false;
            }
        }
        return true;
    }
}
