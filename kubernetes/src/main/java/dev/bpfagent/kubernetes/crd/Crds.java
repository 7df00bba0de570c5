package dev.bpfagent.kubernetes.crd;

import dev.bpfagent.kubernetes.resource.Resources;
import dev.bpfagent.proto.v1.ApplicationSpec;
import dev.bpfagent.proto.v1.AttachmentStatus;
import dev.bpfagent.proto.v1.MapStatus;
import dev.bpfagent.proto.v1.ProgramStatus;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceColumnDefinition;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceColumnDefinitionBuilder;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinitionBuilder;
import io.fabric8.kubernetes.api.model.apiextensions.v1.JSONSchemaProps;
import io.fabric8.kubernetes.api.model.apiextensions.v1.JSONSchemaPropsBuilder;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.node.JsonNodeFactory;

/**
 * The three CRDs (apiextensions.k8s.io/v1, structural schemas, status subresource), built from the
 * proto: {@code BpfApplication} and {@code ClusterBpfApplication} take the agent's ApplicationSpec
 * fields plus {@code nodeSelector}; {@code BpfApplicationNode}'s status lists the agent's
 * ProgramStatus, MapStatus and AttachmentStatus. {@code main(DIR)} writes them as YAML files
 * (deploy/kubernetes/crds); CrdsTest fails when the committed files differ from what this builds.
 */
public final class Crds {
    /** The files main writes, by CRD. */
    public static final List<String> FILES = List.of(
            "bpfapplications.yaml", "clusterbpfapplications.yaml", "bpfapplicationnodes.yaml");

    private Crds() {
    }

    public static List<CustomResourceDefinition> all() {
        return List.of(
                application("BpfApplication", "bpfapplications", "Namespaced", List.of("bpfapp")),
                application("ClusterBpfApplication", "clusterbpfapplications", "Cluster", List.of("cbpfapp")),
                node());
    }

    /** The YAML of one CRD, as main writes it. */
    public static String yaml(CustomResourceDefinition crd) {
        return "# Generated from proto/ by dev.bpfagent.kubernetes.crd.Crds: do not edit (see docs/kubernetes.md).\n"
                + new KubernetesSerialization().asYaml(crd);
    }

    public static void main(String[] args) throws IOException {
        if (args.length != 1) {
            System.err.println("usage: Crds DIR   (writes " + String.join(", ", FILES) + ")");
            System.exit(2);
        }
        Path dir = Path.of(args[0]);
        Files.createDirectories(dir);
        List<CustomResourceDefinition> crds = all();
        for (int i = 0; i < crds.size(); i++) {
            Files.writeString(dir.resolve(FILES.get(i)), yaml(crds.get(i)));
        }
    }

    private static CustomResourceDefinition application(String kind, String plural, String scope, List<String> shortNames) {
        Map<String, JSONSchemaProps> spec = new LinkedHashMap<>();
        spec.put("nodeSelector", stringMap());
        spec.putAll(ProtoSchema.properties(ApplicationSpec.getDescriptor()));
        // the one addition to the proto's ObjectSource: an OCI image the node controller pulls (node/Bytecode)
        spec.get("objects").getItems().getSchema().getProperties().get("source").getProperties()
                .put("image", object(strings("reference")));
        Map<String, JSONSchemaProps> status = new LinkedHashMap<>();
        status.put("observedGeneration", integer());
        status.put("conditions", conditions());
        status.put("selectedNodes", integer());
        status.put("readyNodes", integer());
        status.put("failingNodes", new JSONSchemaPropsBuilder().withType("array").withNewItems()
                .withSchema(object(strings("node", "reason", "message")))
                .endItems().build());
        return crd(kind, plural, scope, shortNames,
                new JSONSchemaPropsBuilder().withType("object").withProperties(spec).withRequired("objects").build(),
                object(status),
                List.of(column("Ready", "string", ".status.conditions[?(@.type==\"Ready\")].status"),
                        column("Nodes", "integer", ".status.readyNodes"),
                        column("Selected", "integer", ".status.selectedNodes"),
                        column("Reason", "string", ".status.conditions[?(@.type==\"Ready\")].reason")));
    }

