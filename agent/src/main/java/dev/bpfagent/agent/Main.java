package dev.bpfagent.agent;

/** Entry point: {@code java -jar bpf-agent.jar [options]}; SIGTERM/SIGINT stop it gracefully. */
public final class Main {
    /**
     * grpc-netty asks every accepted channel for SO_KEEPALIVE, which a Unix socket does not have;
     * netty then warns once per connection. Held here so the level sticks (loggers are weakly kept).
     */
    private static final java.util.logging.Logger NETTY_BOOTSTRAP =
            java.util.logging.Logger.getLogger("io.netty.bootstrap");

    private Main() {
    }

    public static void main(String[] args) throws Exception {
        NETTY_BOOTSTRAP.setLevel(java.util.logging.Level.SEVERE);
        if (args.length > 0 && (args[0].equals("--help") || args[0].equals("-h"))) {
            System.out.println(AgentConfig.USAGE);
            return;
        }
        if (args.length > 0 && args[0].equals("--version")) {
            System.out.println("bpf-agent " + Agent.version() + " (Java " + Runtime.version() + ", kernel "
                    + System.getProperty("os.version") + ")");
            return;
        }
        AgentConfig config;
        try {
            config = AgentConfig.parse(args);
        } catch (IllegalArgumentException e) {
            System.err.println("bpf-agent: " + e.getMessage());
            System.exit(2);
            return;
        }
        if (config.jsonLogs()) {
            JsonLogFormatter.install();
        }
        try {
            Agent.checkPrivileges();
        } catch (IllegalStateException e) {
            System.err.println("bpf-agent: cannot start: " + e.getMessage());
            System.exit(1);
            return;
        }
        Agent agent = new Agent(config);
        Runtime.getRuntime().addShutdownHook(new Thread(agent::close, "bpf-agent-shutdown"));
        try {
            agent.start();
        } catch (Exception e) {
            System.err.println("bpf-agent: cannot start: " + e.getMessage());
            agent.close();
            System.exit(1);
            return;
        }
        // One line on stdout when ready; scripts and tests wait for it.
        System.out.println("bpf-agent " + Agent.version() + " ready: unix:" + agent.socketPath()
                + agent.tcpPort().map(p -> " tcp:" + config.tcp().orElseThrow().host() + ":" + p).orElse("")
                + agent.metricsPort().map(p -> " metrics:" + config.metrics().orElseThrow().host() + ":" + p).orElse("")
                + " bpffs:" + config.bpffsDir());
        System.out.flush();
        agent.notifyReady();
        agent.awaitTermination();
    }
}
