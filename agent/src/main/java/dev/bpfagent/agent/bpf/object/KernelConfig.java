package dev.bpfagent.agent.bpf.object;

import dev.bpfagent.agent.bpf.InvalidSpecException;
import dev.bpfagent.agent.bpf.KernelVersion;
import dev.bpfagent.agent.bpf.btf.Btf;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.GZIPInputStream;

/**
 * Values for .kconfig externs, as libbpf gives them: CONFIG_* from the running kernel's config
 * (/proc/config.gz, else /boot/config-RELEASE), LINUX_KERNEL_VERSION from the release, and the
 * LINUX_HAS_* facts libbpf provides. Bools and tristates are 1 for y, 2 for m (tristate), 0 for n.
 */
final class KernelConfig {
    private KernelConfig() {
    }

    private static volatile Map<String, String> cached;
    /** Where the config was read from, or "" when the kernel publishes none. */
    private static volatile String source = "";

    static Map<String, String> config() {
        Map<String, String> c = cached;
        if (c != null) {
            return c;
        }
        c = new HashMap<>();
        String text = null;
        try (InputStream in = new GZIPInputStream(Files.newInputStream(Path.of("/proc/config.gz")))) {
            text = new String(in.readAllBytes(), StandardCharsets.UTF_8);
            source = "/proc/config.gz";
        } catch (IOException e) {
            Path boot = Path.of("/boot/config-" + KernelVersion.release());
            try {
                text = Files.readString(boot);
                source = boot.toString();
            } catch (IOException e2) {
                text = "";
            }
        }
        for (String line : text.split("\n")) {
            if (line.startsWith("CONFIG_")) {
                int eq = line.indexOf('=');
                if (eq > 0) {
                    c.put(line.substring(0, eq), line.substring(eq + 1));
                }
            } else if (line.startsWith("# CONFIG_") && line.endsWith(" is not set")) {
                c.put(line.substring(2, line.length() - " is not set".length()), "n");
            }
        }
        cached = c;
        return c;
    }

    /** The .kconfig map's value: every extern at its offset. */
    static byte[] value(Btf btf, List<ObjectSpec.Kconfig> externs, int size) {
        ByteBuffer b = ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
        Map<String, String> config = config();
        for (ObjectSpec.Kconfig k : externs) {
            String v = switch (k.name()) {
                case "LINUX_KERNEL_VERSION" -> Long.toString(versionCode());
                case "LINUX_HAS_BPF_COOKIE", "LINUX_HAS_SYSCALL_WRAPPER" -> "1";
                default -> config.get(k.name());
            };
            if (v == null) {
                if (k.weak() || !k.name().startsWith("CONFIG_") && !k.name().startsWith("LINUX_")) {
                    continue; // __weak: 0 when the kernel does not have it
                }
                throw new InvalidSpecException("kconfig", "extern " + k.name() + " (.kconfig) is not in the running"
                        + " kernel's config" + (source.isEmpty() ? " (it publishes none: no /proc/config.gz, no /boot/config-"
                        + KernelVersion.release() + ")" : " (" + source + ")") + "; declare it __weak to take 0 instead");
            }
            Btf.Type t = btf.resolve(k.btfType());
            if (t.kind() == Btf.KIND_ARRAY) { // char[]: the string without its quotes
                String s = v.startsWith("\"") && v.endsWith("\"") && v.length() >= 2 ? v.substring(1, v.length() - 1) : v;
                byte[] bytes = s.getBytes(StandardCharsets.UTF_8);
                b.put(k.offset(), bytes, 0, Math.min(bytes.length, k.size() - 1));
                continue;
            }
            long n = switch (v) {
                case "y" -> 1;
                case "m" -> 2;
                case "n" -> 0;
                default -> parse(k.name(), v);
            };
            switch (k.size()) {
                case 1 -> b.put(k.offset(), (byte) n);
                case 2 -> b.putShort(k.offset(), (short) n);
                case 4 -> b.putInt(k.offset(), (int) n);
                default -> b.putLong(k.offset(), n);
            }
        }
        return b.array();
    }

    static long parse(String name, String v) {
        try {
            return v.startsWith("0x") || v.startsWith("0X") ? Long.parseUnsignedLong(v.substring(2), 16)
                    : Long.parseLong(v);
        } catch (NumberFormatException e) {
            throw new InvalidSpecException("kconfig", "extern " + name + ": the kernel's value '" + v
                    + "' is not a number");
        }
    }

    static long versionCode() {
        return KernelVersion.code();
    }
}
