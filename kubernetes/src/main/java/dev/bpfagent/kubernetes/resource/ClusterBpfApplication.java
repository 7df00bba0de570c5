package dev.bpfagent.kubernetes.resource;

import io.fabric8.kubernetes.client.CustomResource;
import io.fabric8.kubernetes.model.annotation.Group;
import io.fabric8.kubernetes.model.annotation.Kind;
import io.fabric8.kubernetes.model.annotation.Plural;
import io.fabric8.kubernetes.model.annotation.Version;

/** A cluster-scoped application (no namespace), run on the nodes its spec selects. */
@Group(Resources.GROUP)
@Version(Resources.VERSION)
@Kind("ClusterBpfApplication")
@Plural("clusterbpfapplications")
public class ClusterBpfApplication extends CustomResource<BpfApplicationSpec, BpfApplicationStatus> {
}
