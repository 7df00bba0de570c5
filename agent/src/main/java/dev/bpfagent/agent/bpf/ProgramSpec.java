package dev.bpfagent.agent.bpf;

import java.util.Objects;
import java.util.Optional;

/**
 * What to load: a program not yet in the kernel. Values only; {@link Program#load} makes it live.
 *
 * @param instructions struct bpf_insn[], 8 bytes each, host (little-endian) byte order
 * @param license "GPL" unless the program avoids GPL-only helpers
 * @param name at most 15 bytes of [A-Za-z0-9_.], or empty
 * @param logLevel 0 (log only on rejection), 1, 2; bit 4 adds statistics
 * @param logSize initial verifier log buffer size in bytes; grown on demand up to {@link Program#MAX_LOG_SIZE}
 * @param kernVersion 0 for the running kernel's version code
 * @param progFlags BPF_F_* load flags
 * @param expectedAttachType empty for none
 * @param attachBtfId BTF type id of the attach target, 0 for none
 * @param attachBtfObjId kernel BTF object id holding attachBtfId (module BTF), 0 for vmlinux
 * @param attachProgId id of a loaded program to attach to (EXT programs), 0 for none
 * @param progBtf raw BTF describing the program, or empty
 * @param progIfindex device for an offloaded program, 0 for none
 */
public record ProgramSpec(
        ProgramType type,
        byte[] instructions,
        String license,
        String name,
        int logLevel,
        int logSize,
        int kernVersion,
        int progFlags,
        Optional<AttachType> expectedAttachType,
        int attachBtfId,
        int attachBtfObjId,
        int attachProgId,
        byte[] progBtf,
        int progIfindex) {

    public static final int DEFAULT_LOG_SIZE = 64 * 1024;

    public ProgramSpec {
        Objects.requireNonNull(type, "type");
        Objects.requireNonNull(instructions, "instructions");
        license = license == null || license.isEmpty() ? "GPL" : license;
        name = name == null ? "" : name;
        logSize = logSize <= 0 ? DEFAULT_LOG_SIZE : logSize;
        expectedAttachType = expectedAttachType == null ? Optional.empty() : expectedAttachType;
        progBtf = progBtf == null ? new byte[0] : progBtf;
    }

    /** The seed's create-simple-program: a type, bytecode and a name; everything else default. */
    public static ProgramSpec of(ProgramType type, byte[] instructions, String name) {
        return new ProgramSpec(type, instructions, "GPL", name, 0, 0, 0, 0, Optional.empty(), 0, 0, 0, null, 0);
    }

    public int instructionCount() {
        return instructions.length / 8;
    }
}
