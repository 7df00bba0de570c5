package dev.bpfagent.kubernetes.node;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.MessageOrBuilder;
import com.google.protobuf.util.JsonFormat;
import dev.bpfagent.kubernetes.resource.BpfApplicationSpec;
import dev.bpfagent.kubernetes.resource.Resources;
import dev.bpfagent.proto.v1.ApplicationSpec;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Between the resources' JSON trees and the agent's proto messages, through the proto3 JSON mapping. */
final class Specs {
    private static final KubernetesSerialization JSON = new KubernetesSerialization();

    private Specs() {
    }

    /**
     * The agent's spec for a resource's spec: its objects and labels, plus the labels that name the
     * resource (so that the controller finds the agent applications it made).
     *
     * @throws IllegalArgumentException naming the field, when the proto's parser refuses the spec
     */
    static ApplicationSpec toAgent(BpfApplicationSpec spec, List<Map<String, Object>> objects, String kind,
                                   String namespace, String name) {
        Map<String, Object> tree = new LinkedHashMap<>();
        tree.put("objects", objects);
        Map<String, String> labels = new LinkedHashMap<>(spec.getLabels());
        labels.put(Resources.LABEL_MANAGED_BY, Resources.MANAGED_BY);
        labels.put(Resources.LABEL_KIND, kind);
        labels.put(Resources.GROUP + "/name", name);
        if (namespace != null) {
            labels.put(Resources.GROUP + "/namespace", namespace);
        }
        tree.put("labels", labels);
        ApplicationSpec.Builder b = ApplicationSpec.newBuilder();
        try {
            JsonFormat.parser().merge(JSON.asJson(tree), b);
        } catch (InvalidProtocolBufferException e) {
            throw new IllegalArgumentException("spec: " + e.getMessage(), e);
        }
        return b.build();
    }

    /** A proto message as the JSON tree a status field holds (lowerCamelCase, enums by name). */
    static Map<String, Object> tree(MessageOrBuilder m) {
        try {
            String json = JsonFormat.printer().omittingInsignificantWhitespace().print(m);
            return JSON.unmarshal(json, Map.class);
        } catch (InvalidProtocolBufferException e) {
            throw new IllegalStateException(e);
        }
    }

    static List<Map<String, Object>> trees(List<? extends MessageOrBuilder> ms) {
        return ms.stream().map(Specs::tree).toList();
    }
}
