package dev.bpfagent.agent;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * --config FILE: the agent's options as a YAML (or JSON) mapping whose keys are the options' names
 * without "--". A string or number is the option's value; true gives a switch, false leaves it out.
 * An unknown key, or a value of the wrong shape, is refused with the file and the key named.
 */
final class ConfigFile {
    private ConfigFile() {
    }

    /** Every option that takes a value, and the switches. */
    static final Set<String> VALUED = Set.of("socket", "socket-group", "tcp", "tls-cert", "tls-key", "tls-client-ca",
            "policy", "audit-log", "state-dir", "bpffs-dir", "max-queued-calls", "metrics", "log-format");
    static final Set<String> SWITCHES = Set.of("insecure-loopback");

    /** The file's options as command-line words, in the file's order. */
    static List<String> args(Path file) {
        JsonNode root;
        try {
            root = new ObjectMapper(new YAMLFactory()).readTree(Files.readString(file));
        } catch (java.nio.file.NoSuchFileException e) {
            throw new IllegalArgumentException("--config " + file + ": no such file");
        } catch (IOException e) {
            throw new IllegalArgumentException("--config " + file + ": not YAML or JSON: " + e.getMessage()
                    .lines().findFirst().orElse(""));
        }
        if (root == null || root.isMissingNode() || root.isNull()) {
            return List.of(); // an empty file: no options
        }
        if (!root.isObject()) {
            throw new IllegalArgumentException("--config " + file + ": a mapping of option names to values, not "
                    + root.getNodeType().toString().toLowerCase(java.util.Locale.ROOT));
        }
        List<String> out = new ArrayList<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            String key = e.getKey();
            JsonNode v = e.getValue();
            if (SWITCHES.contains(key)) {
                if (!v.isBoolean()) {
                    throw new IllegalArgumentException("--config " + file + ": " + key + " is true or false, not " + v);
                }
                if (v.asBoolean()) {
                    out.add("--" + key);
                }
            } else if (VALUED.contains(key)) {
                if (!(v.isTextual() || v.isNumber())) {
                    throw new IllegalArgumentException("--config " + file + ": " + key + " takes a string or a number,"
                            + " not " + v);
                }
                out.add("--" + key);
                out.add(v.asText());
            } else {
                throw new IllegalArgumentException("--config " + file + ": unknown option " + key + " (the options: "
                        + String.join(", ", new java.util.TreeSet<>(union())) + ")");
            }
        }
        return out;
    }

    static Set<String> union() {
        Set<String> all = new java.util.HashSet<>(VALUED);
        all.addAll(SWITCHES);
        return all;
    }
}