    private static CustomResourceDefinition node() {
        Map<String, JSONSchemaProps> spec = new LinkedHashMap<>();
        spec.putAll(strings("applicationKind", "applicationNamespace", "applicationName", "node", "agentApplication"));
        Map<String, JSONSchemaProps> status = new LinkedHashMap<>();
        status.put("observedGeneration", integer());
        status.put("agentGeneration", integer());
        status.put("conditions", conditions());
        status.put("programs", arrayOf(ProtoSchema.of(ProgramStatus.getDescriptor())));
        status.put("maps", arrayOf(ProtoSchema.of(MapStatus.getDescriptor())));
        status.put("attachments", arrayOf(ProtoSchema.of(AttachmentStatus.getDescriptor())));
        status.put("images", arrayOf(object(strings("object", "reference", "digest", "blobSha256"))));
        return crd("BpfApplicationNode", "bpfapplicationnodes", "Namespaced", List.of("bpfappnode"),
                new JSONSchemaPropsBuilder().withType("object").withProperties(spec)
                        .withRequired("applicationKind", "applicationName", "node").build(),
                object(status),
                List.of(column("Node", "string", ".spec.node"),
                        column("Application", "string", ".spec.applicationName"),
                        column("Ready", "string", ".status.conditions[?(@.type==\"Ready\")].status"),
                        column("Reason", "string", ".status.conditions[?(@.type==\"Ready\")].reason")));
    }

    private static CustomResourceDefinition crd(String kind, String plural, String scope, List<String> shortNames,
                                                JSONSchemaProps spec, JSONSchemaProps status,
                                                List<CustomResourceColumnDefinition> columns) {
        Map<String, JSONSchemaProps> top = new LinkedHashMap<>();
        top.put("apiVersion", string());
        top.put("kind", string());
        top.put("metadata", new JSONSchemaPropsBuilder().withType("object").build());
        top.put("spec", spec);
        top.put("status", status);
        return new CustomResourceDefinitionBuilder()
                .withNewMetadata().withName(plural + "." + Resources.GROUP).endMetadata()
                .withNewSpec()
                .withGroup(Resources.GROUP)
                .withScope(scope)
                .withNewNames().withKind(kind).withPlural(plural).withSingular(kind.toLowerCase(Locale.ROOT))
                .withShortNames(shortNames).withCategories("bpf").endNames()
                .addNewVersion()
                .withName(Resources.VERSION).withServed(true).withStorage(true)
                .withNewSubresources().withNewStatus().endStatus().endSubresources()
                .withNewSchema().withOpenAPIV3Schema(new JSONSchemaPropsBuilder().withType("object")
                        .withProperties(top).withRequired("spec").build()).endSchema()
                .withAdditionalPrinterColumns(columns)
                .addNewAdditionalPrinterColumn().withName("Age").withType("date")
                .withJsonPath(".metadata.creationTimestamp").endAdditionalPrinterColumn()
                .endVersion()
                .endSpec()
                .build();
    }

    /** metav1.Condition, as kstatus reads it. */
    private static JSONSchemaProps conditions() {
        Map<String, JSONSchemaProps> c = new LinkedHashMap<>();
        c.put("type", string());
        c.put("status", new JSONSchemaPropsBuilder().withType("string")
                .withEnum(List.of(text("True"), text("False"), text("Unknown"))).build());
        c.put("reason", string());
        c.put("message", string());
        c.put("lastTransitionTime", new JSONSchemaPropsBuilder().withType("string").withFormat("date-time").build());
        c.put("observedGeneration", integer());
        return new JSONSchemaPropsBuilder().withType("array")
                .withNewItems().withSchema(new JSONSchemaPropsBuilder().withType("object").withProperties(c)
                        .withRequired("type", "status").build()).endItems()
                .withXKubernetesListType("map").withXKubernetesListMapKeys("type")
                .build();
    }

    private static CustomResourceColumnDefinition column(
            String name, String type, String path) {
        return new CustomResourceColumnDefinitionBuilder()
                .withName(name).withType(type).withJsonPath(path).build();
    }

    private static JsonNode text(String s) {
        return JsonNodeFactory.instance.stringNode(s);
    }

    private static JSONSchemaProps object(Map<String, JSONSchemaProps> props) {
        return new JSONSchemaPropsBuilder().withType("object").withProperties(new LinkedHashMap<>(props)).build();
    }

    private static JSONSchemaProps arrayOf(JSONSchemaProps item) {
        return new JSONSchemaPropsBuilder().withType("array").withNewItems().withSchema(item).endItems().build();
    }

    private static Map<String, JSONSchemaProps> strings(String... names) {
        Map<String, JSONSchemaProps> m = new LinkedHashMap<>();
        for (String n : names) {
            m.put(n, string());
        }
        return m;
    }

    private static JSONSchemaProps stringMap() {
        return new JSONSchemaPropsBuilder().withType("object")
                .withNewAdditionalProperties().withSchema(string()).endAdditionalProperties().build();
    }

    private static JSONSchemaProps string() {
        return new JSONSchemaPropsBuilder().withType("string").build();
    }

    private static JSONSchemaProps integer() {
        return new JSONSchemaPropsBuilder().withType("integer").withFormat("int64").build();
    }
}
