package dev.bpfagent.kubernetes.resource;

import io.fabric8.kubernetes.api.model.Condition;
import java.util.ArrayList;
import java.util.List;

/**
 * The cluster's view of an application, summed from its nodes' {@code BpfApplicationNode} resources by
 * the cluster part: conditions as kstatus reads them ({@code Ready}, {@code Reconciling},
 * {@code Stalled}, {@code Degraded}), how many selected nodes are ready, and the failing ones.
 */
public class BpfApplicationStatus {
    private Long observedGeneration;
    private List<Condition> conditions = new ArrayList<>();
    private Integer selectedNodes;
    private Integer readyNodes;
    private List<NodeProblem> failingNodes = new ArrayList<>();

    public Long getObservedGeneration() {
        return observedGeneration;
    }

    public void setObservedGeneration(Long observedGeneration) {
        this.observedGeneration = observedGeneration;
    }

    public List<Condition> getConditions() {
        return conditions;
    }

    public void setConditions(List<Condition> conditions) {
        this.conditions = conditions == null ? new ArrayList<>() : conditions;
    }

    public Integer getSelectedNodes() {
        return selectedNodes;
    }

    public void setSelectedNodes(Integer selectedNodes) {
        this.selectedNodes = selectedNodes;
    }

    public Integer getReadyNodes() {
        return readyNodes;
    }

    public void setReadyNodes(Integer readyNodes) {
        this.readyNodes = readyNodes;
    }

    public List<NodeProblem> getFailingNodes() {
        return failingNodes;
    }

    public void setFailingNodes(List<NodeProblem> failingNodes) {
        this.failingNodes = failingNodes == null ? new ArrayList<>() : failingNodes;
    }

    /** A selected node where the application is not ready, and why (its Ready condition's reason). */
    public static class NodeProblem {
        private String node;
        private String reason;
        private String message;

        public NodeProblem() {
        }

        public NodeProblem(String node, String reason, String message) {
            this.node = node;
            this.reason = reason;
            this.message = message;
        }

        public String getNode() {
            return node;
        }

        public void setNode(String node) {
            this.node = node;
        }

        public String getReason() {
            return reason;
        }

        public void setReason(String reason) {
            this.reason = reason;
        }

        public String getMessage() {
            return message;
        }

        public void setMessage(String message) {
            this.message = message;
        }
    }
}
