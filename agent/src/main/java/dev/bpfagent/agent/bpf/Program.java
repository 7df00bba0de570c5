package dev.bpfagent.agent.bpf;

import java.util.Optional;

import dev.bpfagent.agent.kernel.Bpf;
import dev.bpfagent.agent.kernel.BpfCmd;
import dev.bpfagent.agent.kernel.BpfProgInfo;
import dev.bpfagent.agent.errno.Errno;
import dev.bpfagent.agent.kernel.Fd;
import dev.bpfagent.agent.errno.KernelException;
import dev.bpfagent.agent.kernel.ProgLoadAttr;
import dev.bpfagent.agent.kernel.ProgLoadException;
import java.util.ArrayList;
import java.util.List;

/**
 * A program loaded in the kernel, held through its fd. Closing it closes the fd exactly once; the
 * kernel frees the program when nothing else (a pin, a link, another process) holds it.
 */
public final class Program implements BpfObject {
    /** The largest verifier log buffer the loader grows to. */
    public static final int MAX_LOG_SIZE = 16 * 1024 * 1024;

    private final Fd fd;
    private final int id;
    private final ProgramType type;
    private final String name;
    private final String tag;

    /** What the kernel said of the program when this object took its fd. */
    private final ProgramInfo initialInfo;
    /**
     * The expected_attach_type it was loaded with, when this object loaded it (the kernel does not
     * report it back): attaches that need it (tracing, tcx, cgroup) take it from here or from the hook.
     */
    private volatile Optional<AttachType> expectedAttachType = Optional.empty();

    private Program(Fd fd, BpfProgInfo info) {
        this.fd = fd;
        this.initialInfo = ProgramInfo.of(info);
        this.id = info.id();
        this.type = ProgramType.of(info.type()).orElse(ProgramType.UNSPEC);
        this.name = info.name();
        this.tag = info.tagHex();
    }

    /**
     * A loaded program and the verifier's log (empty unless the spec asked for one).
     *
     * @param logTruncated the log was longer than {@link #MAX_LOG_SIZE}; this is part of it
     */
    public record Loaded(Program program, String verifierLog, boolean logTruncated) {
    }

    /**
     * BPF_PROG_LOAD. The log buffer grows and the load is retried when the log does not fit; a rejected
     * program throws {@link VerifierException} with the log, fetched at level 1 if the spec asked for none.
     */
    public static Loaded load(ProgramSpec spec) {
        return load(spec, MAX_LOG_SIZE);
    }

    /** As {@link #load(ProgramSpec)}, growing the log buffer up to maxLogSize bytes (at least 1 KiB). */
    public static Loaded load(ProgramSpec spec, int maxLogSize) {
        List<Fd> sideFds = new ArrayList<>();
        List<Fd.Held> mapFds = new ArrayList<>(); // the maps' fds, held (not closed) until the load returns
        try {
            ProgramSpec.Btf btf = spec.btf();
            ProgramSpec.AttachTarget target = spec.attachTarget();
            Fd progBtf = btf.btf().length > 0 ? add(sideFds, Bpf.btfLoad(btf.btf())) : null;
            Fd btfObj = target.kernelBtfObjId() != 0 ? add(sideFds, byId(BpfCmd.BPF_BTF_GET_FD_BY_ID,
                    target.kernelBtfObjId(), "attach_target.kernel_btf_obj_id", "BTF object")) : null;
            Fd attachProg = target.programId() != 0 ? add(sideFds, byId(BpfCmd.BPF_PROG_GET_FD_BY_ID,
                    target.programId(), "attach_target.program", "program")) : null;
            byte[] insns = withMapFds(spec, mapFds);
            ProgLoadAttr attr = new ProgLoadAttr(spec.type().value, insns, spec.license(), 0, 0,
                    spec.kernVersion() != 0 ? spec.kernVersion() : KernelVersion.code(), spec.progFlags(),
                    spec.name(), spec.progIfindex(), spec.expectedAttachType().map(t -> t.value).orElse(0),
                    progBtf, target.btfId(), btfObj, attachProg, btf.funcInfo(), btf.funcInfoRecSize(),
                    btf.lineInfo(), btf.lineInfoRecSize());
            Bpf.ProgLoadResult result;
            boolean truncated = false;
            if (spec.log().level() > 0) {
                LogLoad l = loadGrowingLog(attr, spec.log().level(), spec.log().size(), maxLogSize, spec.name());
                result = l.result();
                truncated = l.truncated();
            } else {
                try {
                    result = Bpf.progLoad(attr);
                } catch (ProgLoadException first) {
                    if (first.errno() == Errno.EPERM) {
                        throw first; // no log will say more than "missing privilege"
                    }
                    // Load again with a log, only to say why it failed.
                    loadGrowingLog(attr, 1, spec.log().size(), maxLogSize, spec.name()).result().fd().close();
                    throw first; // it passed the second time: report the first failure as it was
                }
            }
            Program loaded = adopt(result.fd());
            loaded.expectedAttachType = spec.expectedAttachType();
            return new Loaded(loaded, result.log(), truncated);
        } finally {
            sideFds.forEach(Fd::close);
            mapFds.forEach(Fd.Held::close);
        }
    }

