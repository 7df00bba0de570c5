package dev.bpfagent.client;

import dev.bpfagent.proto.v1.Application;
import dev.bpfagent.proto.v1.ApplicationEvent;
import dev.bpfagent.proto.v1.ApplyApplicationRequest;
import dev.bpfagent.proto.v1.ApplyApplicationResponse;
import dev.bpfagent.proto.v1.AttachmentStatus;
import dev.bpfagent.proto.v1.Condition;
import dev.bpfagent.proto.v1.ListApplicationsRequest;
import dev.bpfagent.proto.v1.PlanStep;
import dev.bpfagent.proto.v1.WatchApplicationsResponse;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;

/**
 * The CLI's application commands, with kubectl's habits:
 * <pre>
 *   apply -f FILE [--dry-run]          FILE: YAML or JSON (see {@link ApplicationFiles})
 *   get applications [-l KEY=VALUE]    a table: NAME GEN READY REASON ATTACHED
 *   describe application NAME          conditions, programs, maps, attachments, events
 *   delete application NAME
 *   watch applications [--from RV] [--count N]
 * </pre>
 */
final class ApplicationCommands {
    private ApplicationCommands() {
    }

    static final String USAGE = "apply -f FILE [--dry-run] | get applications [-l KEY=VALUE] | describe application NAME"
            + " | delete application NAME | watch applications [--from RESOURCE_VERSION] [--count N]";

    static int run(BpfClient c, List<String> args, PrintStream out) {
        Applications apps = c.applications();
        switch (args.get(0)) {
            case "apply" -> apply(apps, args, out);
            case "get" -> {
                noun(args, "get");
                var req = ListApplicationsRequest.newBuilder().setPageSize(1000);
                for (int i = 2; i < args.size(); i++) {
                    if (!args.get(i).equals("-l") || i + 1 >= args.size() || !args.get(i + 1).contains("=")) {
                        throw new IllegalArgumentException("get applications [-l KEY=VALUE]...");
                    }
                    String[] kv = args.get(++i).split("=", 2);
                    req.putLabels(kv[0], kv[1]);
                }
                table(apps, req.build(), out);
            }
            case "describe" -> {
                noun(args, "describe");
                if (args.size() != 3) {
                    throw new IllegalArgumentException("describe application NAME");
                }
                describe(apps.get(args.get(2)), out);
            }
            case "delete" -> {
                noun(args, "delete");
                if (args.size() != 3) {
                    throw new IllegalArgumentException("delete application NAME");
                }
                var r = apps.delete(args.get(2));
                out.println("application " + args.get(2) + " deleted (" + r.getClosedCount() + " kernel objects closed)");
            }
            case "watch" -> watch(apps, args, out);
            default -> throw new IllegalArgumentException("unknown command " + args.get(0));
        }
        return 0;
    }

    private static void noun(List<String> args, String verb) {
        if (args.size() < 2 || !(args.get(1).equals("applications") || args.get(1).equals("application")
                || args.get(1).equals("app") || args.get(1).equals("apps"))) {
            throw new IllegalArgumentException(verb + " application(s) ...: the only resource is applications");
        }
    }

    private static void apply(Applications apps, List<String> args, PrintStream out) {
        Path file = null;
        boolean dryRun = false;
        for (int i = 1; i < args.size(); i++) {
            switch (args.get(i)) {
                case "-f", "--filename" -> {
                    if (i + 1 >= args.size()) {
                        throw new IllegalArgumentException("-f needs a file");
                    }
                    file = Path.of(args.get(++i));
                }
                case "--dry-run" -> dryRun = true;
                default -> throw new IllegalArgumentException("unknown option " + args.get(i) + " (apply -f FILE"
                        + " [--dry-run])");
            }
        }
        if (file == null) {
            throw new IllegalArgumentException("apply -f FILE [--dry-run]");
        }
        List<ApplyApplicationRequest> reqs;
        try {
            reqs = ApplicationFiles.read(file, apps::uploadBlob);
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read " + file + ": " + e.getMessage());
        } catch (IllegalStateException e) {
            throw new IllegalArgumentException(e.getMessage()); // YAML without Jackson
        }
        for (ApplyApplicationRequest req : reqs) {
            ApplyApplicationResponse r = apps.apply(dryRun ? req.toBuilder().setDryRun(true).build() : req);
            Application a = r.getApplication();
            boolean changes = r.getPlanList().stream().anyMatch(s -> s.getAction() != PlanStep.Action.ACTION_KEEP
                    && s.getAction() != PlanStep.Action.ACTION_KEEP_MAP);
            out.println("application " + a.getName() + (dryRun ? " (dry run): " + (changes ? "would change"
                    : "unchanged") : changes ? " applied, generation " + a.getGeneration()
                    : " unchanged, generation " + a.getGeneration()));
            for (PlanStep s : r.getPlanList()) {
                if (dryRun || s.getAction() != PlanStep.Action.ACTION_KEEP && s.getAction() != PlanStep.Action.ACTION_KEEP_MAP) {
                    out.println("  " + step(s));
                }
            }
        }
    }

    static String step(PlanStep s) {
        String what = s.getKind() + " " + s.getObject() + (s.getName().isEmpty() ? "" : "/" + s.getName())
                + (s.getTarget().isEmpty() ? "" : " on " + s.getTarget());
        return lower(s.getAction().name().substring("ACTION_".length())) + " " + what
                + (s.getReason().isEmpty() ? "" : " (" + s.getReason() + ")");
    }

    private static String lower(String s) {
        return s.toLowerCase(Locale.ROOT).replace('_', ' ');
    }

