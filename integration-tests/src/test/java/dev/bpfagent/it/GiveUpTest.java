package dev.bpfagent.it;

import static org.junit.jupiter.api.Assertions.*;

import com.google.protobuf.ByteString;
import dev.bpfagent.client.AgentChannels;
import dev.bpfagent.client.BpfAgentException;
import dev.bpfagent.client.BpfClient;
import dev.bpfagent.client.LoadOptions;
import dev.bpfagent.client.ProgramHandle;
import dev.bpfagent.client.TestPackets;
import dev.bpfagent.client.TestRunOptions;
import dev.bpfagent.proto.v1.*;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;

/**
 * Calls a client gave up on leave nothing behind, long calls are bounded, the queue is bounded, and
 * the races between pin and close, and a failed close, leave no untracked pin or leaked fd.
 */
class GiveUpTest {
    static byte[] straightLine(int n) {
        Asm a = new Asm();
        for (int i = 0; i < n; i++) {
            a.movImm(Asm.R0, i & 1);
        }
        return a.exit().bytes();
    }

    static void eventually(String what, BooleanSupplier ok) throws InterruptedException {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (!ok.getAsBoolean()) {
            assertTrue(System.nanoTime() < end, "not within 20 s: " + what);
            Thread.sleep(50);
        }
    }

    static long namedInKernel(BpfClient c, String name) {
        return c.listPrograms(true).stream().filter(p -> p.getKernel().getName().equals(name)).count();
    }

    @Test
    void aLoadWhoseDeadlinePassedWhileVerifyingLeavesNothing() throws Exception {
        Kernel.assumeRoot();
        try (AgentProcess agent = AgentProcess.start(); BpfClient c = BpfClient.connect(agent.unixTarget())) {
            LoadOptions big = LoadOptions.builder(ProgramType.PROGRAM_TYPE_XDP, straightLine(400_000))
                    .name("giveup").build();
            long loadMillis = Long.MAX_VALUE;
            for (int i = 0; i < 3; i++) { // warm: the fastest of three
                long t0 = System.nanoTime();
                c.load(big).close();
                loadMillis = Math.min(loadMillis, (System.nanoTime() - t0) / 1_000_000);
            }
            long fdsBefore = Files.list(Path.of("/proc/" + agent.process.pid() + "/fd")).count();
            // Deadlines shorter than a load, shrinking until they land while the verifier works.
            int exceeded = 0;
            for (long deadline = Math.max(2, loadMillis / 2); deadline >= 1 && exceeded < 5; deadline = Math.max(1,
                    exceeded == 0 ? deadline * 2 / 3 : deadline)) {
                try (BpfClient hurried = c.withDeadline(deadline)) {
                    hurried.load(big).close(); // fast enough this time
                } catch (BpfAgentException e) {
                    assertEquals(Status.Code.DEADLINE_EXCEEDED, e.code(), e.getMessage());
                    exceeded++;
                }
                if (deadline == 1 && exceeded == 0) {
                    fail("no load was slower than 1 ms: cannot test this here");
                }
            }
            eventually("the agent holds nothing and the kernel has no 'giveup' program",
                    () -> c.agentInfo().getProgramsHeld() == 0 && namedInKernel(c, "giveup") == 0);
            long fdsAfter = Files.list(Path.of("/proc/" + agent.process.pid() + "/fd")).count();
            assertTrue(fdsAfter <= fdsBefore + 1, "fds " + fdsBefore + " -> " + fdsAfter);
            assertEquals(List.of(), Files.list(agent.bpffsDir).toList());
        }
    }

