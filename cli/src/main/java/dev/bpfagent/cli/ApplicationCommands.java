package dev.bpfagent.cli;

import dev.bpfagent.client.ApplicationFiles;
import dev.bpfagent.client.Applications;
import dev.bpfagent.client.BpfClient;
import dev.bpfagent.proto.v1.ListApplicationsResponse;
import java.util.LinkedHashMap;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

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
import java.util.Iterator;
import java.util.List;
import java.util.Locale;

/**
 * The application commands, with kubectl's habits:
 * <pre>
 *   apply -f FILE [--dry-run]          FILE: YAML or JSON (see ApplicationFiles)
 *   get applications [-l KEY=VALUE]    a table: NAME GEN READY REASON ATTACHED
 *   describe application NAME          conditions, programs, maps, attachments, events
 *   delete application NAME
 *   watch applications [--from RV] [--count N]
 * </pre>
 */
final class ApplicationCommands {
    private ApplicationCommands() {
    }

    /** The one resource these verbs take, as kubectl spells it. */
    static void noun(String verb, String noun) {
        if (!List.of("applications", "application", "app", "apps").contains(noun)) {
            throw new IllegalArgumentException(verb + " takes applications (app, apps), not " + noun);
        }
    }

    @Command(name = "apply", mixinStandardHelpOptions = true, description = "Makes the applications in FILE the"
            + " desired state (YAML or JSON, one or more documents); prints what changed.",
            footer = {"", "Example:", "  bpf-agent-cli apply -f edge.yaml --dry-run"})
    static final class Apply extends AgentCommand {
        @Option(names = {"-f", "--filename"}, required = true, paramLabel = "FILE")
        Path file;

        @Option(names = "--dry-run", description = "Print the plan; change nothing.")
        boolean dryRun;

        @Override
        int run(BpfClient c, Output o) {
            Applications apps = c.applications();
            List<ApplyApplicationRequest> reqs;
            try {
                reqs = ApplicationFiles.read(file, apps::uploadBlob);
            } catch (java.nio.file.NoSuchFileException e) {
                throw new IllegalArgumentException("cannot read " + file + ": no such file");
            } catch (IOException e) {
                throw new IllegalArgumentException("cannot read " + file + ": " + e.getMessage());
            } catch (IllegalStateException e) {
                throw new IllegalArgumentException(e.getMessage()); // YAML without Jackson
            }
            for (ApplyApplicationRequest req : reqs) {
                ApplyApplicationResponse r = apps.apply(dryRun ? req.toBuilder().setDryRun(true).build() : req);
                if (o.structured(r)) {
                    continue;
                }
                Application a = r.getApplication();
                boolean changes = r.getPlanList().stream().anyMatch(x -> x.getAction() != PlanStep.Action.ACTION_KEEP
                        && x.getAction() != PlanStep.Action.ACTION_KEEP_MAP);
                o.out().println("application " + a.getName() + (dryRun ? " (dry run): " + (changes ? "would change"
                        : "unchanged") : changes ? " applied, generation " + a.getGeneration()
                        : " unchanged, generation " + a.getGeneration()));
                for (PlanStep x : r.getPlanList()) {
                    if (dryRun || x.getAction() != PlanStep.Action.ACTION_KEEP
                            && x.getAction() != PlanStep.Action.ACTION_KEEP_MAP) {
                        o.out().println("  " + step(x));
                    }
                }
            }
            return 0;
        }
    }

    @Command(name = "get", mixinStandardHelpOptions = true, description = "Lists applications: NAME GEN READY REASON"
            + " ATTACHED.", footer = {"", "Example:", "  bpf-agent-cli get applications -l team=net -o json"})
    static final class Get extends AgentCommand {
        @Parameters(paramLabel = "applications")
        String noun;

        @Option(names = {"-l", "--selector"}, paramLabel = "KEY=VALUE", description = "Only applications with this label.")
        Map<String, String> labels = new LinkedHashMap<>();

