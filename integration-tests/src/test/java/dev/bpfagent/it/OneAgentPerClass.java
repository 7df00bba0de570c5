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
            try {
                // every close path leaves nothing held that nobody holds (a closed collection's maps a
                // chain's program kept are closed with that program)
                org.junit.jupiter.api.Assertions.assertEquals(0, c.agentInfo().getUnheld(),
                        "objects held that nothing holds any more");
            } finally {
                c.close();
                c = null;
            }
        }
        if (agent != null) {
            agent.close();
            agent = null;
        }
    }
}
