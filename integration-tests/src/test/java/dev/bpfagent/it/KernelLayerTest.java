package dev.bpfagent.it;

import static org.junit.jupiter.api.Assertions.*;

import dev.bpfagent.agent.bpf.ProgramFds;
import dev.bpfagent.agent.bpf.KernelObjects;
import dev.bpfagent.agent.bpf.Program;
import dev.bpfagent.agent.bpf.ProgramSpec;
import dev.bpfagent.agent.bpf.ProgramType;
import dev.bpfagent.agent.bpf.TestRun;
import dev.bpfagent.agent.bpf.VerifierException;
import dev.bpfagent.agent.errno.Errno;
import dev.bpfagent.agent.kernel.Fd;
import dev.bpfagent.agent.errno.KernelException;
import dev.bpfagent.agent.kernel.Mounts;
import dev.bpfagent.agent.kernel.PerfEvent;
import dev.bpfagent.client.TestPackets;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The kernel and bpf layers in-process, against the real kernel. */
class KernelLayerTest {
    @BeforeEach
    void root() {
        Kernel.assumeRoot();
    }

    static Optional<String> fdTarget(int fd) {
        try {
            return Optional.of(Files.readSymbolicLink(Path.of("/proc/self/fd/" + fd)).toString());
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    static ProgramSpec xdp(String name, int logLevel, int logSize) {
        return ProgramSpec.builder(ProgramType.XDP, Asm.xdpDropUdp()).name(name).log(logLevel, logSize).build();
    }

    @Test
    void loadTestRunAndCloseInProcess() throws Exception {
        Program.Loaded loaded = Program.load(xdp("inproc", 0, 0));
        Program p = loaded.program();
        int fd = ProgramFds.fd(p).number();
        assertEquals(Optional.of("anon_inode:bpf-prog"), fdTarget(fd));
        assertTrue(KernelObjects.programIds().contains(p.id()));
        TestRun.Result r = p.testRun(TestRun.Input.ofData(TestPackets.udp().build()));
        assertEquals(1, r.retval());
        p.close();
        p.close(); // exactly once: the second is a no-op
        assertNotEquals(Optional.of("anon_inode:bpf-prog"), fdTarget(fd));
        assertTrue(Kernel.eventually(() -> !Program.existsInKernel(p.id())), "the kernel frees the program");
        KernelException e = assertThrows(KernelException.class, () -> p.testRun(TestRun.Input.ofData(new byte[64])));
        assertEquals(Errno.EBADF, e.errno());
    }

    @Test
    void closeWaitsForTheCallThatHoldsTheFd() {
        Program p = Program.load(xdp("held", 0, 0)).program();
        int fd = ProgramFds.fd(p).number();
        Fd.Held held = ProgramFds.fd(p).hold();
        p.close();
        assertEquals(Optional.of("anon_inode:bpf-prog"), fdTarget(fd), "still open while held");
        assertThrows(KernelException.class, () -> ProgramFds.fd(p).hold(), "no new holders after close");
        held.close();
        assertNotEquals(Optional.of("anon_inode:bpf-prog"), fdTarget(fd), "closed when the holder let go");
    }

    @Test
    void verifierLogGrowsUntilItFits() {
        try (Program p = Program.load(xdp("growlog", 2, 1024)).program()) {
            // A level-2 log of this program is a few KiB: the first 1 KiB buffer got ENOSPC.
            assertTrue(Program.existsInKernel(p.id()));
        }
        Program.Loaded l = Program.load(xdp("growlog", 2, 1024));
        try (Program p = l.program()) {
            assertTrue(l.verifierLog().length() > 1024, "log length " + l.verifierLog().length());
            assertTrue(l.verifierLog().contains("processed 13 insns") || l.verifierLog().contains("processed"),
                    l.verifierLog());
        }
    }

    @Test
    void aLogLongerThanTheLargestBufferIsCutButTheProgramStillLoads() {
        Program.Loaded l = Program.load(xdp("cutlog", 2, 1024), 1024);
        try (Program p = l.program()) {
            assertTrue(l.logTruncated());
            assertFalse(l.verifierLog().isEmpty());
            assertTrue(Program.existsInKernel(p.id()));
        }
        // A rejected program with a long log: the rejection stands, with what fitted of the log.
        Asm bad = new Asm();
        for (int i = 0; i < 200; i++) {
            bad.movImm(Asm.R1, i);
        }
        byte[] insns = bad.exit().bytes();
        VerifierException e = assertThrows(VerifierException.class, () -> Program.load(
                ProgramSpec.builder(ProgramType.XDP, insns).name("cutbad").log(2, 1024).build(), 1024));
        assertTrue(e.truncated());
        assertEquals(Errno.EACCES, e.errno());
    }

    @Test
    void rejectionCarriesTheLogEvenWithoutALogLevel() {
        VerifierException e = assertThrows(VerifierException.class,
                () -> Program.load(ProgramSpec.of(ProgramType.XDP, Asm.invalid(), "nolog")));
        assertEquals(Errno.EACCES, e.errno());
        assertTrue(e.log().contains("R0 !read_ok"), e.log());
        assertFalse(e.truncated());
    }

    @Test
    void perfEventOpenAndIoctls() {
        try (Fd ev = PerfEvent.open(PerfEvent.PERF_TYPE_SOFTWARE, PerfEvent.PERF_COUNT_SW_CPU_CLOCK, -1, 0)) {
            assertEquals(Optional.of("anon_inode:[perf_event]"), fdTarget(ev.number()));
            PerfEvent.enable(ev);
            PerfEvent.disable(ev);
            // SET_BPF with an XDP program is refused: the kernel checks the program type.
            try (Program p = Program.load(xdp("perfprog", 0, 0)).program()) {
                KernelException e = assertThrows(KernelException.class, () -> PerfEvent.setBpf(ev, ProgramFds.fd(p)));
                assertEquals(Errno.EINVAL, e.errno());
            }
        }
    }

    @Test
    void bpffsIsMountedWhenMissingAndNeverTwice() throws Exception {
        // A place of this test's own with no bpffs: ensure() must really mount one there.
        Path target = Files.createTempDirectory("bpf-agent-mount");
        try {
            assertFalse(Mounts.isMounted(target, "bpf"));
            assertTrue(Mounts.ensure(target, "bpf", "mode=0700"), "nothing was mounted: ensure must mount");
            assertTrue(Mounts.isMounted(target, "bpf"));
            assertEquals("rwx------", java.nio.file.attribute.PosixFilePermissions.toString(
                    Files.getPosixFilePermissions(target)), "mounted as the agent mounts bpffs: mode 0700");
            // It is a real bpffs: a program pins there.
            try (Program p = Program.load(xdp("mounted", 0, 0)).program()) {
                p.pin(target.resolve("p").toString());
                assertTrue(Files.exists(target.resolve("p")));
                Files.delete(target.resolve("p"));
            }
            long mounts = Mounts.current().stream().filter(m -> m.target().equals(target)).count();
            assertFalse(Mounts.ensure(target, "bpf"), "already mounted: nothing to do");
            assertEquals(mounts, Mounts.current().stream().filter(m -> m.target().equals(target)).count());
        } finally {
            // The test made this mount, so the test removes it (the agent itself never unmounts).
            if (Mounts.isMounted(target, "bpf")) {
                assertEquals(0, Processes.run(30, java.util.List.of("umount", target.toString())).exit());
            }
            Files.deleteIfExists(target);
        }
    }
}
