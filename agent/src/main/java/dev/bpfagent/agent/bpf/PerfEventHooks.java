package dev.bpfagent.agent.bpf;

import dev.bpfagent.agent.bpf.elf.ElfException;
import dev.bpfagent.agent.bpf.elf.ElfSymbols;
import dev.bpfagent.agent.errno.Errno;
import dev.bpfagent.agent.errno.KernelException;
import dev.bpfagent.agent.kernel.Bpf;
import dev.bpfagent.agent.kernel.Fd;
import dev.bpfagent.agent.kernel.LinkCreateAttr;
import dev.bpfagent.agent.kernel.PerfEvent;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * Hooks on a perf event: tracepoints, kprobes, uprobes and perf events (a software clock, ...). A
 * perf link on the event (BPF_LINK_CREATE with BPF_PERF_EVENT, 5.15+), or before perf links the
 * program set on the event by ioctl; what each hook names (the tracepoint in tracefs, the PMU in
 * sysfs, the binary's symbol, the process, the CPU) is checked before anything is opened.
 */
final class PerfEventHooks {
    private PerfEventHooks() {
    }

    /** bpf_attach_type BPF_PERF_EVENT: a link on a perf event (kprobe, uprobe, tracepoint, perf event). */
    static final int BPF_PERF_EVENT = 41;
    static final Path PMU_DEVICES = Path.of("/sys/bus/event_source/devices");

    static Link perfIoctl(Program p, Hook hook, long cookie, String target) {
        if (cookie != 0) {
            throw new InvalidSpecException("mechanism", "only perf links carry a cookie; the perf ioctl does not");
        }
        try {
            return viaIoctl(p, hook, target);
        } catch (KernelException e) {
            throw Link.refused(e, hook);
        }
    }

    /**
     * A perf link on the event (5.15+ for tracepoints/kprobes/uprobes: BPF_LINK_CREATE with BPF_PERF_EVENT),
     * which then holds the event; where the kernel has no perf links (EINVAL), the program is set on the
     * event by ioctl and the event's fd is the attachment. The event fd is closed on any failure.
     */
    static Link onPerfEvent(Program p, Fd event, long cookie, Hook hook, String target) {
        try {
            Fd link;
            try (Fd ev = event) {
                link = Bpf.linkCreate(new LinkCreateAttr(p.fd(), ev, 0, BPF_PERF_EVENT, 0,
                        new LinkCreateAttr.PerfEvent(cookie)));
            } catch (KernelException.InvalidArgument noPerfLinks) {
                if (cookie != 0) {
                    throw noPerfLinks.withContext("this kernel has no perf links (5.15+), and only they carry a"
                            + " cookie");
                }
                return viaIoctl(p, hook, target);
            }
            return Link.adopt(link, p, hook, target);
        } catch (KernelException e) {
            throw Link.refused(e, hook);
        }
    }

    /** The pre-5.15 way; the caller's event fd is already closed, so the event is opened again for it. */
    static Link viaIoctl(Program p, Hook hook, String target) {
        Fd event = openEvent(hook);
        try {
            PerfEvent.setBpf(event, p.fd());
            PerfEvent.enable(event);
            return Link.perfIoctl(event, p.id(), hook, target);
        } catch (RuntimeException e) {
            event.close();
            throw e;
        }
    }

    static Fd openEvent(Hook hook) {
        return switch (hook) {
            case Hook.Tracepoint h -> PerfEvent.open(PerfEvent.PERF_TYPE_TRACEPOINT, tracepointId(h), -1, 0);
            case Hook.Kprobe h -> {
                Pmu pmu = pmu("kprobe", "hook.kprobe.function", "KPROBES_UNAVAILABLE",
                        "this kernel has no kprobes (no kprobe PMU in " + PMU_DEVICES + "; CONFIG_KPROBES is off)");
                yield PerfEvent.openProbe(pmu.type(), h.retprobe() ? pmu.retprobeBit() : 0, h.function(), h.offset(),
                        -1, 0);
            }
            case Hook.Uprobe h -> {
                Pmu pmu = pmu("uprobe", "hook.uprobe.binary", "UPROBES_UNAVAILABLE",
                        "this kernel has no uprobes (no uprobe PMU in " + PMU_DEVICES + ")");
                long offset = uprobeOffset(h);
                yield PerfEvent.openProbe(pmu.type(), h.retprobe() ? pmu.retprobeBit() : 0, h.binary(), offset,
                        h.pid(), h.pid() == -1 ? 0 : -1);
            }
            case Hook.PerfEvent h -> PerfEvent.open(h.type(), h.config(), h.samplePeriod(), h.pid(), h.cpu());
            default -> throw new IllegalStateException(hook + " is not a perf event hook");
        };
    }

    static Link tracepoint(Program p, Hook.Tracepoint h) {
        Link.expect(p, "program", "a tracepoint", ProgramType.TRACEPOINT);
        return onPerfEvent(p, openEvent(h), h.cookie(), h, h.category() + "/" + h.name());
    }

    /** The tracepoint's id from tracefs (events/CATEGORY/NAME/id), or the precise reason there is none. */
    static long tracepointId(Hook.Tracepoint h) {
        Optional<Path> root = Host.tracefs();
        if (root.isEmpty()) {
            throw HookException.unsupported("hook.tracepoint", "TRACEFS_UNAVAILABLE", "tracefs is not mounted at "
                    + Host.TRACEFS + " or /sys/kernel/debug/tracing, and the agent could not mount it");
        }
        Path category = root.get().resolve("events").resolve(h.category());
        if (!Files.isDirectory(category)) {
            throw HookException.notFound("hook.tracepoint.category", "TRACEPOINT_NOT_FOUND", "no tracepoint category '"
                    + h.category() + "' in " + category.getParent() + " (see available_events)");
        }
        Path id = category.resolve(h.name()).resolve("id");
        try {
            return Long.parseLong(Files.readString(id).strip());
        } catch (IOException | NumberFormatException e) {
            throw HookException.notFound("hook.tracepoint.name", "TRACEPOINT_NOT_FOUND", "no tracepoint '" + h.name()
                    + "' in category '" + h.category() + "' (" + id.getParent() + " is missing)");
        }
    }

    /** A PMU's type and retprobe bit (both differ between kernels), from sysfs. */
    record Pmu(int type, long retprobeBit) {
    }

    static Pmu pmu(String name, String field, String reason, String message) {
        Path dir = PMU_DEVICES.resolve(name);
        try {
            int type = Integer.parseInt(Files.readString(dir.resolve("type")).strip());
            long bit = 0;
            Path retprobe = dir.resolve("format/retprobe");
            if (Files.exists(retprobe)) {
                String f = Files.readString(retprobe).strip(); // "config:0"
                bit = 1L << Integer.parseInt(f.substring(f.indexOf(':') + 1).split("-")[0]);
            }
            return new Pmu(type, bit);
        } catch (IOException | RuntimeException e) {
            throw HookException.unsupported(field, reason, message);
        }
    }

    static Link kprobe(Program p, Hook.Kprobe h) {
        Link.expect(p, "program", "a kprobe", ProgramType.KPROBE);
        pmu("kprobe", "hook.kprobe.function", "KPROBES_UNAVAILABLE", "this kernel has no kprobes (no kprobe PMU in "
                + PMU_DEVICES + "; CONFIG_KPROBES is off)");
        try {
            return onPerfEvent(p, openEvent(h), h.cookie(), h, h.function());
        } catch (KernelException e) {
            if (e.errno() == Errno.ENOENT || e.errno() == Errno.EINVAL) {
                throw HookException.notFound("hook.kprobe.function", "FUNCTION_NOT_FOUND", "the kernel has no"
                        + " probeable function '" + h.function() + "' (see /proc/kallsyms; inlined and notrace"
                        + " functions cannot be probed): " + e.getMessage());
            }
            throw e;
        }
    }

    static Link uprobe(Program p, Hook.Uprobe h) {
        Link.expect(p, "program", "a uprobe", ProgramType.KPROBE);
        Path binary = Path.of(h.binary());
        if (!Files.isRegularFile(binary)) {
            throw HookException.notFound("hook.uprobe.binary", "BINARY_NOT_FOUND", "no file " + binary
                    + " on the agent's host");
        }
        if (h.pid() > 0 && !Files.isDirectory(Path.of("/proc/" + h.pid()))) {
            throw HookException.notFound("hook.uprobe.pid", "PROCESS_NOT_FOUND", "no process " + h.pid());
        }
        String at = h.binary() + ":" + (h.symbol().isEmpty() ? "0x" + Long.toHexString(h.offset()) : h.symbol());
        return onPerfEvent(p, openEvent(h), h.cookie(), h, at);
    }

    /** The file offset to probe: the symbol's (plus the hook's offset into it), or the offset as given. */
    static long uprobeOffset(Hook.Uprobe h) {
        if (h.symbol().isEmpty()) {
            return h.offset();
        }
        ElfSymbols symbols;
        try {
            symbols = ElfSymbols.read(Path.of(h.binary()));
        } catch (IOException e) {
            throw HookException.notFound("hook.uprobe.binary", "BINARY_NOT_FOUND", "cannot read " + h.binary() + ": "
                    + e.getMessage());
        } catch (ElfException e) {
            throw new InvalidSpecException("hook.uprobe.binary", e.getMessage());
        }
        ElfSymbols.Symbol s = symbols.find(h.symbol()).orElseThrow(() -> HookException.notFound("hook.uprobe.symbol",
                "SYMBOL_NOT_FOUND", "no function '" + h.symbol() + "' in " + h.binary() + "'s .symtab or .dynsym"
                        + (h.symbol().contains("@") ? " with that version" : "")));
        if (h.offset() != 0 && s.size() > 0 && h.offset() >= s.size()) {
            throw new InvalidSpecException("hook.uprobe.offset", h.offset() + " is past the end of " + h.symbol()
                    + " (" + s.size() + " bytes)");
        }
        return s.fileOffset() + h.offset();
    }

    static Link perfEvent(Program p, Hook.PerfEvent h) {
        Link.expect(p, "program", "a perf event", ProgramType.PERF_EVENT);
        if (h.pid() > 0 && !Files.isDirectory(Path.of("/proc/" + h.pid()))) {
            throw HookException.notFound("hook.perf_event.pid", "PROCESS_NOT_FOUND", "no process " + h.pid());
        }
        if (h.cpu() >= PossibleCpus.count()) {
            throw HookException.notFound("hook.perf_event.cpu", "CPU_NOT_FOUND", "cpu " + h.cpu() + ": this host has "
                    + PossibleCpus.count() + " possible CPUs");
        }
        return onPerfEvent(p, openEvent(h), h.cookie(), h, h.describe());
    }
}
