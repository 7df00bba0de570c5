package dev.bpfagent.it;

import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.client.NamespacedKubernetesClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesCrudDispatcher;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import io.fabric8.mockwebserver.Context;
import io.fabric8.mockwebserver.MockWebServer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.stream.Stream;

/**
 * fabric8's Kubernetes mock server in CRUD mode (no real API server can run on these machines) with the
 * committed CRDs (deploy/kubernetes/crds) created in it, so that it keeps their status subresource.
 */
final class MockCluster implements AutoCloseable {
    final KubernetesMockServer server;
    final NamespacedKubernetesClient kube;

    private MockCluster(KubernetesMockServer server, NamespacedKubernetesClient kube) {
        this.server = server;
        this.kube = kube;
    }

    static MockCluster start() throws Exception {
        KubernetesMockServer server = new KubernetesMockServer(new Context(), new MockWebServer(), new HashMap<>(),
                new KubernetesCrudDispatcher(), false);
        server.init();
        NamespacedKubernetesClient kube = server.createClient();
        KubernetesSerialization yaml = new KubernetesSerialization();
        try (Stream<Path> files = Files.list(Path.of("..", "deploy", "kubernetes", "crds"))) {
            for (Path f : files.sorted().toList()) {
                kube.apiextensions().v1().customResourceDefinitions()
                        .resource(yaml.unmarshal(Files.readString(f), CustomResourceDefinition.class)).create();
            }
        }
        return new MockCluster(server, kube);
    }

    /** Another client of the same server (each controller has its own, as each pod would). */
    NamespacedKubernetesClient client() {
        return server.createClient();
    }

    @Override
    public void close() {
        kube.close();
        server.destroy();
    }
}
