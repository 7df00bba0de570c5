package dev.bpfagent.kubernetes.crd;

import com.google.protobuf.Descriptors.Descriptor;
import com.google.protobuf.Descriptors.EnumValueDescriptor;
import com.google.protobuf.Descriptors.FieldDescriptor;
import io.fabric8.kubernetes.api.model.apiextensions.v1.JSONSchemaProps;
import io.fabric8.kubernetes.api.model.apiextensions.v1.JSONSchemaPropsBuilder;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.node.JsonNodeFactory;

/**
 * OpenAPI v3 structural schemas for proto messages, in the proto3 JSON mapping that the agent's
 * {@code JsonFormat} parser reads: field names in lowerCamelCase, enums by name, bytes as base64, maps as
 * objects, 64-bit integers as integers (the parser takes numbers as well as strings). A CRD built from
 * these cannot drift from the proto: a new proto field is a new schema property at the next
 * {@code Crds} run, and {@code CrdsTest} fails until the committed YAML is regenerated.
 *
 * <p>Oneofs become plain properties (the agent says which one is wrong); well-known types that hold
 * arbitrary JSON ({@code Any}, {@code Struct}, {@code Value}) and recursive messages keep their
 * unknown fields ({@code x-kubernetes-preserve-unknown-fields}).
 */
public final class ProtoSchema {
    private ProtoSchema() {
    }

    /** The schema of one message, every field optional. */
    public static JSONSchemaProps of(Descriptor message) {
        return message(message, new HashSet<>());
    }

    /** The properties of a message, by JSON name, in field order. */
    public static Map<String, JSONSchemaProps> properties(Descriptor message) {
        Map<String, JSONSchemaProps> props = new LinkedHashMap<>();
        Set<String> path = new HashSet<>();
        path.add(message.getFullName());
        for (FieldDescriptor f : message.getFields()) {
            props.put(f.getJsonName(), field(f, path));
        }
        return props;
    }

    private static JSONSchemaProps message(Descriptor d, Set<String> path) {
        String full = d.getFullName();
        switch (full) {
            case "google.protobuf.Any", "google.protobuf.Struct", "google.protobuf.Value" -> {
                return new JSONSchemaPropsBuilder().withType("object").withXKubernetesPreserveUnknownFields(true).build();
            }
            case "google.protobuf.Duration", "google.protobuf.Timestamp" -> {
                return new JSONSchemaPropsBuilder().withType("string").build();
            }
            default -> {
            }
        }
        if (path.contains(full)) {
            return new JSONSchemaPropsBuilder().withType("object").withXKubernetesPreserveUnknownFields(true).build();
        }
        path.add(full);
        Map<String, JSONSchemaProps> props = new LinkedHashMap<>();
        for (FieldDescriptor f : d.getFields()) {
            props.put(f.getJsonName(), field(f, path));
        }
        path.remove(full);
        return new JSONSchemaPropsBuilder().withType("object").withProperties(props).build();
    }

    private static JSONSchemaProps field(FieldDescriptor f, Set<String> path) {
        if (f.isMapField()) {
            FieldDescriptor value = f.getMessageType().findFieldByName("value");
            return new JSONSchemaPropsBuilder().withType("object")
                    .withNewAdditionalProperties().withSchema(single(value, path)).endAdditionalProperties()
                    .build();
        }
        if (f.isRepeated()) {
            return new JSONSchemaPropsBuilder().withType("array")
                    .withNewItems().withSchema(single(f, path)).endItems().build();
        }
        return single(f, path);
    }

    private static JSONSchemaProps single(FieldDescriptor f, Set<String> path) {
        return switch (f.getJavaType()) {
            case STRING -> new JSONSchemaPropsBuilder().withType("string").build();
            case BYTE_STRING -> new JSONSchemaPropsBuilder().withType("string").withFormat("byte").build();
            case BOOLEAN -> new JSONSchemaPropsBuilder().withType("boolean").build();
            case INT -> new JSONSchemaPropsBuilder().withType("integer").withFormat("int32").build();
            case LONG -> new JSONSchemaPropsBuilder().withType("integer").withFormat("int64").build();
            case FLOAT, DOUBLE -> new JSONSchemaPropsBuilder().withType("number").build();
            case ENUM -> {
                List<JsonNode> names = new ArrayList<>();
                for (EnumValueDescriptor v : f.getEnumType().getValues()) {
                    names.add(JsonNodeFactory.instance.stringNode(v.getName()));
                }
                yield new JSONSchemaPropsBuilder().withType("string").withEnum(names).build();
            }
            case MESSAGE -> message(f.getMessageType(), path);
        };
    }
}