        @Override
        int run(BpfClient c, Output o) {
            noun("get", noun);
            var req = ListApplicationsRequest.newBuilder().setPageSize(1000).putAllLabels(labels);
            var all = ListApplicationsResponse.newBuilder();
            pages(t -> c.applications().list(req.setPageToken(t).build()), ListApplicationsResponse::getNextPageToken,
                    p -> all.addAllApplications(p.getApplicationsList()));
            if (!o.structured(all)) {
                Table t = new Table("NAME", "GEN", "READY", "REASON", "ATTACHED");
                for (Application a : all.getApplicationsList()) {
                    Condition ready = condition(a, "Ready");
                    long attached = a.getStatus().getAttachmentsList().stream()
                            .filter(x -> x.getState() == AttachmentStatus.State.STATE_ATTACHED).count();
                    t.row(a.getName(), a.getGeneration(), ready == null ? "?" : ready.getStatus() ? "True" : "False",
                            degraded(a) ? "Degraded" : ready == null ? "" : ready.getReason(),
                            attached + "/" + a.getStatus().getAttachmentsCount());
                }
                o.print(t);
            }
            return 0;
        }
    }

    @Command(name = "describe", mixinStandardHelpOptions = true, description = "One application: conditions,"
            + " programs, maps, attachments and events.",
            footer = {"", "Example:", "  bpf-agent-cli describe application edge"})
    static final class Describe extends AgentCommand {
        @Parameters(index = "0", paramLabel = "application")
        String noun;

        @Parameters(index = "1", paramLabel = "NAME")
        String name;

        @Override
        int run(BpfClient c, Output o) {
            noun("describe", noun);
            Application a = c.applications().get(name);
            if (!o.structured(a)) {
                describe(a, o.out());
            }
            return 0;
        }
    }

    @Command(name = "delete", mixinStandardHelpOptions = true, description = "Deletes an application and closes"
            + " what it made.", footer = {"", "Example:", "  bpf-agent-cli delete application edge"})
    static final class Delete extends AgentCommand {
        @Parameters(index = "0", paramLabel = "application")
        String noun;

        @Parameters(index = "1", paramLabel = "NAME")
        String name;

        @Override
        int run(BpfClient c, Output o) {
            noun("delete", noun);
            var r = c.applications().delete(name);
            if (!o.structured(r)) {
                o.out().println("application " + name + " deleted (" + r.getClosedCount() + " kernel objects closed)");
            }
            return 0;
        }
    }

    @Command(name = "watch", mixinStandardHelpOptions = true, description = "Follows changes to applications; with"
            + " -o json one JSON document per line.",
            footer = {"", "Example:", "  bpf-agent-cli watch applications --from 0 --count 10"})
    static final class Watch extends AgentCommand {
        @Parameters(paramLabel = "applications")
        String noun;

        @Option(names = "--from", paramLabel = "RESOURCE_VERSION", description = "Changes after this version (0: all).")
        long from;

        @Option(names = "--count", paramLabel = "N", description = "Stop after N events.")
        long count = Long.MAX_VALUE;

        @Override
        int run(BpfClient c, Output o) {
            noun("watch", noun);
            Iterator<WatchApplicationsResponse> it = c.applications().watch(from);
            for (long n = 0; n < count && it.hasNext(); n++) {
                WatchApplicationsResponse r = it.next();
                if (!o.isTable()) {
                    o.line(r);
                    continue;
                }
                String type = r.getType().name().substring("TYPE_".length());
                if (r.getType() == WatchApplicationsResponse.Type.TYPE_SYNCED) {
                    o.out().println(type + "  rv " + r.getResourceVersion());
                    continue;
                }
                Application a = r.getApplication();
                Condition ready = condition(a, "Ready");
                o.out().println(type + "  " + a.getName() + "  gen " + a.getGeneration() + "  rv "
                        + r.getResourceVersion() + "  Ready=" + (ready != null && ready.getStatus())
                        + (degraded(a) ? "  Degraded" : ""));
                o.out().flush();
            }
            return 0;
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
}
