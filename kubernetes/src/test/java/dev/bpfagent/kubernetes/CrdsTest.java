package dev.bpfagent.kubernetes;

import static org.junit.jupiter.api.Assertions.*;

import dev.bpfagent.kubernetes.crd.Crds;
import dev.bpfagent.kubernetes.resource.Names;
import dev.bpfagent.kubernetes.resource.Resources;
import dev.bpfagent.proto.v1.ApplicationSpec;
import dev.bpfagent.proto.v1.AttachRule;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.api.model.apiextensions.v1.JSONSchemaProps;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The committed CRDs are what Crds builds from the proto: a proto change that is not regenerated fails here. */
class CrdsTest {
    static final Path DIR = Path.of("..", "deploy", "kubernetes", "crds");

    @Test
    void committedCrdsAreTheOnesBuiltFromTheProto() throws Exception {
        List<CustomResourceDefinition> crds = Crds.all();
        for (int i = 0; i < crds.size(); i++) {
            Path f = DIR.resolve(Crds.FILES.get(i));
            assertTrue(Files.exists(f), f + " is missing");
            assertEquals(Crds.yaml(crds.get(i)), Files.readString(f), f + " differs from what the proto gives: run"
                    + " `java -cp kubernetes/target/bpf-agent-kubernetes.jar dev.bpfagent.kubernetes.crd.Crds"
                    + " deploy/kubernetes/crds` and commit the result");
        }
    }

    @Test
    void everyApplicationSpecFieldIsInTheSchemaDownToTheAttachRule() throws Exception {
        CustomResourceDefinition crd = new KubernetesSerialization().unmarshal(
                Files.readString(DIR.resolve("bpfapplications.yaml")), CustomResourceDefinition.class);
        assertEquals("bpfapplications." + Resources.GROUP, crd.getMetadata().getName());
        var version = crd.getSpec().getVersions().get(0);
        assertNotNull(version.getSubresources().getStatus(), "status is a subresource");
        JSONSchemaProps spec = version.getSchema().getOpenAPIV3Schema().getProperties().get("spec");
        for (var f : ApplicationSpec.getDescriptor().getFields()) {
            assertTrue(spec.getProperties().containsKey(f.getJsonName()), f.getJsonName());
        }
        JSONSchemaProps rule = spec.getProperties().get("objects").getItems().getSchema().getProperties().get("programs")
                .getItems().getSchema().getProperties().get("attach").getItems().getSchema();
        for (var f : AttachRule.getDescriptor().getFields()) {
            assertTrue(rule.getProperties().containsKey(f.getJsonName()), "attach rule field " + f.getJsonName());
        }
        assertEquals(List.of("XDP_ACTION_UNSPECIFIED", "XDP_ACTION_ABORTED", "XDP_ACTION_DROP", "XDP_ACTION_PASS",
                        "XDP_ACTION_TX", "XDP_ACTION_REDIRECT"),
                rule.getProperties().get("proceedOn").getItems().getSchema().getEnum().stream().map(n -> n.asString()).toList());
        assertEquals("byte", spec.getProperties().get("objects").getItems().getSchema().getProperties().get("source")
                .getProperties().get("elf").getFormat());
    }

    @Test
    void namesFitTheirLimitsAndStayApart() {
        assertEquals("k8s.default.fw", Names.agentApplication("default", "fw"));
        assertEquals("k8s-cluster.fw", Names.agentApplication(null, "fw"));
        String longName = "a".repeat(200);
        String a = Names.agentApplication("default", longName);
        String b = Names.agentApplication("default", longName + "b");
        assertEquals(63, a.length());
        assertNotEquals(a, b);
        assertTrue(Resources.finalizer("n".repeat(100)).length() <= Resources.GROUP.length() + 1 + 63);
        assertEquals("bpfagent.dev/node.worker-1", Resources.finalizer("worker-1"));
    }
}
