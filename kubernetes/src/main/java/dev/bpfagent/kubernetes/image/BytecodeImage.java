package dev.bpfagent.kubernetes.image;

import java.util.Map;

/**
 * A bytecode image pulled and verified: the ELF object it carries, the digest of its manifest (what a
 * tag resolved to), and its labels in bpfman's format ({@code io.ebpf.programs}, {@code io.ebpf.maps}:
 * JSON objects of name to type).
 */
public record BytecodeImage(ImageReference reference, String digest, String file, byte[] elf,
                            Map<String, String> programs, Map<String, String> maps) {
}
