package dev.bpfagent.kubernetes;

import dev.bpfagent.client.BpfClient;
import dev.bpfagent.kubernetes.cluster.StatusAggregator;
import dev.bpfagent.kubernetes.crd.Crds;
import dev.bpfagent.kubernetes.node.NodeController;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;

/**
 * {@code java -jar bpf-agent-kubernetes.jar node|cluster|crds ...}: the node controller (a container of
 * the agent's DaemonSet), the cluster part (a Deployment), or the CRDs written to a directory. The API
 * server is found as every fabric8 client finds it: in a pod, its service account; else KUBECONFIG.
 */
public final class Main {
    private static final String USAGE = """
            usage:
              node    [--node NAME] [--agent TARGET] [--namespace NS]   apply this node's applications through its agent
                      NAME: default $NODE_NAME; TARGET: default unix:/run/bpf-agent/agent.sock;
                      NS: where ClusterBpfApplications' node resources go, default $POD_NAMESPACE or bpf-agent
              cluster [--namespace NS]                                  sum the nodes' status into each application's
              crds    DIR                                               write the CRDs as YAML files into DIR
            """;

    private Main() {
    }

    public static void main(String[] args) throws Exception {
        if (args.length == 0) {
            System.err.print(USAGE);
            System.exit(2);
        }
        Map<String, String> opts = options(args);
        switch (args[0]) {
            case "crds" -> {
                if (args.length != 2) {
                    fail("crds takes one directory");
                }
                Crds.main(new String[] {args[1]});
            }
            case "node" -> {
                String node = opts.getOrDefault("node", System.getenv("NODE_NAME"));
                if (node == null || node.isEmpty()) {
                    fail("node: --node NAME or $NODE_NAME is required (the downward API's spec.nodeName)");
                }
                String target = opts.getOrDefault("agent", "unix:/run/bpf-agent/agent.sock");
                try (KubernetesClient kube = new KubernetesClientBuilder().build();
                     BpfClient agent = BpfClient.connect(target);
                     NodeController c = new NodeController(kube, agent, node, namespace(opts), Main::log)) {
                    c.start();
                    log("node controller for " + node + " running, agent " + target);
                    awaitShutdown();
                }
            }
            case "cluster" -> {
                try (KubernetesClient kube = new KubernetesClientBuilder().build();
                     StatusAggregator a = new StatusAggregator(kube, namespace(opts), Main::log)) {
                    a.start();
                    log("cluster status aggregator running");
                    awaitShutdown();
                }
            }
            default -> fail("unknown command '" + args[0] + "'");
        }
    }

    private static String namespace(Map<String, String> opts) {
        String env = System.getenv("POD_NAMESPACE");
        return opts.getOrDefault("namespace", env == null || env.isEmpty() ? "bpf-agent" : env);
    }

    private static Map<String, String> options(String[] args) {
        Map<String, String> m = new HashMap<>();
        List<String> rest = new ArrayList<>();
        for (int i = 1; i < args.length; i++) {
            if (args[i].startsWith("--")) {
                if (i + 1 >= args.length) {
                    fail(args[i] + " needs a value");
                }
                String k = args[i].substring(2);
                if (!List.of("node", "agent", "namespace").contains(k)) {
                    fail("unknown option " + args[i]);
                }
                m.put(k, args[++i]);
            } else {
                rest.add(args[i]);
            }
        }
        return m;
    }

    private static void awaitShutdown() throws InterruptedException {
        CountDownLatch done = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(done::countDown));
        done.await();
    }

    static void log(String m) {
        System.err.println(Instant.now() + " " + m);
    }

    private static void fail(String m) {
        System.err.println(m);
        System.err.print(USAGE);
        System.exit(2);
    }
}