    private static void table(Applications apps, ListApplicationsRequest req, PrintStream out) {
        List<String[]> rows = new ArrayList<>();
        rows.add(new String[] {"NAME", "GEN", "READY", "REASON", "ATTACHED"});
        String token = "";
        do {
            var r = apps.list(req.toBuilder().setPageToken(token).build());
            for (Application a : r.getApplicationsList()) {
                Condition ready = condition(a, "Ready");
                long attached = a.getStatus().getAttachmentsList().stream()
                        .filter(t -> t.getState() == AttachmentStatus.State.STATE_ATTACHED).count();
                rows.add(new String[] {a.getName(), Long.toString(a.getGeneration()),
                        ready == null ? "?" : ready.getStatus() ? "True" : "False",
                        degraded(a) ? "Degraded" : ready == null ? "" : ready.getReason(),
                        attached + "/" + a.getStatus().getAttachmentsCount()});
            }
            token = r.getNextPageToken();
        } while (!token.isEmpty());
        int[] w = new int[rows.get(0).length];
        for (String[] row : rows) {
            for (int i = 0; i < row.length; i++) {
                w[i] = Math.max(w[i], row[i].length());
            }
        }
        for (String[] row : rows) {
            StringBuilder b = new StringBuilder();
            for (int i = 0; i < row.length; i++) {
                b.append(i == row.length - 1 ? row[i] : String.format("%-" + (w[i] + 3) + "s", row[i]));
            }
            out.println(b.toString().stripTrailing());
        }
    }

    private static boolean degraded(Application a) {
        Condition d = condition(a, "Degraded");
        return d != null && d.getStatus();
    }

    private static Condition condition(Application a, String type) {
        return a.getStatus().getConditionsList().stream().filter(c -> c.getType().equals(type)).findFirst()
                .orElse(null);
    }

    static void describe(Application a, PrintStream out) {
        out.println("Name:              " + a.getName());
        out.println("Generation:        " + a.getGeneration() + " (observed " + a.getStatus().getObservedGeneration() + ")");
        out.println("Resource version:  " + a.getResourceVersion());
        out.println("Labels:            " + a.getSpec().getLabelsMap());
        out.println("Owner:             " + owner(a));
        out.println("Conditions:");
        for (Condition c : a.getStatus().getConditionsList()) {
            out.println("  " + c.getType() + "=" + (c.getStatus() ? "True" : "False") + "  " + c.getReason()
                    + (c.getMessage().isEmpty() ? "" : ": " + c.getMessage())
                    + (c.getLogId().isEmpty() ? "" : "  (verifier log: " + c.getLogId() + ")"));
        }
        out.println("Programs:");
        a.getStatus().getProgramsList().forEach(p -> out.println("  " + p.getObject() + "/" + p.getName() + "  id "
                + p.getProgramId() + "  tag " + p.getTag()));
        out.println("Maps:");
        a.getStatus().getMapsList().forEach(m -> out.println("  " + m.getObject() + "/" + m.getName() + "  id "
                + m.getMapId() + (m.getKept() ? "  kept" : "")));
        out.println("Attachments:");
        for (AttachmentStatus t : a.getStatus().getAttachmentsList()) {
            out.println("  " + t.getObject() + "/" + t.getProgram() + " rule " + t.getRule() + "  "
                    + lower(t.getState().name().substring("STATE_".length())) + (t.getTarget().isEmpty() ? ""
                    : "  " + t.getTarget()) + (t.getLinkId() == 0 ? "" : "  link " + t.getLinkId())
                    + (t.hasError() ? "  error: " + t.getError().getMessage() : ""));
        }
        out.println("Events:");
        for (ApplicationEvent e : a.getStatus().getEventsList()) {
            out.println("  " + Instant.ofEpochMilli(e.getTimeMs()) + "  " + e.getReason() + "  " + e.getMessage());
        }
    }

    private static String owner(Application a) {
        var o = a.getOwner();
        return switch (o.getTransport()) {
            case TRANSPORT_UNIX -> "uid " + Integer.toUnsignedString(o.getUid()) + " (Unix socket)";
            case TRANSPORT_TCP -> (o.getTlsSubject().isEmpty() ? o.getAddress() : o.getTlsSubject()) + " (TCP)";
            default -> "the agent";
        };
    }

    private static void watch(Applications apps, List<String> args, PrintStream out) {
        noun(args, "watch");
        long from = 0;
        long count = Long.MAX_VALUE;
        for (int i = 2; i < args.size(); i++) {
            if (i + 1 >= args.size()) {
                throw new IllegalArgumentException(args.get(i) + " needs a number");
            }
            try {
                switch (args.get(i)) {
                    case "--from" -> from = Long.parseLong(args.get(++i));
                    case "--count" -> count = Long.parseLong(args.get(++i));
                    default -> throw new IllegalArgumentException("watch applications [--from RV] [--count N]");
                }
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(args.get(i - 1) + " takes a number: " + args.get(i));
            }
        }
        Iterator<WatchApplicationsResponse> it = apps.watch(from);
        for (long n = 0; n < count && it.hasNext(); n++) {
            WatchApplicationsResponse r = it.next();
            String type = r.getType().name().substring("TYPE_".length());
            if (r.getType() == WatchApplicationsResponse.Type.TYPE_SYNCED) {
                out.println(type + "  rv " + r.getResourceVersion());
                continue;
            }
            Application a = r.getApplication();
            Condition ready = condition(a, "Ready");
            out.println(type + "  " + a.getName() + "  gen " + a.getGeneration() + "  rv " + r.getResourceVersion()
                    + "  Ready=" + (ready != null && ready.getStatus()) + (degraded(a) ? "  Degraded" : ""));
            out.flush();
        }
    }
}
