package dev.bpfagent.it;

import dev.bpfagent.client.BpfClient;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/**
 * Tests that share one agent process for the whole class, and a client over its Unix socket. Test
 * classes run one after another, so the static fields are one class's at a time.
 */
abstract class OneAgentPerClass {
    static AgentProcess agent;
    static BpfClient c;

    @BeforeAll
    static void startAgent() throws Exception {
        Kernel.assumeRoot();
        agent = AgentProcess.start();
        c = BpfClient.connect(agent.unixTarget());
    }

    @AfterAll
    static void stopAgent() throws Exception {
        if (c != null) {
            c.close();
            c = null;
        }
        if (agent != null) {
            agent.close();
            agent = null;
        }
    }
}
