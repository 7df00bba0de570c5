package dev.bpfagent.kubernetes.resource;

/** Names shared by the CRDs, the controllers and the manifests. */
public final class Resources {
    public static final String GROUP = "bpfagent.dev";
    public static final String VERSION = "v1alpha1";
    /** On every BpfApplicationNode: the application's name. */
    public static final String LABEL_APPLICATION = GROUP + "/application";
    /** On every BpfApplicationNode: the application's kind (BpfApplication or ClusterBpfApplication). */
    public static final String LABEL_KIND = GROUP + "/application-kind";
    /** On every BpfApplicationNode: the node. */
    public static final String LABEL_NODE = GROUP + "/node";
    /**
     * In the spec labels of every agent application a node controller made (so that it finds those whose
     * resource is gone): the value is "kubernetes".
     */
    public static final String LABEL_MANAGED_BY = GROUP + "/managed-by";
    public static final String MANAGED_BY = "kubernetes";
    /** A node's finalizer on an application it runs: "bpfagent.dev/node.NODE". */
    public static final String FINALIZER_PREFIX = GROUP + "/node.";

    private Resources() {
    }

    /**
     * The finalizer of one node. Its name part is at most 63 characters (a qualified name): a long node
     * name is cut and ends with a digest of the whole.
     */
    public static String finalizer(String node) {
        return GROUP + "/" + Names.fit("node." + node, 63);
    }
}
