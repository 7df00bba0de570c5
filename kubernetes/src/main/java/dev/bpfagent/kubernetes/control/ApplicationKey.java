package dev.bpfagent.kubernetes.control;

import dev.bpfagent.kubernetes.resource.BpfApplication;
import dev.bpfagent.kubernetes.resource.BpfApplicationSpec;
import dev.bpfagent.kubernetes.resource.BpfApplicationStatus;
import dev.bpfagent.kubernetes.resource.ClusterBpfApplication;
import dev.bpfagent.kubernetes.resource.Names;
import io.fabric8.kubernetes.client.CustomResource;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.MixedOperation;
import io.fabric8.kubernetes.client.dsl.Resource;

/** One application resource: a BpfApplication (namespace set) or a ClusterBpfApplication (namespace null). */
public record ApplicationKey(String namespace, String name) {
    public static ApplicationKey of(CustomResource<BpfApplicationSpec, BpfApplicationStatus> r) {
        return new ApplicationKey(r instanceof ClusterBpfApplication ? null : r.getMetadata().getNamespace(),
                r.getMetadata().getName());
    }

    public boolean cluster() {
        return namespace == null;
    }

    public String kind() {
        return cluster() ? "ClusterBpfApplication" : "BpfApplication";
    }

    /** The informer cache's key: "NAMESPACE/NAME", or "NAME" for a cluster resource. */
    public String cacheKey() {
        return cluster() ? name : namespace + "/" + name;
    }

    public String agentApplication() {
        return Names.agentApplication(namespace, name);
    }

    /** The resource on the API server. */
    @SuppressWarnings({"unchecked", "rawtypes"})
    public Resource<CustomResource<BpfApplicationSpec, BpfApplicationStatus>> resource(KubernetesClient kube) {
        if (cluster()) {
            return (Resource) kube.resources(ClusterBpfApplication.class).withName(name);
        }
        MixedOperation<BpfApplication, ?, Resource<BpfApplication>> op = kube.resources(BpfApplication.class);
        return (Resource) op.inNamespace(namespace).withName(name);
    }

    @Override
    public String toString() {
        return kind() + " " + cacheKey();
    }
}