    /**
     * The instructions with each map named by index rewritten to name it by fd (BPF_PSEUDO_MAP_IDX ->
     * _MAP_FD, _IDX_VALUE -> _MAP_VALUE): every kernel takes these, where fd_array needs 5.17. The
     * maps' fds are held (in sideFds' lifetime) until the load returns.
     */
    private static byte[] withMapFds(ProgramSpec spec, List<Fd.Held> held) {
        if (spec.maps().isEmpty()) {
            return spec.instructions();
        }
        int[] fds = new int[spec.maps().size()];
        for (int m = 0; m < fds.length; m++) {
            Fd.Held h = spec.maps().get(m).fd().hold();
            held.add(h);
            fds[m] = h.fd();
        }
        byte[] out = spec.instructions().clone();
        for (int i = 0; i + 1 < out.length / ProgramSpec.INSN_SIZE; i++) {
            int at = i * ProgramSpec.INSN_SIZE;
            if ((out[at] & 0xff) != ProgramSpec.LD_IMM64) {
                continue;
            }
            int src = (out[at + 1] >> 4) & 0x0f;
            if (src == ProgramSpec.BPF_PSEUDO_MAP_IDX || src == ProgramSpec.BPF_PSEUDO_MAP_IDX_VALUE) {
                int fd = fds[ProgramSpec.imm(out, i)];
                int newSrc = src == ProgramSpec.BPF_PSEUDO_MAP_IDX ? ProgramSpec.BPF_PSEUDO_MAP_FD
                        : ProgramSpec.BPF_PSEUDO_MAP_VALUE;
                out[at + 1] = (byte) ((out[at + 1] & 0x0f) | newSrc << 4);
                out[at + 4] = (byte) fd;
                out[at + 5] = (byte) (fd >> 8);
                out[at + 6] = (byte) (fd >> 16);
                out[at + 7] = (byte) (fd >> 24);
            }
            i++; // the second half
        }
        return out;
    }

    /** An fd by id for a load's side input, failing with the field's name. */
    private static Fd byId(BpfCmd cmd, int id, String field, String what) {
        try {
            return Bpf.getFdById(cmd, id);
        } catch (KernelException e) {
            throw e.withContext(field + " " + Integer.toUnsignedString(id)
                    + (e.errno() == Errno.ENOENT ? ": the kernel has no " + what + " with that id" : ""));
        }
    }

    private static Fd add(List<Fd> fds, Fd fd) {
        fds.add(fd);
        return fd;
    }

    /** What a load with a log gave: the program (or the exception) and whether the log was cut. */
    private record LogLoad(Bpf.ProgLoadResult result, boolean truncated) {
    }

    private static LogLoad loadGrowingLog(ProgLoadAttr attr, int level, int size, int maxSize, String name) {
        int max = Math.max(maxSize, 1024);
        int logSize = Math.min(Math.max(size, 1024), max);
        while (true) {
            try {
                return new LogLoad(Bpf.progLoad(attr.withLog(level, logSize)), false);
            } catch (ProgLoadException e) {
                boolean full = e.errno() == Errno.ENOSPC;
                if (full && logSize < max) {
                    // log_true_size (6.4+) says exactly what is needed; older kernels: double.
                    long want = e.logTrueSize() > logSize ? e.logTrueSize() : (long) logSize * 2;
                    logSize = (int) Math.min(want, max);
                    continue;
                }
                if (full) {
                    // Even the largest buffer was too small. ENOSPC says nothing of the program itself
                    // (6.4+ fails a load whose log was cut), so load it once more without a log.
                    try {
                        Bpf.ProgLoadResult quiet = Bpf.progLoad(attr.withLog(0, 0));
                        return new LogLoad(new Bpf.ProgLoadResult(quiet.fd(), e.log()), true);
                    } catch (ProgLoadException rejected) {
                        throw new VerifierException(rejected.errnoNumber(), name, e.log(), true);
                    }
                }
                if (e.log().isBlank()) {
                    throw e;
                }
                throw new VerifierException(e.errnoNumber(), name, e.log(), false);
            }
        }
    }

    /** Takes ownership of a program fd (from a load, a pin or an id); closes it if its info cannot be read. */
    static Program adopt(Fd fd) {
        try {
            return new Program(fd, Bpf.progInfo(fd));
        } catch (RuntimeException e) {
            fd.close();
            throw e;
        }
    }