    @Test
    void aTestRunStopsWhenItsDeadlinePasses() throws Exception {
        Kernel.assumeRoot();
        try (AgentProcess agent = AgentProcess.start(); BpfClient c = BpfClient.connect(agent.unixTarget());
             ProgramHandle p = c.load(LoadOptions.builder(ProgramType.PROGRAM_TYPE_XDP, Asm.xdpDropUdp()).build())) {
            byte[] udp = TestPackets.udp().build();
            c.setRunStats(true);
            try {
                int runs = 100_000_000; // tens of seconds of runs
                try (BpfClient hurried = c.withDeadline(300)) {
                    BpfAgentException e = assertThrows(BpfAgentException.class,
                            () -> hurried.testRun(p.id(), TestRunOptions.ofData(udp).withRepeat(runs)));
                    assertEquals(Status.Code.DEADLINE_EXCEEDED, e.code());
                }
                // The kernel stops counting runs soon after: the run was stopped, not left to finish.
                long[] last = {-1};
                eventually("run_cnt stops growing", () -> {
                    long now = p.info().getKernel().getRunCnt();
                    boolean still = now == last[0];
                    last[0] = now;
                    if (!still) {
                        sleep(300);
                    }
                    return still;
                });
                assertTrue(last[0] < runs, "ran " + last[0] + " of " + runs);
                // and the worker is free again: a run with no deadline trouble completes
                assertEquals(1, c.testRun(p.id(), TestRunOptions.ofData(udp).withRepeat(10)).retval());
            } finally {
                c.setRunStats(false);
            }
        }
    }

    static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Test
    void aFullQueueRefusesWithRetryInfoAndCallsThatWaitedPastTheirDeadlineNeverStart() throws Exception {
        Kernel.assumeRoot();
        try (AgentProcess agent = AgentProcess.start("--max-queued-calls", "1");
             AgentChannels.Connection conn = AgentChannels.connect(agent.unixTarget());
             BpfClient c = BpfClient.over(conn.channel());
             ProgramHandle p = c.load(LoadOptions.builder(ProgramType.PROGRAM_TYPE_XDP, Asm.xdpDropUdp()).build())) {
            byte[] udp = TestPackets.udp().build();
            // About 1.5 s of runs each when alone.
            int perRunNs = Math.max(1, c.testRun(p.id(), TestRunOptions.ofData(udp).withRepeat(100_000)).durationNs());
            int repeat = (int) Math.min(100_000_000L, 1_500_000_000L / perRunNs);
            int threads = Math.max(8, 4 * Runtime.getRuntime().availableProcessors()); // the agent's pool, same machine
            int calls = threads + 1 + 6;
            var stub = BpfServiceGrpc.newBlockingStub(conn.channel()).withDeadlineAfter(120, TimeUnit.SECONDS);
            ExecutorService pool = Executors.newFixedThreadPool(calls);
            CountDownLatch go = new CountDownLatch(1);
            try {
                List<Future<Status>> results = new ArrayList<>();
                for (int i = 0; i < calls; i++) {
                    results.add(pool.submit(() -> {
                        go.await();
                        try {
                            stub.testRunProgram(TestRunProgramRequest.newBuilder()
                                    .setProgram(ObjectRef.newBuilder().setId(p.id()))
                                    .setDataIn(ByteString.copyFrom(udp)).setRepeat(repeat).build());
                            return Status.OK;
                        } catch (StatusRuntimeException e) {
                            if (e.getStatus().getCode() == Status.Code.RESOURCE_EXHAUSTED) {
                                var rich = StatusProto.fromThrowable(e);
                                assertTrue(rich.getDetailsList().stream().anyMatch(a -> a.is(com.google.rpc.RetryInfo.class)),
                                        "RetryInfo says when to come back");
                            }
                            return e.getStatus();
                        }
                    }));
                }
                go.countDown();
                Thread.sleep(300); // the runs hold every worker and the one queue place
                // A load whose deadline passes while it waits in the queue is never started.
                try (BpfClient hurried = c.withDeadline(200)) {
                    // Over 64 instructions: a load that goes to the pool (quick ones are verified in place).
                    BpfAgentException e = assertThrows(BpfAgentException.class, () -> hurried.load(
                            LoadOptions.builder(ProgramType.PROGRAM_TYPE_XDP, straightLine(100)).name("queued").build()));
                    assertTrue(e.code() == Status.Code.DEADLINE_EXCEEDED || e.code() == Status.Code.RESOURCE_EXHAUSTED,
                            e.getMessage());
                }
                int ok = 0;
                int refused = 0;
                for (Future<Status> f : results) {
                    Status s = f.get(180, TimeUnit.SECONDS);
                    if (s.isOk()) {
                        ok++;
                    } else {
                        assertEquals(Status.Code.RESOURCE_EXHAUSTED, s.getCode(), s.toString());
                        refused++;
                    }
                }
                assertTrue(refused >= calls - threads - 1, ok + " ran, " + refused + " refused");
                assertTrue(ok >= threads, ok + " ran, " + refused + " refused");
            } finally {
                pool.shutdownNow();
            }
            assertEquals(0, namedInKernel(c, "queued"), "the queued load never ran");
            assertEquals(1, c.agentInfo().getProgramsHeld());
            // With the queue drained, calls are admitted again.
            c.load(LoadOptions.builder(ProgramType.PROGRAM_TYPE_XDP, Asm.returnImm(2)).build()).close();
        }
    }

