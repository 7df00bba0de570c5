package dev.bpfagent.cli;

import static org.junit.jupiter.api.Assertions.*;

import dev.bpfagent.client.Hooks;
import dev.bpfagent.proto.v1.AttachType;
import dev.bpfagent.proto.v1.Hook;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The CLI's hook words become the same hooks {@link Hooks} builds; bad words are usage errors. */
class HookWordsTest {
    @Test
    void hookWords() {
        assertEquals(Hooks.tracepoint("syscalls", "sys_enter_openat"), HookWords.hook(List.of("tracepoint",
                "syscalls/sys_enter_openat")));
        assertEquals(Hooks.uretprobe("/lib/libc.so.6", "malloc@@GLIBC_2.2.5"), HookWords.hook(List.of("uretprobe",
                "/lib/libc.so.6:malloc@@GLIBC_2.2.5")));
        assertEquals(Hooks.cgroup("/sys/fs/cgroup/x", AttachType.ATTACH_TYPE_CGROUP_INET4_CONNECT),
                HookWords.hook(List.of("cgroup", "/sys/fs/cgroup/x", "cgroup_inet4_connect")));
        assertEquals(Hooks.tcxEgress("eth0"), HookWords.hook(List.of("tcx-egress", "eth0")));
        assertEquals(Hooks.uprobeMulti("/lib/libc.so.6", true, "malloc", "free"), HookWords.hook(List.of("uretprobe_multi",
                "/lib/libc.so.6:malloc,free")));
        assertEquals(Hook.HookCase.TRACING, HookWords.hook(List.of("tracing")).getHookCase());
        for (List<String> bad : List.<List<String>>of(List.of(), List.of("tracepoint", "nocategory"), List.of("uprobe", "nocolon"),
                List.of("cgroup", "/x", "no_such_type"), List.of("warp", "x"), List.of("xdp"))) {
            assertThrows(IllegalArgumentException.class, () -> HookWords.hook(bad), bad.toString());
        }
    }
}
