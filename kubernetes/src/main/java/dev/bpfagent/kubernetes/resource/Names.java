package dev.bpfagent.kubernetes.resource;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Locale;

/** Names derived from Kubernetes names that must fit a shorter limit and stay unique. */
public final class Names {
    private Names() {
    }

    /**
     * The name itself when it fits in max characters, else its first characters, '-' and 10 hex digits of
     * its sha256: unique in practice, and still readable.
     */
    public static String fit(String name, int max) {
        if (name.length() <= max) {
            return name;
        }
        String digest = sha256(name).substring(0, 10);
        String head = name.substring(0, max - digest.length() - 1);
        while (head.endsWith("-") || head.endsWith(".")) {
            head = head.substring(0, head.length() - 1);
        }
        return head + "-" + digest;
    }

    /**
     * The name a node's agent holds an application under: "k8s.NAMESPACE.NAME" for a BpfApplication,
     * "k8s-cluster.NAME" for a ClusterBpfApplication (a namespace has no dots, so the two never meet),
     * fitted into the agent's 63 characters.
     */
    public static String agentApplication(String namespace, String name) {
        String full = namespace == null ? "k8s-cluster." + name : "k8s." + namespace + "." + name;
        return fit(full.toLowerCase(Locale.ROOT), 63);
    }

    /** The BpfApplicationNode of an application on a node: "NAME.NODE" (cluster: "cluster.NAME.NODE"). */
    public static String nodeResource(String namespace, String name, String node) {
        return fit((namespace == null ? "cluster." : "") + name + "." + node, 253);
    }

    static String sha256(String s) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