    @Test
    void pinRacingCloseLeavesNoUntrackedPin() throws Exception {
        Kernel.assumeRoot();
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try (AgentProcess agent = AgentProcess.start(); BpfClient c = BpfClient.connect(agent.unixTarget())) {
            for (int round = 0; round < 40; round++) {
                ProgramHandle p = c.load(LoadOptions.builder(ProgramType.PROGRAM_TYPE_XDP, Asm.returnImm(2)).build());
                String rel = "race/r" + round;
                CountDownLatch go = new CountDownLatch(1);
                Future<?> pin = pool.submit(() -> {
                    go.await();
                    try {
                        c.pin(p.id(), rel);
                    } catch (BpfAgentException e) {
                        assertEquals(Status.Code.NOT_FOUND, e.code(), e.getMessage()); // closed first
                    }
                    return null;
                });
                Future<?> close = pool.submit(() -> {
                    go.await();
                    c.closeProgram(p.id(), false);
                    return null;
                });
                go.countDown();
                pin.get(30, TimeUnit.SECONDS);
                close.get(30, TimeUnit.SECONDS);
                assertFalse(Files.exists(agent.bpffsDir.resolve(rel)), "round " + round + ": a pin outlived the close");
                assertTrue(Kernel.eventually(() -> !c.programExists(p.id())), "round " + round
                        + ": the program is still loaded");
            }
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void aCloseThatCannotRemoveAPinFailsWholeAndCanBeRetried() throws Exception {
        Kernel.assumeRoot();
        try (AgentProcess agent = AgentProcess.start(); BpfClient c = BpfClient.connect(agent.unixTarget())) {
            ProgramHandle p = c.load(LoadOptions.builder(ProgramType.PROGRAM_TYPE_XDP, Asm.returnImm(2)).build());
            Path pin = Path.of(p.pin("stuck/pin"));
            // Someone replaces the agent's pin with a directory: the agent cannot remove it as a pin.
            Files.delete(pin);
            Files.createDirectory(pin);
            BpfAgentException e = assertThrows(BpfAgentException.class, p::close);
            assertEquals(Status.Code.FAILED_PRECONDITION, e.code(), e.getMessage());
            assertFalse(p.isClosed(), "a close that failed is not marked done");
            assertTrue(c.program(p.id()).getAgent().getHeld(), "still held, fd not leaked, close retryable");
            Files.delete(pin);
            p.close();
            assertTrue(p.isClosed());
            assertTrue(Kernel.eventually(() -> !c.programExists(p.id())));
            assertEquals(0, c.agentInfo().getProgramsHeld());
        }
    }
}