    /** BPF_OBJ_GET on a bpffs path; {@link WrongKindException} if a map or link is pinned there. */
    public static Program fromPinned(String path) {
        Fd fd = Bpf.objGet(path);
        ObjectKind kind = ObjectKind.ofInode(fd.kind());
        if (kind != ObjectKind.PROGRAM) {
            fd.close();
            throw new WrongKindException(path, ObjectKind.PROGRAM, kind);
        }
        return adopt(fd);
    }

    /** BPF_PROG_GET_FD_BY_ID: a new fd of a program loaded by anyone. */
    public static Program fromId(int id) {
        return adopt(Bpf.getFdById(BpfCmd.BPF_PROG_GET_FD_BY_ID, id));
    }

    /** Does the kernel still have a program with this id? */
    public static boolean existsInKernel(int id) {
        try (Fd fd = Bpf.getFdById(BpfCmd.BPF_PROG_GET_FD_BY_ID, id)) {
            return true;
        } catch (KernelException.NotFound e) {
            return false;
        }
    }

    /** BPF_PROG_TEST_RUN, all of in.repeat() runs in one call. */
    public TestRun.Result testRun(TestRun.Input in) {
        Bpf.TestRunResult r = Bpf.progTestRun(fd, in.dataIn(), in.effectiveDataSizeOut(), in.ctxIn(), in.ctxSizeOut(),
                in.repeat(), in.flags(), in.cpu(), in.batchSize());
        return new TestRun.Result(r.retval(), r.data_out(), r.ctx_out(), r.duration(), r.data_size_out());
    }

    /**
     * BPF_PROG_TEST_RUN that can be stopped: the runs are made in batches of about
     * {@link TestRun#BATCH_NANOS} (sized from the previous batch's measured time), and cancelled is
     * asked before each. The result is the last batch's output with the mean duration of all runs.
     *
     * @throws java.util.concurrent.CancellationException when cancelled said so before the runs were done
     */
    public TestRun.Result testRun(TestRun.Input in, java.util.function.BooleanSupplier cancelled) {
        long total = Math.max(1, Integer.toUnsignedLong(in.repeat()));
        long done = 0;
        long weighted = 0;
        long batch = Math.min(total, TestRun.FIRST_BATCH);
        TestRun.Result last = null;
        while (done < total) {
            if (cancelled.getAsBoolean()) {
                throw new java.util.concurrent.CancellationException("test run stopped after " + done + " of " + total
                        + " runs: the caller gave up");
            }
            int n = (int) Math.min(batch, total - done);
            last = testRun(in.withRepeat(n));
            weighted += (long) last.durationNs() * n;
            done += n;
            batch = Math.max(1, TestRun.BATCH_NANOS / Math.max(1, Integer.toUnsignedLong(last.durationNs())));
        }
        return new TestRun.Result(last.retval(), last.dataOut(), last.ctxOut(), (int) (weighted / done),
                last.dataSizeOut());
    }

    @Override
    public ObjectKind kind() {
        return ObjectKind.PROGRAM;
    }

    /** BPF_OBJ_PIN at an absolute bpffs path; the parent directory must exist. */
    @Override
    public void pin(String path) {
        Bpf.objPin(fd, path);
    }

    /** BPF_OBJ_GET_INFO_BY_FD, fresh from the kernel. */
    public ProgramInfo info() {
        return ProgramInfo.of(Bpf.progInfo(fd));
    }

    /**
     * The kernel's info as read when this object took the fd (a load's answer needs no second read).
     * Counters in it (run_cnt, run_time_ns) are of that moment; {@link #info()} reads them anew.
     */
    public ProgramInfo initialInfo() {
        return initialInfo;
    }

    /** The kernel's info of any program by id, or empty when the kernel has none with that id. */
    public static java.util.Optional<ProgramInfo> infoById(int id) {
        try (Fd fd = Bpf.getFdById(BpfCmd.BPF_PROG_GET_FD_BY_ID, id)) {
            return java.util.Optional.of(ProgramInfo.of(Bpf.progInfo(fd)));
        } catch (KernelException.NotFound e) {
            return java.util.Optional.empty();
        }
    }

    @Override
    public int id() {
        return id;
    }

    /** The expected_attach_type this object loaded it with; empty when loaded elsewhere or with none. */
    public Optional<AttachType> expectedAttachType() {
        return expectedAttachType;
    }

    public ProgramType type() {
        return type;
    }

    public String name() {
        return name;
    }

    public String tag() {
        return tag;
    }

    /** The fd, for this package's attach and link code; do not close it, close the program. */
    Fd fd() {
        return fd;
    }

    @Override
    public boolean isClosed() {
        return fd.isClosed();
    }

    @Override
    public void close() {
        fd.close();
    }

    @Override
    public String toString() {
        return "Program[id=" + id + ", type=" + type + ", name=" + name + "]";
    }
}
