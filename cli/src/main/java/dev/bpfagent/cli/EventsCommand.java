package dev.bpfagent.cli;

import dev.bpfagent.client.BpfClient;
import dev.bpfagent.client.Event;
import dev.bpfagent.client.EventStream;
import dev.bpfagent.client.SubscribeOptions;
import java.util.HexFormat;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * events MAP_ID: follows a ring buffer or perf event array until --count records, the stream's end, or
 * Ctrl-C. A table line per record (SEQ CPU DATA) or loss; with -o json one line per record
 * ({"seq":N,"cpu":C,"data":"HEX"}, cpu for perf event arrays only) or loss ({"lost":{...}}).
 */
@Command(name = "events", mixinStandardHelpOptions = true, description = "Follows a ring buffer or perf event array.",
        footer = {"", "Example:", "  bpf-agent-cli events 7 --count 100 -o json | jq .data"})
final class EventsCommand extends AgentCommand {
    @Parameters(paramLabel = "MAP_ID", description = "A BPF_MAP_TYPE_RINGBUF or PERF_EVENT_ARRAY map.")
    int mapId;

    @Option(names = "--count", paramLabel = "N", description = "Stop after N records.")
    long count = Long.MAX_VALUE;

    @Override
    int run(BpfClient c, Output o) {
        var out = o.out();
        HexFormat hex = HexFormat.of();
        try (EventStream s = c.subscribe(SubscribeOptions.map(mapId).batchDelayMillis(0))) {
            long records = 0;
            while (records < count && s.hasNext()) {
                Event e = s.next();
                if (e instanceof Event.Data d) {
                    records++;
                    String data = hex.formatHex(d.data());
                    if (o.isTable()) {
                        out.printf("seq %-10d %s%s%n", d.sequence(), d.cpu().isPresent() ? "cpu " + d.cpu().getAsInt()
                                + "  " : "", data);
                    } else {
                        out.println("{\"seq\":" + d.sequence() + (d.cpu().isPresent() ? ",\"cpu\":" + d.cpu().getAsInt()
                                : "") + ",\"data\":\"" + data + "\"}");
                    }
                } else if (e instanceof Event.Loss l) {
                    if (o.isTable()) {
                        out.println("lost " + l.count() + " from seq " + l.firstSequence() + " (dropped by the agent "
                                + l.droppedByAgent() + ", lost in the kernel " + l.lostInKernel() + ")");
                    } else {
                        out.println("{\"lost\":{\"first_sequence\":" + l.firstSequence() + ",\"count\":" + l.count()
                                + ",\"dropped_by_agent\":" + l.droppedByAgent() + ",\"lost_in_kernel\":"
                                + l.lostInKernel() + "}}");
                    }
                }
                out.flush();
            }
        }
        return 0;
    }
}
