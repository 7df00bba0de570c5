package dev.bpfagent.kubernetes.resource;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What a {@code BpfApplication} or {@code ClusterBpfApplication} runs: the agent's {@code ApplicationSpec}
 * (objects and labels, in the proto3 JSON mapping, as {@code apply -f} files have them) on every node
 * whose labels include {@code nodeSelector}. Objects stay as JSON trees here: the node controller
 * parses them with the proto's own parser, so a field the proto has is a field this spec has.
 */
public class BpfApplicationSpec {
    private Map<String, String> nodeSelector = new LinkedHashMap<>();
    private Map<String, String> labels = new LinkedHashMap<>();
    private List<Map<String, Object>> objects = new ArrayList<>();

    public Map<String, String> getNodeSelector() {
        return nodeSelector;
    }

    public void setNodeSelector(Map<String, String> nodeSelector) {
        this.nodeSelector = nodeSelector == null ? new LinkedHashMap<>() : nodeSelector;
    }

    public Map<String, String> getLabels() {
        return labels;
    }

    public void setLabels(Map<String, String> labels) {
        this.labels = labels == null ? new LinkedHashMap<>() : labels;
    }

    public List<Map<String, Object>> getObjects() {
        return objects;
    }

    public void setObjects(List<Map<String, Object>> objects) {
        this.objects = objects == null ? new ArrayList<>() : objects;
    }
}
