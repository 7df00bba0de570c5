package dev.bpfagent.kubernetes.resource;

import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.Namespaced;
import io.fabric8.kubernetes.client.CustomResource;
import io.fabric8.kubernetes.model.annotation.Group;
import io.fabric8.kubernetes.model.annotation.Kind;
import io.fabric8.kubernetes.model.annotation.Plural;
import io.fabric8.kubernetes.model.annotation.Version;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * One application on one node, written by that node's controller and owned by the application (so
 * that garbage collection removes it with the application): the node's conditions and the kernel
 * objects the agent made there. A namespaced application's node resources are in its namespace; a
 * cluster application's in the controllers' namespace.
 */
@Group(Resources.GROUP)
@Version(Resources.VERSION)
@Kind("BpfApplicationNode")
@Plural("bpfapplicationnodes")
public class BpfApplicationNode extends CustomResource<BpfApplicationNode.Spec, BpfApplicationNode.Status>
        implements Namespaced {

    /** Which application, on which node, under which name the node's agent holds it. */
    public static class Spec {
        private String applicationKind;
        private String applicationNamespace;
        private String applicationName;
        private String node;
        private String agentApplication;

        public String getApplicationKind() {
            return applicationKind;
        }

        public void setApplicationKind(String applicationKind) {
            this.applicationKind = applicationKind;
        }

        public String getApplicationNamespace() {
            return applicationNamespace;
        }

        public void setApplicationNamespace(String applicationNamespace) {
            this.applicationNamespace = applicationNamespace;
        }

        public String getApplicationName() {
            return applicationName;
        }

        public void setApplicationName(String applicationName) {
            this.applicationName = applicationName;
        }

        public String getNode() {
            return node;
        }

        public void setNode(String node) {
            this.node = node;
        }

        public String getAgentApplication() {
            return agentApplication;
        }

        public void setAgentApplication(String agentApplication) {
            this.agentApplication = agentApplication;
        }
    }

    /**
     * The node's conditions for the application's {@code observedGeneration}, the agent's own generation
     * of it, and what the agent made: programs, maps and attachments in the proto3 JSON mapping of the
     * agent's {@code ProgramStatus}, {@code MapStatus} and {@code AttachmentStatus}; the images
     * objects came from, each with the digest it resolved to.
     */
    public static class Status {
        private Long observedGeneration;
        private Long agentGeneration;
        private List<Condition> conditions = new ArrayList<>();
        private List<Map<String, Object>> programs = new ArrayList<>();
        private List<Map<String, Object>> maps = new ArrayList<>();
        private List<Map<String, Object>> attachments = new ArrayList<>();
        private List<Map<String, Object>> images = new ArrayList<>();

        public Long getObservedGeneration() {
            return observedGeneration;
        }

        public void setObservedGeneration(Long observedGeneration) {
            this.observedGeneration = observedGeneration;
        }

        public Long getAgentGeneration() {
            return agentGeneration;
        }

        public void setAgentGeneration(Long agentGeneration) {
            this.agentGeneration = agentGeneration;
        }

        public List<Condition> getConditions() {
            return conditions;
        }

        public void setConditions(List<Condition> conditions) {
            this.conditions = conditions == null ? new ArrayList<>() : conditions;
        }

        public List<Map<String, Object>> getPrograms() {
            return programs;
        }

        public void setPrograms(List<Map<String, Object>> programs) {
            this.programs = programs == null ? new ArrayList<>() : programs;
        }

        public List<Map<String, Object>> getMaps() {
            return maps;
        }

        public void setMaps(List<Map<String, Object>> maps) {
            this.maps = maps == null ? new ArrayList<>() : maps;
        }

        public List<Map<String, Object>> getAttachments() {
            return attachments;
        }

        public void setAttachments(List<Map<String, Object>> attachments) {
            this.attachments = attachments == null ? new ArrayList<>() : attachments;
        }

        /** Objects from OCI images: object, reference, the manifest digest it resolved to, and the blob's sha256. */
        public List<Map<String, Object>> getImages() {
            return images;
        }

        public void setImages(List<Map<String, Object>> images) {
            this.images = images == null ? new ArrayList<>() : images;
        }
    }
}
