using System.CommandLine;
using System.Text.Json.Nodes;
using VmReplay.Recorder;
using VmReplay.Recorder.Events;

namespace VmReplay.Cli.Commands;

/// <summary>
/// <c>vmreplay events</c>: the recorded events themselves, one line each, numbered as replay,
/// diff and the debugger's <c>monitor when</c> number them: what a user reads to see what led up
/// to a divergence or a difference.
/// </summary>
internal static class EventsCommand
{
    public static Command Create()
    {
        var file = new Argument<string>("trace") { Description = "trace file (.vmtrace)" };
        var from = new Option<long>("--from") { Description = "the first event to list (default 0)" };
        var count = new Option<long?>("--count", "-n") { Description = "how many events to list (default: to the end)" };
        var json = new Option<bool>("--json") { Description = "one JSON object per line: index, kind, text, and the instruction count where the trace has one" };
        var command = new Command("events", "list a trace's events (exits, clock readings, input, service points, the end), numbered");
        command.Arguments.Add(file);
        command.Options.Add(from);
        command.Options.Add(count);
        command.Options.Add(json);
        command.SetAction(r => Program.Guarded(() => List(r.GetValue(file)!, r.GetValue(from), r.GetValue(count), r.GetValue(json))));
        return command;
    }

    private static int List(string path, long from, long? count, bool asJson)
    {
        if (from < 0) throw new UserError($"--from {from}: an event index is 0 or more");
        if (count is < 0) throw new UserError($"--count {count}: give 0 or more events");
        using var trace = TraceReader.Open(path);
        using var output = new StreamWriter(Console.OpenStandardOutput()) { AutoFlush = false };
        long index = from, listed = 0;
        // What was listed before a damaged chunk stays on the screen, above the error line.
        try
        {
            foreach (var e in trace.Events(from))
            {
                if (listed == count) break;
                if (asJson)
                {
                    long? instructions = e switch { ExitEvent x => x.Instructions, ScheduledServiceEvent s => s.Instructions, _ => null };
                    output.WriteLine(new JsonObject { ["index"] = index, ["kind"] = e.GetType().Name.Replace("Event", ""), ["text"] = e.Describe(), ["instructions"] = instructions }.ToJsonString());
                }
                else output.WriteLine($"{index}: {e.Describe()}");
                index++;
                listed++;
            }
        }
        finally { output.Flush(); }
        if (!trace.File.IsComplete)
            Console.Error.WriteLine($"vmreplay: {path} is incomplete ({trace.File.IncompleteReason}); listed the events of its complete chunks");
        if (listed == 0 && count != 0) throw new UserError($"{path}: no event {from}: the trace holds {TraceSummary.Of(trace).Events} events");
        return 0;
    }
}
