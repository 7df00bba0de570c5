package dev.bpfagent.it;

import static org.junit.jupiter.api.Assertions.*;

import dev.bpfagent.client.BpfAgentException;
import dev.bpfagent.client.BpfClient;
import dev.bpfagent.client.LoadOptions;
import dev.bpfagent.client.ProgramHandle;
import dev.bpfagent.client.TestPackets;
import dev.bpfagent.client.TestRunOptions;
import dev.bpfagent.proto.v1.ProgramType;
import io.grpc.Status;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** Many clients at once: loads, runs and closes interleave; a program closes exactly once. */
class ConcurrencyTest {
    @Test
    void parallelClientsAndRacingCloses() throws Exception {
        Kernel.assumeRoot();
        ExecutorService pool = Executors.newFixedThreadPool(8);
        try (AgentProcess agent = AgentProcess.start();
             BpfClient a = BpfClient.connect(agent.unixTarget());
             BpfClient b = BpfClient.connect(agent.tcpTarget)) {
            byte[] udp = TestPackets.udp().build();
            List<Future<Integer>> work = new ArrayList<>();
            for (int t = 0; t < 8; t++) {
                BpfClient c = t % 2 == 0 ? a : b;
                work.add(pool.submit(() -> {
                    int drops = 0;
                    for (int i = 0; i < 25; i++) {
                        try (ProgramHandle p = c.load(LoadOptions.builder(ProgramType.PROGRAM_TYPE_XDP, Asm.xdpDropUdp())
                                .name("conc").build())) {
                            drops += p.testRun(TestRunOptions.ofData(udp).withRepeat(10)).retval() == 1 ? 1 : 0;
                        }
                    }
                    return drops;
                }));
            }
            for (Future<Integer> f : work) {
                assertEquals(25, f.get(120, TimeUnit.SECONDS));
            }

            // Two clients close the same program at the same moment, while a third runs it.
            for (int round = 0; round < 20; round++) {
                ProgramHandle p = a.load(LoadOptions.builder(ProgramType.PROGRAM_TYPE_XDP, Asm.xdpDropUdp()).build());
                CountDownLatch go = new CountDownLatch(1);
                AtomicInteger closed = new AtomicInteger();
                AtomicInteger notFound = new AtomicInteger();
                Callable<Void> closer = () -> {
                    go.await();
                    try {
                        (closed.get() % 2 == 0 ? a : b).closeProgram(p.id(), false);
                        closed.incrementAndGet();
                    } catch (BpfAgentException e) {
                        assertEquals(Status.Code.NOT_FOUND, e.code(), e.getMessage());
                        notFound.incrementAndGet();
                    }
                    return null;
                };
                Callable<Void> runner = () -> {
                    go.await();
                    try {
                        b.testRun(p.id(), TestRunOptions.ofData(udp).withRepeat(1000));
                    } catch (BpfAgentException e) {
                        assertEquals(Status.Code.NOT_FOUND, e.code(), e.getMessage());
                    }
                    return null;
                };
                List<Future<Void>> fs = List.of(pool.submit(closer), pool.submit(closer), pool.submit(runner));
                go.countDown();
                for (Future<Void> f : fs) {
                    f.get(60, TimeUnit.SECONDS);
                }
                assertEquals(1, closed.get(), "exactly one close succeeds");
                assertEquals(1, notFound.get());
                assertTrue(Kernel.eventually(() -> !a.programExists(p.id())));
            }
            assertEquals(0, a.agentInfo().getProgramsHeld());
        } finally {
            pool.shutdownNow();
        }
    }
}
