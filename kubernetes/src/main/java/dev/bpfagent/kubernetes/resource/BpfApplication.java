package dev.bpfagent.kubernetes.resource;

import io.fabric8.kubernetes.api.model.Namespaced;
import io.fabric8.kubernetes.client.CustomResource;
import io.fabric8.kubernetes.model.annotation.Group;
import io.fabric8.kubernetes.model.annotation.Kind;
import io.fabric8.kubernetes.model.annotation.Plural;
import io.fabric8.kubernetes.model.annotation.Version;

/** An application in one namespace, run on the nodes its spec selects. */
@Group(Resources.GROUP)
@Version(Resources.VERSION)
@Kind("BpfApplication")
@Plural("bpfapplications")
public class BpfApplication extends CustomResource<BpfApplicationSpec, BpfApplicationStatus> implements Namespaced {
}
